"""Image-caption pairs: one record type, streaming readers, and validation with reasons.

Readers never hold the whole set in memory and never drop a record silently: every input record
comes out either as an :class:`ImageCaptionPair` or as a :class:`Rejection` with its reason.

Supported sources (:func:`read_pairs` picks by ``spec``):

- ShareGPT / LLaMA-Factory JSON or JSONL (``images`` + ``messages``; ``<image>`` marker in the
  first user turn; the caption is the first assistant turn) — the layout of the released
  ``image_caption_pairs.json``;
- an image folder with ``metadata.jsonl`` (the ``datasets`` ImageFolder convention:
  ``file_name`` + a caption column);
- a Hugging Face dataset by local path or repo id, read with ``load_dataset(streaming=True)``,
  with ``image_column`` / ``caption_column`` mapping.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.data.image_file import open_image_file
from hub_tools.data.json_stream import (  # noqa: F401  (public here)
    MAX_JSON_ELEMENT_CHARS,
    iter_json_array,
    iter_json_array_records,
    iter_json_records,
)
from hub_tools.errors import BadInput

IMAGE_MARKER = "<image>"
MAX_IMAGE_PIXELS = 64_000_000
"""Decompression-bomb cap: images with more pixels than this are rejected."""
MAX_CAPTION_CHARS = 20_000
CHAT_TOKEN = re.compile(r"<\|[^|<>]{1,40}\|>|<image>")
"""A chat special token written out (``<|im_end|>``, ``<|start_header_id|>``, ``<|image_pad|>``, ...) or
LLaVA's ``<image>`` placeholder: in a caption it would open or close turns of the prompt or training row."""


@dataclass
class ImageCaptionPair:
    """One image-caption pair.

    ``image`` is a path (str, absolute or as given), raw bytes, or a decoded ``PIL.Image``.
    ``caption_prompt`` is the user text of the caption turn (without the image marker), when
    the source had one. ``source`` records provenance (reader, file, index, original id).
    """

    id: str
    caption: str
    image: Any
    caption_prompt: str | None = None
    source: dict = field(default_factory=dict)


@dataclass
class Rejection:
    """An input record that was not accepted, with the reason and where it came from."""

    id: str
    reason: str
    source: dict = field(default_factory=dict)


