"""Composition stage: judged triplets -> ``RUN_DIR/compose/<split>.jsonl`` (TRL conversational vision format).

Modes: ``single-stage`` (default; one conversation per image: the caption turn and the kept task
turn, caption first or last by a seeded draw; an image whose task was judged No/Open/Other keeps the
caption turn alone; an image with no complete triplet is dropped, as released), ``two-stage`` (caption set and task set as separate splits), and ``synthetic_only`` (no
caption turns). The image is placed once, in the first user turn. The task turn follows
:mod:`hub_tools.compose.rules`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from hub_tools.compose.export import export_llamafactory
from hub_tools.compose.rules import compose_task, example_rng
from hub_tools.defaults import CAPTION_PROMPT
from hub_tools.rundir import Outcome, collect_outcomes, lock_run_dir, update_manifest, write_bytes_atomic, write_stats

MODES = ("single-stage", "two-stage")


@dataclass
class ComposeOptions:
    """The settings of the compose stage (``adamllm compose`` / ``pipeline`` flags of the same names)."""

    mode: str = "single-stage"
    synthetic_only: bool = False
    seed: int = 0
    export: str | None = None
    cue_rule: str = "released"
    keep_captions_without_task: bool = False


def _turns(user: str, assistant: str) -> list[dict]:
    return [
        {"role": "user", "content": [{"type": "text", "text": user}]},
        {"role": "assistant", "content": [{"type": "text", "text": assistant}]},
    ]


def _with_image(messages: list[dict]) -> list[dict]:
    """Put ``{"type": "image"}`` in front of the first user turn's content (exactly once)."""
    first = messages[0]
    first["content"] = [{"type": "image"}, *first["content"]]
    return messages


def image_path(synth_row: dict) -> str:
    """The row's image path relative to RUN_DIR (``images/<id>.<ext>``; ``.png`` for rows without one)."""
    return synth_row.get("image") or f"images/{synth_row['id']}.png"


def caption_turns(synth_row: dict) -> list[dict]:
    """The caption turn of a pair: its own prompt (or "Describe the image.") and its caption."""
    return _turns(synth_row.get("caption_prompt") or CAPTION_PROMPT, synth_row["caption"])


def compose_rows(
    outcomes: list[Outcome],
    mode: str = "single-stage",
    synthetic_only: bool = False,
    seed: int = 0,
    cue_rule: str = "released",
) -> dict[str, list[dict]]:
    """Compose training rows per split from outcomes.

    Returns ``{"train": rows}`` for single-stage (or synthetic-only) and ``{"caption": rows,
    "task": rows}`` for two-stage. Rejected and ``no_task`` pairs produce no row; every kept triplet
    appears in exactly one row (in each of its splits).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    splits: dict[str, list[dict]] = {"caption": [], "task": []} if mode == "two-stage" else {"train": []}
    for out in outcomes:
        if out.status in ("rejected", "no_task"):
            continue
        row, pid = out.row, out.row["id"]
        images = [image_path(row)]
        rng = example_rng(seed, pid)
        caption_first = rng.random() < 0.5
        task = None
        if out.triplet is not None:
            t = out.triplet
            turn = compose_task(t["question"], t["informative"], t["precise"], rng, cue_rule=cue_rule)
            task = _turns(turn.user, turn.assistant)
        if mode == "two-stage":
            if not synthetic_only:
                splits["caption"].append(_row(pid, "caption_only", images, caption_turns(row), 0))
            if task:
                splits["task"].append(_row(pid, "task", images, task, None))
            continue
        if synthetic_only:
            if task:
                splits["train"].append(_row(pid, "task", images, task, None))
            continue
        if task is None:
            splits["train"].append(_row(pid, "caption_only", images, caption_turns(row), 0))
        else:
            cap = caption_turns(row)
            messages = cap + task if caption_first else task + cap
            splits["train"].append(_row(pid, "caption+task", images, messages, 0 if caption_first else 1))
    if synthetic_only and mode == "two-stage":
        del splits["caption"]
    return splits


def _row(pid: str, kind: str, images: list[str], messages: list[dict], caption_turn: int | None) -> dict:
    """One training row; ``caption_turn`` is the index of the caption's user/assistant turn (None: no caption)."""
    return {"id": pid, "kind": kind, "caption_turn": caption_turn, "images": images, "messages": _with_image(messages)}


