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
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IMAGE_MARKER = "<image>"
MAX_IMAGE_PIXELS = 64_000_000
"""Decompression-bomb cap: images with more pixels than this are rejected."""
MAX_CAPTION_CHARS = 20_000


class BadInput(ValueError):
    """A record that cannot be used; ``reason`` says why (it is stored with the rejection)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


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


# ---------------------------------------------------------------------------------------------
# ids, paths, images
# ---------------------------------------------------------------------------------------------
_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


def make_id(*parts: Any) -> str:
    """A stable, filesystem-safe id built from provenance parts (a readable stem + short hash)."""
    raw = "|".join(str(p) for p in parts)
    stem = _SAFE_ID.sub("-", str(parts[-1]) if parts else "pair").strip("-.")[:48] or "pair"
    return f"{stem}-{hashlib.sha1(raw.encode()).hexdigest()[:10]}"


def resolve_image_path(path: str, image_root: str | os.PathLike) -> Path:
    """Resolve ``path`` inside ``image_root``; raise :class:`BadInput` if it escapes the folder."""
    if not isinstance(path, str) or not path.strip():
        raise BadInput("image path is empty")
    if os.path.isabs(path) or path.startswith(("~", "\\")) or re.match(r"^[A-Za-z]:", path):
        raise BadInput(f"image path {path!r} is absolute; paths must be relative to the image folder")
    root = Path(image_root).resolve()
    full = (root / path).resolve()
    if full != root and root not in full.parents:
        raise BadInput(f"image path {path!r} escapes the image folder {str(root)!r}")
    return full


def load_image(image: Any, max_pixels: int = MAX_IMAGE_PIXELS):
    """Open and fully decode ``image`` (path, bytes, PIL image or ``{"bytes", "path"}``) as RGB.

    Non-RGB modes (CMYK, P, LA, RGBA, 16-bit I;16/I, L, 1) are converted, not rejected.
    Raises :class:`BadInput` for missing, zero-byte, truncated, corrupt or oversized images.
    """
    from PIL import Image, ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    if isinstance(image, dict):
        image = image.get("bytes") or image.get("path")
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
            path = Path(image)
            if not path.is_file():
                raise BadInput(f"image file not found: {str(path)!r}")
            if path.stat().st_size == 0:
                raise BadInput(f"image is a zero-byte file: {str(path)!r}")
            fp = path
            name = str(path)
        try:
            img = Image.open(fp)
        except Exception as err:  # PIL raises several types for unreadable files
            raise BadInput(f"unreadable image {name!r}: {type(err).__name__}: {err}") from None
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
    return to_rgb(img)


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


def check_caption(caption: Any) -> str:
    """Return the stripped caption or raise :class:`BadInput` (missing, not text, empty, too long)."""
    if caption is None:
        raise BadInput("caption is missing")
    if not isinstance(caption, str):
        raise BadInput(f"caption is not text ({type(caption).__name__})")
    caption = caption.strip()
    if not caption:
        raise BadInput("caption is empty")
    if len(caption) > MAX_CAPTION_CHARS:
        raise BadInput(f"caption is too long ({len(caption)} characters > {MAX_CAPTION_CHARS})")
    return caption


def validate(pair: ImageCaptionPair, max_pixels: int = MAX_IMAGE_PIXELS) -> Record:
    """Decode and check ``pair``; return it with ``image`` as an RGB PIL image, or a :class:`Rejection`."""
    try:
        caption = check_caption(pair.caption)
        image = load_image(pair.image, max_pixels=max_pixels)
    except BadInput as err:
        return Rejection(pair.id, err.reason, pair.source)
    return ImageCaptionPair(pair.id, caption, image, pair.caption_prompt, pair.source)


# ---------------------------------------------------------------------------------------------
# streaming JSON
# ---------------------------------------------------------------------------------------------
def iter_json_array(path: str | os.PathLike, chunk_size: int = 1 << 16) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, element)`` from a top-level JSON array without loading the file.

    An element that is not valid JSON raises :class:`BadInput` for the whole file position
    (the array cannot be resynchronised reliably), naming the element index.
    """
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8") as fh:
        buf = fh.read(chunk_size)
        pos = _skip_ws(buf, 0)
        if pos >= len(buf) or buf[pos] != "[":
            raise BadInput(f"{os.fspath(path)!r} is not a JSON array (expected '[' at the start)")
        pos += 1
        index = 0
        eof = False
        while True:
            pos = _skip_ws(buf, pos)
            while pos >= len(buf) and not eof:
                more = fh.read(chunk_size)
                eof = not more
                buf, pos = buf[pos:] + more, 0
                pos = _skip_ws(buf, pos)
            if pos >= len(buf):
                raise BadInput(f"{os.fspath(path)!r}: JSON array is not closed (truncated file?)")
            if buf[pos] == "]":
                return
            if buf[pos] == ",":
                pos += 1
                continue
            while True:
                try:
                    value, end = decoder.raw_decode(buf, pos)
                    # a number or literal cut at the chunk edge decodes "successfully" but short
                    if end == len(buf) and not eof:
                        raise ValueError("need more")
                    break
                except ValueError as err:
                    more = fh.read(chunk_size) if not eof else ""
                    if not more:
                        eof = True
                        if isinstance(err, json.JSONDecodeError):
                            raise BadInput(
                                f"{os.fspath(path)!r}: element {index} is not valid JSON: {err.msg}"
                            ) from None
                        value, end = decoder.raw_decode(buf, pos)
                        break
                    buf, pos = buf[pos:] + more, 0
            yield index, value
            index += 1
            buf, pos = buf[end:], 0