Record = ImageCaptionPair | Rejection

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'" + r'|"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"""(['"])[A-Za-z_]\w*\1""")


def reason_kind(reason: Any) -> str:
    """A rejection reason without its specifics, for counting: quoted values (paths, text) dropped, quoted
    names (``'images'``) kept, then cut at the first colon. ``image path 'C:\\x.png' is absolute; ...`` ->
    ``image path is absolute; ...`` (a colon inside quotes never cuts)."""
    text = _QUOTED.sub(lambda m: m.group() if _NAME.fullmatch(m.group()) else "", str(reason or "unknown"))
    return re.sub(r"\s+", " ", text.split(":")[0]).strip()[:80] or "unknown"


# ---------------------------------------------------------------------------------------------
# ids, paths, images
# ---------------------------------------------------------------------------------------------
_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


def make_id(*parts: Any) -> str:
    """A stable, filesystem-safe id built from provenance parts (a readable stem + short hash)."""
    raw = "|".join(str(p) for p in parts)
    stem = _SAFE_ID.sub("-", str(parts[-1]) if parts else "pair").strip("-.")[:48] or "pair"
    # surrogatepass: a part that is not valid UTF-8 (a lone surrogate) still gets an id (its record is rejected)
    return f"{stem}-{hashlib.sha1(raw.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def json_kind(value: Any) -> str:
    """``value``'s JSON type in words, for reasons ("a number", "an object", ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def utf8_problem(text: str) -> str | None:
    """``None`` when ``text`` encodes as UTF-8, else where it does not (a lone surrogate such as ``"\\ud800"``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"lone surrogate U+{ord(text[err.start]):04X} at character {err.start}"
    return None


def _has_visible(text: str) -> bool:
    """True when ``text`` holds a character that is not whitespace, a control or a zero-width (format) character."""
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf") for ch in text)


_DRIVE = re.compile(r"^[A-Za-z]:")


def _check_path_text(path: Any) -> str:
    """``path`` as text fit for the file system, or :class:`BadInput`: not text, empty, not UTF-8, NUL, line break.

    Checked before any ``os`` / ``Path`` call sees the path (a NUL byte makes those raise ``ValueError``).
    """
    if path is not None and not isinstance(path, str):
        raise BadInput(f"image path is {json_kind(path)}, not text")
    if not path or not path.strip():
        raise BadInput("image path is empty")
    problem = utf8_problem(path)
    if problem:
        raise BadInput(f"image path is not valid UTF-8 text: {problem} (path {path!r})")
    if "\0" in path:
        raise BadInput(f"image path {path!r} holds a NUL byte")
    if "\n" in path or "\r" in path:
        raise BadInput(f"image path {path!r} holds a line break")
    return path


def resolve_image_path(path: str, image_root: str | os.PathLike) -> Path:
    """The image-path policy: resolve ``path``, read from data, inside ``image_root``, or raise :class:`BadInput`.

    Rejected with the reason: a path that is not text, empty or not UTF-8; one holding a NUL byte or a line
    break; an absolute one (``/x``, ``~x``, ``\\x``, ``C:x``); one that resolves outside ``image_root`` once
    ``..`` and symlinks are followed. Every reader of image paths from data comes here (a path typed on the
    command line is not data). What it cannot see: a hard link inside the root, a file swapped after the check.
    """
    path = _check_path_text(path)
    if os.path.isabs(path) or path.startswith(("~", "\\")) or _DRIVE.match(path):
        raise BadInput(f"image path {path!r} is absolute; paths must be relative to the image folder")
    try:
        root = Path(image_root).resolve()
        full = (root / path).resolve()
    except (OSError, RuntimeError) as err:  # a link swapped or removed while it is resolved (EINVAL), a loop
        raise BadInput(f"image path {path!r} could not be resolved (it changed while being checked?): {err}") from None
    if full != root and root not in full.parents:
        raise BadInput(f"image path {path!r} escapes the image folder {str(root)!r}")
    return full


def resolve_image(value: Any, image_root: str | os.PathLike) -> Any:
    """An image read from data, ready for :func:`load_image`: a path resolved by :func:`resolve_image_path`.

    A path is a string or an ``Image``-feature cell with a ``path`` and no ``bytes``; it comes back as the
    resolved path (a string). A cell's absolute path is accepted only inside ``image_root`` (``datasets``
    writes a local folder's files that way). Embedded images (bytes, a cell with ``bytes``, a PIL image) and
    ``None`` (:func:`load_image` says "no image") come back as they are.
    """
    if value is None or isinstance(value, (bytes, bytearray)) or type(value).__module__.startswith("PIL."):
        return value
    if isinstance(value, dict):
        if value.get("bytes"):
            return value
        if value.get("path") is None:
            raise BadInput("image cell has neither bytes nor a path")
        path = _check_path_text(value["path"])
        if os.path.isabs(path):
            rel = os.path.relpath(os.path.normpath(path), os.path.abspath(image_root))
            if rel == os.pardir or rel.startswith(os.pardir + os.sep):
                raise BadInput(f"image path {path!r} is absolute and outside the image folder")
            path = rel
        return str(resolve_image_path(path, image_root))
    if isinstance(value, str):
        return str(resolve_image_path(value, image_root))
    raise BadInput(f"image is {json_kind(value)}, not a path or an image")


def dataset_image_root(name_or_path: str) -> Path:
    """The folder a Hugging Face dataset's image paths resolve in: a local folder itself, or a Hub dataset's
    folder in the Hub cache (a remote dataset's paths never name a file elsewhere on this machine)."""
    if Path(name_or_path).is_dir():
        return Path(name_or_path)
    from huggingface_hub.constants import HF_HUB_CACHE

    return Path(HF_HUB_CACHE) / ("datasets--" + name_or_path.replace("/", "--"))


def load_image(image: Any, max_pixels: int = MAX_IMAGE_PIXELS):
    """Open and fully decode ``image`` (path, bytes, PIL image or ``{"bytes", "path"}`` with bytes) as RGB.

    A path here is trusted: one read from data comes through :func:`resolve_image` first.

    Non-RGB modes (CMYK, P, LA, RGBA, 16-bit I;16/I, L, 1) are converted, not rejected.
    Raises :class:`BadInput` for missing, zero-byte, truncated, corrupt or oversized images.
    """
    from PIL import Image, ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    # A path-only cell is data: readers resolve it (resolve_image); it is never opened here.
    if isinstance(image, dict):
        if not image.get("bytes") and image.get("path") is not None:
            raise BadInput(f"image cell has no bytes and its path {image['path']!r} was not resolved by a reader")
        image = image.get("bytes")
    if image is None:
        raise BadInput("no image")
    if isinstance(image, Image.Image):
        img = image
    else:
        if isinstance(image, (bytes, bytearray)):
            if len(image) == 0:
                raise BadInput("image is a zero-byte file")
            fp = io.BytesIO(image)
            name = "<bytes>"
        else:
            fp = open_image_file(Path(image))  # the file checked is the file decoded (one descriptor)
            name = str(image)
        with fp:  # closed once decoded: PIL does not close a file object it was given
            try:
                img = Image.open(fp)
            except Exception as err:  # PIL raises several types for unreadable files
                raise BadInput(f"unreadable image {name!r}: {type(err).__name__}: {err}") from None
            _decode(img, max_pixels)
        return to_rgb(img)
    _decode(img, max_pixels)
    return to_rgb(img)


def _decode(img, max_pixels: int) -> None:
    """Check the size of an opened image against ``max_pixels`` and decode it (:class:`BadInput` otherwise)."""
    width, height = img.size
    if width <= 0 or height <= 0:
        raise BadInput(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise BadInput(
            f"image too large: {width}x{height} = {width * height} pixels > cap {max_pixels} (decompression bomb guard)"
        )
    try:
        img.load()
    except Exception as err:
        raise BadInput(f"truncated or corrupt image: {type(err).__name__}: {err}") from None


def to_rgb(img):
    """Convert any PIL mode to RGB (16-bit greyscale scaled down, transparency composited on white)."""
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() or 1.0
        return Image.fromarray((arr / top * 255.0).clip(0, 255).astype("uint8"), mode="L").convert("RGB")
    if img.mode == "F":
        return img.convert("L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def check_chat_tokens(text: str, what: str = "caption") -> None:
    """Raise :class:`BadInput` when ``text`` holds a :data:`CHAT_TOKEN`: it would open or close turns of the
    synthesizer's and checker's prompts and of the training rows built from it."""
    found = CHAT_TOKEN.search(text)
    if found:
        raise BadInput(f"{what} holds the chat special token {found.group()!r} (it would inject a chat turn)")


def check_caption(caption: Any) -> str:
    """Return the caption as given (the release uses it so) or raise :class:`BadInput` (missing, not text, not
    UTF-8, empty, too long, holding a chat special token: :func:`check_chat_tokens`).

    A caption is empty when nothing is left after removing whitespace, control and zero-width characters
    (newlines and tabs inside a caption are ordinary whitespace and stay). Surrounding whitespace is kept: it
    goes into the synthesizer prompt and the caption turn as it is.
    """
    if caption is None:
        raise BadInput("caption is missing")
    if not isinstance(caption, str):
        raise BadInput(f"caption is {json_kind(caption)}, not text")
    problem = utf8_problem(caption)
    if problem:
        raise BadInput(f"caption is not valid UTF-8 text: {problem}")
    check_chat_tokens(caption)
    if not caption.strip():
        raise BadInput("caption is empty")
    if not _has_visible(caption):
        raise BadInput("caption is empty after removing zero-width and control characters")
    if len(caption) > MAX_CAPTION_CHARS:
        raise BadInput(f"caption is too long ({len(caption)} characters > {MAX_CAPTION_CHARS})")
    return caption


def check_text(pair: ImageCaptionPair) -> str:
    """Check the caption (:func:`check_caption`) and the caption prompt; return the caption as given."""
    caption = check_caption(pair.caption)
    if pair.caption_prompt is not None:
        if not isinstance(pair.caption_prompt, str):
            raise BadInput(f"caption prompt is {json_kind(pair.caption_prompt)}, not text")
        problem = utf8_problem(pair.caption_prompt)
        if problem:
            raise BadInput(f"caption prompt is not valid UTF-8 text: {problem}")
        check_chat_tokens(pair.caption_prompt, "caption prompt")
    return caption


def validate(pair: ImageCaptionPair, max_pixels: int = MAX_IMAGE_PIXELS) -> Record:
    """Decode and check ``pair``; return it with ``image`` as an RGB PIL image, or a :class:`Rejection`."""
    try:
        caption = check_text(pair)
        image = load_image(pair.image, max_pixels=max_pixels)
    except BadInput as err:
        return Rejection(pair.id, err.reason, pair.source)
    return ImageCaptionPair(pair.id, caption, image, pair.caption_prompt, pair.source)


# ---------------------------------------------------------------------------------------------
# readers
# ---------------------------------------------------------------------------------------------
def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # TRL/OpenAI-style content parts
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(texts) if texts and all(isinstance(t, str) for t in texts) else None
    return None


def parse_sharegpt_record(record: Any) -> tuple[str, str, str | None]:
    """Return ``(image, caption, caption_prompt)`` of a ShareGPT record or raise :class:`BadInput`."""
    if not isinstance(record, dict):
        raise BadInput(f"record is not a JSON object ({type(record).__name__})")
    images = record.get("images", record.get("image"))
    if isinstance(images, str):
        images = [images]
    if not isinstance(images, list) or not images:
        raise BadInput("record has no 'images'")
    if len(images) != 1:
        raise BadInput(f"record has {len(images)} images; an image-caption pair has exactly one")
    messages = record.get("messages", record.get("conversations"))
    if not isinstance(messages, list) or not messages:
        raise BadInput("record has no 'messages'")
    user = caption = None
    for msg in messages:
        if not isinstance(msg, dict):
            raise BadInput("a message is not a JSON object")
        role = msg.get("role", msg.get("from"))
        content = msg.get("content", msg.get("value"))
        text = _text_of(content)
        if role in ("user", "human") and user is None:
            user = text
        elif role in ("assistant", "gpt") and caption is None:
            if text is None:
                if content is None:
                    raise BadInput("caption is missing (the assistant turn has no content)")
                raise BadInput(f"caption is {json_kind(content)}, not text")
            caption = text
            break
    if user is None:
        raise BadInput("record has no user turn")
    if caption is None:
        raise BadInput("caption is missing (no assistant turn)")
    # the image marker (and the line break after it) removed, the rest as given, as released; a prompt with
    # nothing but whitespace left is no prompt (the caption turn then asks "Describe the image.")
    prompt = user.replace(IMAGE_MARKER + "\n", "").replace(IMAGE_MARKER, "")
    return images[0], caption, prompt if prompt.strip() else None


def read_sharegpt(path: str | os.PathLike, image_root: str | os.PathLike | None = None) -> Iterator[Record]:
    """Stream pairs from a ShareGPT / LLaMA-Factory JSON or JSONL file; images relative to ``image_root``.

    ``image_root`` defaults to the file's folder. Each record becomes a pair (not yet decoded)
    or a :class:`Rejection` with its reason.
    """
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    for index, record, error in iter_json_records(path):
        rid = record.get("id") if isinstance(record, dict) and isinstance(record.get("id"), (str, int)) else index
        pid = make_id(path.name, index, rid)
        source = {"reader": "sharegpt", "path": str(path), "index": index}
        if error:
            yield Rejection(pid, error, source)
            continue
        try:
            if isinstance(rid, str) and utf8_problem(rid):
                raise BadInput(f"id is not valid UTF-8 text: {utf8_problem(rid)} (id {rid!r})")
            image, caption, prompt = parse_sharegpt_record(record)
            image_path = resolve_image_path(image, root)
        except BadInput as err:
            yield Rejection(pid, err.reason, source)
            continue
        yield ImageCaptionPair(pid, caption, str(image_path), prompt, source)


def read_imagefolder(folder: str | os.PathLike, caption_column: str = "caption") -> Iterator[Record]:
    """Stream pairs from an image folder with ``metadata.jsonl`` (``file_name`` + ``caption_column``)."""
    folder = Path(folder)
    meta = folder / "metadata.jsonl"
    if not meta.is_file():
        raise FileNotFoundError(f"{str(folder)!r} has no metadata.jsonl (the datasets ImageFolder convention)")
    for index, record, error in iter_json_records(meta):
        name = record.get("file_name") if isinstance(record, dict) else None
        pid = make_id("imagefolder", index, name or index)
        source = {"reader": "imagefolder", "path": str(meta), "index": index}
        if error:
            yield Rejection(pid, error, source)
            continue
        try:
            if not isinstance(record, dict):
                raise BadInput(f"record is not a JSON object ({type(record).__name__})")
            if not name:
                raise BadInput("record has no 'file_name'")
            if caption_column not in record:
                raise BadInput(f"caption is missing (no {caption_column!r} field)")
            image_path = resolve_image_path(name, folder)
        except BadInput as err:
            yield Rejection(pid, err.reason, source)
            continue
        yield ImageCaptionPair(pid, record[caption_column], str(image_path), record.get("prompt"), source)


def read_hf_dataset(
    name_or_path: str,
    split: str = "train",
    image_column: str = "image",
    caption_column: str = "caption",
    config: str | None = None,
) -> Iterator[Record]:
    """Stream pairs from a Hugging Face dataset (Hub repo id or local folder) with ``load_dataset``.

    Image paths (strings, or ``Image`` cells with a path and no bytes) follow :func:`resolve_image`'s policy
    inside :func:`dataset_image_root`: a local folder, or the Hub dataset's own cache folder.
    """
    from datasets import Image, load_dataset

    from hub_tools.data.layout import missing_columns

    ds = load_dataset(name_or_path, config, split=split, streaming=True)
    if ds.features is not None:
        missing_columns(name_or_path, list(ds.features), image_column, caption_column)
        if isinstance(ds.features[image_column], Image):
            ds = ds.cast_column(image_column, Image(decode=False))
    root = dataset_image_root(name_or_path)
    for index, row in enumerate(ds):
        pid = make_id(name_or_path, split, index, row.get("id", index))
        source = {"reader": "hf_dataset", "path": name_or_path, "split": split, "index": index}
        try:
            image = resolve_image(row.get(image_column), root)
        except BadInput as err:
            yield Rejection(pid, err.reason, source)
            continue
        yield ImageCaptionPair(pid, row.get(caption_column), image, None, source)


TABLE_FORMATS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet"}
"""Hand-made tables of pairs (an ``image`` and a ``caption`` column), read through ``datasets``."""
SUPPORTED = (
    ".json, .jsonl (ShareGPT), .csv, .tsv, .parquet (image,caption), a folder with metadata.jsonl, a Hub dataset"
)


def read_table(
    path: str | os.PathLike,
    image_root: str | os.PathLike | None = None,
    image_column: str = "image",
    caption_column: str = "caption",
) -> Iterator[Record]:
    """Stream pairs from a CSV / TSV / parquet file with ``load_dataset(..., streaming=True)``.

    Image cells are paths relative to ``image_root`` (default: the file's folder; the same path policy as
    every reader, :func:`resolve_image`) or, in parquet, ``{"bytes", "path"}`` images (a path without bytes
    follows that policy too).
    """
    from datasets import Image, load_dataset

    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    kwargs = {"sep": "\t"} if path.suffix == ".tsv" else {}
    from hub_tools.data.layout import missing_columns

    ds = load_dataset(TABLE_FORMATS[path.suffix], data_files=str(path), split="train", streaming=True, **kwargs)
    if ds.features is not None:
        missing_columns(str(path), list(ds.features), image_column, caption_column)
        if isinstance(ds.features[image_column], Image):
            ds = ds.cast_column(image_column, Image(decode=False))
    rows = iter(ds)
    first = next(rows, None)
    if first is not None and ds.features is None:  # a CSV's columns are known once a row is read
        missing_columns(str(path), list(first), image_column, caption_column)
    for index, row in enumerate(itertools.chain([first] if first is not None else [], rows)):
        image = row.get(image_column)
        pid = make_id("table", path.name, index, image if isinstance(image, str) else index)
        source = {"reader": path.suffix.lstrip("."), "path": str(path), "index": index}
        try:
            image = resolve_image(image, root)
        except BadInput as err:
            yield Rejection(pid, err.reason, source)
            continue
        yield ImageCaptionPair(pid, row.get(caption_column), image, None, source)


def read_pairs(
    spec: str | os.PathLike,
    *,
    image_root: str | None = None,
    image_column: str = "image",
    caption_column: str = "caption",
    split: str = "train",
    check_images: bool = True,
    max_pixels: int = MAX_IMAGE_PIXELS,
    limit: int | None = None,
) -> Iterator[Record]:
    """Stream every record of ``spec`` as a validated pair or a rejection.

    ``spec`` is a ``.json``/``.jsonl`` ShareGPT file, a ``.csv``/``.tsv``/``.parquet`` table of
    ``image,caption``, a folder with ``metadata.jsonl``, or a Hugging Face dataset (local folder or repo id). With ``check_images`` (default) every image
    is decoded and converted to RGB here, so downstream stages receive PIL images.
    """
    path = Path(spec)
    if path.suffix in (".json", ".jsonl", *TABLE_FORMATS) and not path.is_file():
        raise FileNotFoundError(f"pairs file not found: {str(path)!r}")
    if path.suffix in (".json", ".jsonl"):
        records = read_sharegpt(path, image_root)
    elif path.suffix in TABLE_FORMATS:
        records = read_table(path, image_root, image_column=image_column, caption_column=caption_column)
    elif path.is_dir() and (path / "metadata.jsonl").is_file():
        records = read_imagefolder(path, caption_column=caption_column)
    elif path.is_file():
        raise ValueError(
            f"unsupported format {path.suffix or '(no extension)'!r} for {str(path)!r}; supported: {SUPPORTED}"
        )
    else:
        from hub_tools.data.layout import pairs_file_in_folder

        inside = pairs_file_in_folder(path)
        if inside is not None:
            raise ValueError(f"{str(path)!r} is a folder; give the pairs file inside it: {str(inside)!r}")
        records = read_hf_dataset(str(spec), split=split, image_column=image_column, caption_column=caption_column)
    for n, record in enumerate(records):
        if limit is not None and n >= limit:
            return
        if isinstance(record, ImageCaptionPair):
            if check_images:
                record = validate(record, max_pixels=max_pixels)
            else:
                try:
                    record.caption = check_text(record)
                except BadInput as err:
                    record = Rejection(record.id, err.reason, record.source)
        yield record
