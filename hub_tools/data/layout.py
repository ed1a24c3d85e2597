"""What a pairs source was expected to look like, and what it looks like instead.

Used when nothing of an input is accepted (a JSONL of flat image/caption rows given where ShareGPT records are
read, a table with other column names) and for a folder that holds a pairs file rather than being one: the
message names the expected layout, the closest match found, and the flags or file that fix it.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from hub_tools.data.json_stream import iter_json_records

SHAREGPT_EXAMPLE = (
    '{"images": ["a.png"], "messages": [{"role": "user", "content": "<image>"}, '
    '{"role": "assistant", "content": "CAPTION"}]}'
)
"""One ShareGPT / LLaMA-Factory record, as the .json / .jsonl reader expects it."""
IMAGE_KEYS = (
    "image",
    "images",
    "image_path",
    "img",
    "picture",
    "photo",
    "file_name",
    "filename",
    "path",
    "file",
    "url",
)
CAPTION_KEYS = ("caption", "captions", "text", "description", "alt_text", "alt", "label", "title", "sentence")
LAYOUT_REASONS = ("record has no", "record is not a JSON object", "caption is missing", "a message is not")
"""Rejection reasons that say the record's shape is wrong (not its image or its text)."""
PEEK = 100
"""Records a preflight reads to decide that a source's layout is wrong."""


def first_record(path: str | os.PathLike) -> Any:
    """The first record of a .json / .jsonl file that parses, or ``None``."""
    for _, record, error in iter_json_records(path):
        if error is None:
            return record
    return None


def _pick(keys: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): k for k in keys}
    return next((lowered[n] for n in names if n in lowered), None)


def describe_json_records(path: str | os.PathLike) -> str | None:
    """What the records of a .json / .jsonl file look like when they are not ShareGPT records, or ``None``."""
    record = first_record(path)
    if not isinstance(record, dict) or "messages" in record or "conversations" in record:
        return None
    keys = [str(k) for k in record]
    image, caption = _pick(keys, IMAGE_KEYS), _pick(keys, CAPTION_KEYS)
    shown = ", ".join(repr(k) for k in keys[:8]) or "none"
    if image and caption:
        return (
            f"these records look like image/caption rows (keys {shown}): write them as a .csv, .tsv or .parquet "
            f"table and read it with --image-column {image} --caption-column {caption}, or as metadata.jsonl "
            "(file_name + caption) in the image folder"
        )
    return f"these records have the keys {shown}"


def missing_columns(source: str, columns: list[str], image_column: str, caption_column: str) -> None:
    """Raise ``ValueError`` naming the missing column, the columns there are, and the flags that would read them."""
    missing = [col for col in (image_column, caption_column) if col not in columns]
    if not missing:
        return
    image = image_column if image_column in columns else _pick(columns, IMAGE_KEYS)
    caption = caption_column if caption_column in columns else _pick(columns, CAPTION_KEYS)
    shown = ", ".join(repr(c) for c in sorted(columns)[:12])
    fix = (
        f"read it with --image-column {image} --caption-column {caption}"
        if image and caption
        else "name the image and caption columns with --image-column / --caption-column"
    )
    raise ValueError(f"{source!r} has no column {missing[0]!r}; its columns are {shown}: {fix}")


def nothing_accepted(spec: str, reasons: Counter, image_column: str = "image", caption_column: str = "caption") -> str:
    """The one-line error for an input of which no record was accepted; ``reasons`` counts the rejections' kinds."""
    path = Path(spec)
    top = ", ".join(f"{reason} ({n})" for reason, n in reasons.most_common(2)) or "no records"
    head = f"no pair accepted from {spec!r} (rejected: {top})"
    if path.suffix in (".json", ".jsonl") and path.is_file():
        found = describe_json_records(path)
        expected = f"a {path.suffix} file is read as ShareGPT records, one per pair: {SHAREGPT_EXAMPLE}"
        return f"{head}; {expected}" + (f"; {found}" if found else "")
    columns = f"--image-column {image_column} --caption-column {caption_column}"
    return f"{head}; check that the image and caption columns are the ones read ({columns})"


def layout_is_wrong(reasons: Counter) -> bool:
    """Whether every rejection counted in ``reasons`` is about the record's shape (:data:`LAYOUT_REASONS`)."""
    return bool(reasons) and all(reason.startswith(LAYOUT_REASONS) for reason in reasons)


def pairs_file_in_folder(folder: str | os.PathLike) -> Path | None:
    """A ShareGPT pairs file directly inside ``folder`` (``image_caption_pairs.json`` first), when the folder is
    no image folder (no metadata.jsonl) and no dataset; ``None`` otherwise."""
    folder = Path(folder)
    if not folder.is_dir() or (folder / "metadata.jsonl").is_file():
        return None
    preferred = folder / "image_caption_pairs.json"
    candidates = [preferred] if preferred.is_file() else sorted(folder.glob("*.json")) + sorted(folder.glob("*.jsonl"))
    for candidate in candidates:
        record = first_record(candidate) if candidate.is_file() else None
        if isinstance(record, dict) and ("messages" in record or "conversations" in record):
            return candidate
    return None


def all_rejected(pairs: str, n: int) -> str:
    """The error of a run whose every input record was rejected (or that had none)."""
    if not n:
        return f"no pair accepted from {pairs!r}: it holds no records"
    return (
        f"no pair accepted from {pairs!r}: all {n} records were rejected (`adamllm validate-pairs {pairs}` lists why)"
    )
