"""The row schema of each stage (``docs/run_dir.md``): one check, used by ``adamllm doctor`` and every stage reader."""

from __future__ import annotations

from typing import Any

VERDICT_LABELS = ("Yes", "No", "Open", "Other")
"""Checker verdicts; only ``Yes`` keeps a task (``Other``: the checker's output was none of the three)."""

STATUSES = ("synthesized", "rejected")
_TRIPLET_KEYS = ("question", "informative", "precise")
_OPTIONAL_TEXT = ("reason", "caption_prompt", "image", "generation")


class DamagedRow(ValueError):
    """A shard line that is JSON but not a row of its stage; the message names the file, the line and the repair."""


def _triplets_problem(triplets: Any) -> str | None:
    if not isinstance(triplets, list):
        return f"'triplets' is {type(triplets).__name__}, not a list"
    for k, t in enumerate(triplets):
        if not isinstance(t, dict):
            return f"triplet {k} is not an object"
        for key in _TRIPLET_KEYS:
            if not isinstance(t.get(key), str):
                return f"triplet {k} has no text {key!r}"
    return None


def _synthesis_problem(row: dict) -> str | None:
    status = row.get("status")
    if status not in STATUSES:
        return "no 'status'" if status is None else f"'status' is {status!r}, not one of {list(STATUSES)}"
    for key in _OPTIONAL_TEXT:
        if row.get(key) is not None and not isinstance(row[key], str):
            return f"{key!r} is {type(row[key]).__name__}, not text"
    image = row.get("image")
    if image is not None and (not image.startswith("images/") or ".." in image.split("/") or "\0" in image):
        return f"'image' is {image!r}, not a file under images/"
    if status == "synthesized":
        if not isinstance(row.get("caption"), str):
            return "a synthesized row without a text 'caption'"
        if "triplets" not in row:
            return "a synthesized row without 'triplets'"
    if row.get("triplets") is not None:
        return _triplets_problem(row["triplets"])
    return None


def _filter_problem(row: dict) -> str | None:
    if not isinstance(row.get("checker"), str):
        return "no text 'checker'"
    if row.get("decision") is not None and not isinstance(row["decision"], str):
        return "'decision' is not text"
    verdicts = row.get("verdicts")
    if not isinstance(verdicts, list):
        return "no 'verdicts' list"
    for k, v in enumerate(verdicts):
        if not isinstance(v, dict) or v.get("label") not in VERDICT_LABELS:
            return f"verdict {k} has no 'label' among {list(VERDICT_LABELS)}"
    return None


_STAGE_CHECKS = {"synthesis": _synthesis_problem, "filter": _filter_problem}


def row_problem(stage: str, row: Any) -> str | None:
    """Why ``row`` is not a row of ``stage`` (``"synthesis"`` / ``"filter"``; any other folder: only the id), or None.

    Every row is an object with a non-empty text ``id``; synthesis rows have ``status`` (``synthesized`` /
    ``rejected``), a text ``caption`` when synthesized, an ``image`` (if any) under ``images/``, and
    ``triplets`` whose items hold text ``question``,
    ``informative`` and ``precise``; filter rows have a text ``checker`` and ``verdicts`` whose items have a
    ``label`` in :data:`VERDICT_LABELS`.
    """
    if not isinstance(row, dict):
        return f"a JSON {type(row).__name__}, not a row object"
    pid = row.get("id")
    if not isinstance(pid, str) or not pid:
        return "no 'id'" if pid is None else f"'id' is {pid!r}, not a non-empty text"
    check = _STAGE_CHECKS.get(stage)
    return check(row) if check is not None else None