def _skip_ws(buf: str, pos: int) -> int:
    while pos < len(buf) and buf[pos] in " \t\r\n":
        pos += 1
    return pos


def iter_json_records(path: str | os.PathLike) -> Iterator[tuple[int, Any, str | None]]:
    """Yield ``(index, record, error)`` from a .json array or a .jsonl file; bad JSONL lines give an error."""
    path = Path(path)
    if path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            for index, line in enumerate(fh):
                if not line.strip():
                    continue
                try:
                    yield index, json.loads(line), None
                except json.JSONDecodeError as err:
                    yield index, None, f"line {index + 1} is not valid JSON: {err.msg}"
    else:
        for index, value in iter_json_array(path):
            yield index, value, None


# ---------------------------------------------------------------------------------------------
# readers
# ---------------------------------------------------------------------------------------------
def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # TRL/OpenAI-style content parts
        texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "".join(texts) if texts else None
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
        text = _text_of(msg.get("content", msg.get("value")))
        if role in ("user", "human") and user is None:
            user = text
        elif role in ("assistant", "gpt") and caption is None:
            caption = text
            break
    if user is None:
        raise BadInput("record has no user turn")
    if caption is None:
        raise BadInput("caption is missing (no assistant turn)")
    prompt = user.replace(IMAGE_MARKER, "").strip() or None
    return images[0], caption, prompt


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
            yield Rejection(pid, f"malformed JSON: {error}", source)
            continue
        try:
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
            yield Rejection(pid, f"malformed JSON: {error}", source)
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
    """Stream pairs from a Hugging Face dataset (Hub repo id or local folder) with ``load_dataset``."""
    from datasets import Image, load_dataset

    ds = load_dataset(name_or_path, config, split=split, streaming=True)
    if ds.features is not None:
        for col in (image_column, caption_column):
            if col not in ds.features:
                raise ValueError(
                    f"dataset {name_or_path!r} has no column {col!r}; columns: {sorted(ds.features)}. "
                    "Use --image-column / --caption-column."
                )
        if isinstance(ds.features[image_column], Image):
            ds = ds.cast_column(image_column, Image(decode=False))
    for index, row in enumerate(ds):
        pid = make_id(name_or_path, split, index, row.get("id", index))
        source = {"reader": "hf_dataset", "path": name_or_path, "split": split, "index": index}
        yield ImageCaptionPair(pid, row.get(caption_column), row.get(image_column), None, source)


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

    ``spec`` is a ``.json``/``.jsonl`` ShareGPT file, a folder with ``metadata.jsonl``, or a
    Hugging Face dataset (local folder or repo id). With ``check_images`` (default) every image
    is decoded and converted to RGB here, so downstream stages receive PIL images.
    """
    path = Path(spec)
    if path.suffix in (".json", ".jsonl"):
        if not path.is_file():
            raise FileNotFoundError(f"pairs file not found: {str(path)!r}")
        records = read_sharegpt(path, image_root)
    elif path.is_dir() and (path / "metadata.jsonl").is_file():
        records = read_imagefolder(path, caption_column=caption_column)
    else:
        records = read_hf_dataset(str(spec), split=split, image_column=image_column, caption_column=caption_column)
    for n, record in enumerate(records):
        if limit is not None and n >= limit:
            return
        if isinstance(record, ImageCaptionPair):
            if check_images:
                record = validate(record, max_pixels=max_pixels)
            else:
                try:
                    record.caption = check_caption(record.caption)
                except BadInput as err:
                    record = Rejection(record.id, err.reason, record.source)
        yield record
