"""What every raw-release reader shares: the split, the prompt templates (our own wording), the row and task
types, and the path and value helpers (:mod:`hub_tools.evaluation.raw_readers`)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.publish.dataset import BuildError

SPLIT = "test"

# prompt templates (the ``input`` column); our own wording
MEDICAL_PROMPT = "{question}\nAnswer the question based on the image."
PMC_PROMPT = "{question}\nOptions:\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nReply with the letter of the correct option."
FOOD101_PROMPT = (
    "Which dish is shown in this image? Choose one of the following categories and reply with its name only: "
    "{classes}."
)
FOODSEG103_PROMPT = "Name every food ingredient you can see in this image. Reply with a comma-separated list."
NUTRITION5K_PROMPT = "This is an overhead photo of a plated dish. List the ingredients in it, separated by commas."
RECIPE1M_PROMPT = (
    "Write a recipe for the dish in this image: its title, the list of ingredients, and the cooking "
    "instructions step by step."
)


@dataclass
class BenchRow:
    """One benchmark row before writing: the image file (or bytes + name) and the text columns."""

    id: str
    image: Path | tuple[bytes, str]
    columns: dict[str, Any]


@dataclass
class TaskSource:
    """A task to build: its config name, kind, rows, and what the card says about it."""

    name: str
    kind: str  # "medical" | "letters" | "label" | "multilabel"
    rows: Iterator[BenchRow]
    source: str
    prompt: str
    label: str
    vocabulary: list[str] | None = None
    skipped: Counter = field(default_factory=Counter)


def _find(root: Path, names: list[str], what: str) -> Path:
    """The first of ``names`` (relative paths) under ``root``, or the file itself when ``root`` is one."""
    if root.is_file():
        return root
    for name in names:
        path = root / name
        if path.exists():
            return path
    for name in names:  # one level down (archives often unpack into a folder of their own)
        hits = sorted(root.glob(f"*/{name}"))
        if hits:
            return hits[0]
    raise BuildError(f"{what}: none of {names} found under {str(root)!r}")


def _json_list(path: Path) -> list:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BuildError(f"{str(path)!r} is not valid JSON: {err.msg}") from None
    if not isinstance(data, list):
        raise BuildError(f"{str(path)!r}: expected a JSON list of records")
    return data


def _text(value: Any, where: str, field_name: str) -> str:
    if isinstance(value, bool) or value is None:
        raise BuildError(f"{where}: {field_name!r} is missing")
    text = str(value).strip()
    if not text:
        raise BuildError(f"{where}: {field_name!r} is empty")
    return text


def _answer_type(value: Any, where: str) -> str:
    kind = str(value or "").strip().upper()
    if kind not in ("OPEN", "CLOSED"):
        raise BuildError(f"{where}: answer_type {value!r} is neither OPEN nor CLOSED")
    return kind


def _safe_join(root: Path, rel: str, where: str) -> Path:
    from hub_tools.data import BadInput, resolve_image_path

    try:
        return resolve_image_path(rel, root)
    except BadInput as err:
        raise BuildError(f"{where}: {err.reason}") from None


def _in_first_dir(dirs: list[Path], rel: str, where: str) -> Path:
    """``rel`` inside the first of ``dirs`` that holds it (else inside ``dirs[0]``), never escaping it."""
    for d in dirs:
        path = _safe_join(d, rel, where)
        if path.is_file():
            return path
    return _safe_join(dirs[0], rel, where)