def write_split(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Write rows as JSONL atomically (temp file, fsync, rename; :class:`~hub_tools.rundir.DiskFull` if the disk fills)."""
    path = Path(path)
    write_bytes_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8"))
    return path


def compose_run(
    run_dir: str | os.PathLike,
    mode: str = "single-stage",
    synthetic_only: bool = False,
    seed: int = 0,
    export: str | None = None,
    cue_rule: str = "released",
    keep_captions_without_task: bool = False,
) -> dict:
    """Compose a run directory: write ``compose/<split>.jsonl``, update stats and manifest.

    Returns ``{"splits": {name: n_rows}, "stats": stats, "files": [paths]}``. Holds
    :func:`~hub_tools.rundir.lock_run_dir` throughout (:class:`~hub_tools.rundir.RunDirBusy` if another process has it).
    """
    from hub_tools.rundir.ownership import check_stage_run_dir

    check_stage_run_dir(run_dir, "adamllm compose")  # a link, or a folder that is not a run dir: refused, untouched
    with lock_run_dir(run_dir, "adamllm compose", create=False):
        return _compose_run(Path(run_dir), mode, synthetic_only, seed, export, cue_rule, keep_captions_without_task)


def _replace_previous_output(compose_dir: Path, splits: set[str]) -> None:
    """A new compose replaces the last one: remove splits it will not write and the old LLaMA-Factory export.

    Replacing (or removing) an earlier compose happens only inside a run directory's own ``compose/`` (its ``manifest.json`` is the ownership marker:
    :func:`hub_tools.rundir.ownership.run_dir_owner`); a symbolic link there is refused, never followed."""
    import shutil

    from hub_tools.rundir.ownership import RUN_MARKER, OutputRefused, not_ours, run_dir_owner

    if not compose_dir.is_dir() or compose_dir.is_symlink():
        return
    there = sorted(compose_dir.iterdir())
    if not there:
        return
    stale = [p for p in there if ".jsonl" in p.name and p.name.split(".jsonl")[0] not in splits]
    export = compose_dir / "llamafactory"
    run_dir = compose_dir.parent
    if run_dir_owner(run_dir) is None:
        raise not_ours(run_dir, sorted(p.name for p in run_dir.iterdir()), "adamllm compose", RUN_MARKER)
    for path in [*stale, export]:
        if path.is_symlink():
            raise OutputRefused(f"{path} is a symbolic link; `adamllm compose` never removes through one")
    for path in stale:
        path.unlink()
    shutil.rmtree(export, ignore_errors=True)


def _compose_run(
    run_dir: Path,
    mode: str,
    synthetic_only: bool,
    seed: int,
    export: str | None,
    cue_rule: str,
    keep_captions_without_task: bool,
) -> dict:
    if not (run_dir / "synthesis").is_dir():
        raise FileNotFoundError(f"{str(run_dir)!r} has no synthesis/ folder; run `adamllm synthesize` first")
    outcomes, stats = collect_outcomes(run_dir, keep_captions_without_task=keep_captions_without_task)
    if export not in (None, "llamafactory"):
        raise ValueError(f"unknown export format {export!r}; supported: llamafactory")
    splits = compose_rows(outcomes, mode=mode, synthetic_only=synthetic_only, seed=seed, cue_rule=cue_rule)
    _replace_previous_output(run_dir / "compose", set(splits))
    files = [str(write_split(run_dir / "compose" / f"{name}.jsonl", rows)) for name, rows in splits.items()]
    if export == "llamafactory":
        files.append(str(export_llamafactory(run_dir, splits)))
    elif export is not None:
        raise ValueError(f"unknown export format {export!r}; supported: llamafactory")
    update_manifest(
        run_dir,
        "compose",
        {
            "mode": mode,
            "synthetic_only": synthetic_only,
            "seed": seed,
            "export": export,
            "cue_rule": cue_rule,
            "keep_captions_without_task": keep_captions_without_task,
        },
    )
    stats = write_stats(run_dir, stats)
    return {"splits": {k: len(v) for k, v in splits.items()}, "stats": stats, "files": files}
