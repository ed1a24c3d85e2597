"""The streaming readers of pairs: ShareGPT JSON/JSONL, imagefolders, tables (CSV/TSV/parquet), Hugging Face
datasets, and :func:`read_pairs`, which picks one by the source."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub_tools.data.images import MAX_IMAGE_PIXELS, dataset_image_root, resolve_image, resolve_image_path, validate
from hub_tools.data.json_stream import iter_json_records
from hub_tools.data.pairs import (
    IMAGE_MARKER,
    ImageCaptionPair,
    Record,
    Rejection,
    check_text,
    json_kind,
    make_id,
    utf8_problem,
)
from hub_tools.errors import BadInput


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
