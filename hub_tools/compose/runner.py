"""Composition: from judged task triplets to training conversations (TRL conversational vision format).

The task turn follows the published answer-cue rules:

1. the last sentence of the informative answer holds an answer cue (``so``, ``thus``,
   ``therefore``, ``final``, ``answer``, ``result``, ``could be``) -> the informative answer alone;
2. else the precise answer holds a cue -> informative and precise answers concatenated;
3. else a chain-of-thought template: the informative answer as reasoning, the precise answer as the
   final answer.

The user turn of branches 1-2 comes from :data:`hub_tools.compose.templates.QA_TEMPLATES`, branch 3 from
:data:`hub_tools.compose.templates.COT_TEMPLATES`. Every random choice for an example uses its own
``random.Random(f"{seed}-{id}")``, so the output does not depend on order, batching or restarts.

Modes: ``single-stage`` (default; one conversation per image: the caption turn and the kept task
turn, caption first or last by a seeded draw, images without a kept task keep the caption turn
alone), ``two-stage`` (caption set and task set as separate splits), and ``synthetic_only`` (no
caption turns). The image is placed once, in the first user turn.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hub_tools.rundir import iter_records, read_json, update_stats, write_json_atomic
from hub_tools.compose.templates import COT_TEMPLATES, QA_TEMPLATES

DEFAULT_CAPTION_PROMPT = "Describe the image."
CUE_PATTERN = re.compile(r"\b(?:so|thus|therefore|final(?:ly)?|answers?|results?|could\s+be)\b", re.IGNORECASE)
"""Answer cues, matched as whole words (so "also" or "resultant" do not count)."""
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HINTS = re.compile(r"^\s*answer with an? (?:precise|informative) response\.?\s*", re.IGNORECASE)

MODES = ("single-stage", "two-stage")


def last_sentence(text: str) -> str:
    """The last non-empty sentence of ``text`` (split after ``.``, ``!`` or ``?`` + whitespace)."""
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip()) if p.strip()]
    return parts[-1] if parts else ""


def has_cue(text: str) -> bool:
    """Whether ``text`` holds an answer cue word (see :data:`CUE_PATTERN`)."""
    return bool(CUE_PATTERN.search(text))


def clean_question(question: str) -> str:
    """Strip a leading synthesizer hint ("Answer with a precise response.") from a question."""
    return _HINTS.sub("", question).strip()


@dataclass
class TaskTurn:
    """A composed task turn: the user text, the assistant text and which rule produced it."""

    user: str
    assistant: str
    branch: str  # "informative" | "concat" | "cot"
    template: int  # index in QA_TEMPLATES (branches 1-2) or COT_TEMPLATES (branch 3)


def compose_task(question: str, informative: str, precise: str, rng: random.Random) -> TaskTurn:
    """Compose one task turn from a triplet with the answer-cue rules; ``rng`` picks the template."""
    question, informative, precise = clean_question(question), informative.strip(), precise.strip()
    if has_cue(last_sentence(informative)):
        i = rng.randrange(len(QA_TEMPLATES))
        return TaskTurn(QA_TEMPLATES[i].format(question=question), informative, "informative", i)
    if has_cue(precise):
        i = rng.randrange(len(QA_TEMPLATES))
        return TaskTurn(QA_TEMPLATES[i].format(question=question), f"{informative} {precise}", "concat", i)
    i = rng.randrange(len(COT_TEMPLATES))
    user, assistant = COT_TEMPLATES[i]
    return TaskTurn(user.format(question=question), assistant.format(reasoning=informative, answer=precise), "cot", i)


def example_rng(seed: int, example_id: str) -> random.Random:
    """The per-example random generator: ``random.Random(f"{seed}-{example_id}")``."""
    return random.Random(f"{seed}-{example_id}")


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
    """The row's image path relative to RUN_DIR (``images/<id>.png``)."""
    return synth_row.get("image") or f"images/{synth_row['id']}.png"


def caption_turns(synth_row: dict) -> list[dict]:
    """The caption turn of a pair: its own prompt (or "Describe the image.") and its caption."""
    return _turns(synth_row.get("caption_prompt") or DEFAULT_CAPTION_PROMPT, synth_row["caption"])


# ---------------------------------------------------------------------------------------------
# outcomes: which pairs are kept, caption-only or rejected
# ---------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What one input pair becomes: ``kept`` (with its triplet), ``caption_only`` or ``rejected``."""

    row: dict
    status: str
    triplet: dict | None = None


def collect_outcomes(run_dir: str | os.PathLike) -> tuple[list[Outcome], dict]:
    """Join synthesis and filter rows into one :class:`Outcome` per input pair, plus the stats.

    A pair is ``kept`` when its first triplet (the one the released protocol keeps) was judged
    ``Yes``; a synthesized pair without triplets or with another verdict is ``caption_only``.
    Raises ``ValueError`` naming the ids that synthesis produced but the filter has not judged.
    """
    run_dir = Path(run_dir)
    verdicts: dict[str, list[dict]] = {}
    for row in iter_records(run_dir / "filter"):
        verdicts[row["id"]] = row.get("verdicts") or []
    outcomes, seen, missing = [], set(), []
    counts = Counter()
    for row in iter_records(run_dir / "synthesis"):
        if row["id"] in seen:
            raise ValueError(f"synthesis has the pair id {row['id']!r} more than once")
        seen.add(row["id"])
        if row.get("status") == "rejected":
            outcomes.append(Outcome(row, "rejected"))
            continue
        counts["synthesized"] += 1
        triplets = row.get("triplets") or []
        counts["triplets"] += len(triplets)
        if not triplets:
            outcomes.append(Outcome(row, "caption_only"))
            continue
        if row["id"] not in verdicts:
            missing.append(row["id"])
            continue
        judged = verdicts[row["id"]]
        for v in judged:
            counts[f"verdict:{v['label']}"] += 1
        kept = bool(judged) and judged[0]["label"] == "Yes"
        outcomes.append(Outcome(row, "kept" if kept else "caption_only", triplets[0] if kept else None))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5])
        raise ValueError(
            f"{len(missing)} synthesized pair(s) have no consistency verdict yet (e.g. {shown}); "
            f"run `adamllm filter {run_dir}` first"
        )
    status = Counter(o.status for o in outcomes)
    stats = {
        "pairs_in": len(outcomes),
        "synthesized": counts["synthesized"],
        "triplets": counts["triplets"],
        "verdicts": {label: counts[f"verdict:{label}"] for label in ("Yes", "No", "Open")},
        "kept": status["kept"],
        "caption_only": status["caption_only"],
        "rejected": status["rejected"],
    }
    return outcomes, stats


def write_stats(run_dir: str | os.PathLike, stats: dict) -> dict:
    """Merge ``stats`` into ``RUN_DIR/stats.json`` after checking in == kept + caption_only + rejected."""
    total = stats["kept"] + stats["caption_only"] + stats["rejected"]
    if stats["pairs_in"] != total:
        raise AssertionError(f"stats do not add up: pairs_in={stats['pairs_in']} != {total}")
    return update_stats(run_dir, stats)


def update_manifest(run_dir: str | os.PathLike, stage: str, config: dict) -> None:
    """Record ``config`` under ``manifest.json[stage]`` (other stages' entries are kept)."""
    path = Path(run_dir) / "manifest.json"
    manifest = read_json(path, default={}) or {}
    manifest[stage] = config
    write_json_atomic(path, manifest)


# ---------------------------------------------------------------------------------------------
# composition of a whole run
# ---------------------------------------------------------------------------------------------
def compose_rows(
    outcomes: list[Outcome], mode: str = "single-stage", synthetic_only: bool = False, seed: int = 0
) -> dict[str, list[dict]]:
    """Compose training rows per split from outcomes.

    Returns ``{"train": rows}`` for single-stage (or synthetic-only) and ``{"caption": rows,
    "task": rows}`` for two-stage. Rejected pairs produce no row; every kept triplet appears in
    exactly one row (in each of its splits).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {MODES}")
    splits: dict[str, list[dict]] = {"caption": [], "task": []} if mode == "two-stage" else {"train": []}
    for out in outcomes:
        if out.status == "rejected":
            continue
        row, pid = out.row, out.row["id"]
        images = [image_path(row)]
        rng = example_rng(seed, pid)
        caption_first = rng.random() < 0.5
        task = None
        if out.triplet is not None:
            t = out.triplet
            turn = compose_task(t["question"], t["informative"], t["precise"], rng)
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
    """Write rows as JSONL atomically (``.partial`` then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------
# LLaMA-Factory export
# ---------------------------------------------------------------------------------------------
LLAMAFACTORY_IMAGE = "<image>"


def to_sharegpt(row: dict, image_prefix: str = "") -> dict:
    """One compose row as LLaMA-Factory ShareGPT: string contents, ``<image>`` in the first user turn."""
    messages = []
    for msg in row["messages"]:
        text = "".join(
            LLAMAFACTORY_IMAGE if part["type"] == "image" else part.get("text", "") for part in msg["content"]
        )
        messages.append({"role": msg["role"], "content": text})
    return {"messages": messages, "images": [image_prefix + p for p in row["images"]]}


def llamafactory_dataset_info(splits: list[str], prefix: str = "adamllm") -> dict:
    """``dataset_info.json`` entries for the exported splits (``formatting: sharegpt`` + OpenAI-style tags)."""
    return {
        f"{prefix}_{split}": {
            "file_name": f"{split}.json",
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
        }
        for split in splits
    }


def export_llamafactory(run_dir: str | os.PathLike, splits: dict[str, list[dict]]) -> Path:
    """Write ``RUN_DIR/compose/llamafactory/{<split>.json, dataset_info.json}``.

    Image paths are written relative to that folder (``../../images/<id>.png``), which is where
    LLaMA-Factory looks by default (``media_dir`` defaults to ``dataset_dir``): train with
    ``dataset_dir: RUN_DIR/compose/llamafactory`` and ``dataset: adamllm_<split>``.
    """
    out = Path(run_dir) / "compose" / "llamafactory"
    out.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        data = [to_sharegpt(r, image_prefix="../../") for r in rows]
        write_json_atomic(out / f"{split}.json", data)
    write_json_atomic(out / "dataset_info.json", llamafactory_dataset_info(list(splits)))
    return out


def compose_run(
    run_dir: str | os.PathLike,
    mode: str = "single-stage",
    synthetic_only: bool = False,
    seed: int = 0,
    export: str | None = None,
) -> dict:
    """Compose a run directory: write ``compose/<split>.jsonl``, update stats and manifest.

    Returns ``{"splits": {name: n_rows}, "stats": stats, "files": [paths]}``.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "synthesis").is_dir():
        raise FileNotFoundError(f"{str(run_dir)!r} has no synthesis/ folder; run `adamllm synthesize` first")
    outcomes, stats = collect_outcomes(run_dir)
    splits = compose_rows(outcomes, mode=mode, synthetic_only=synthetic_only, seed=seed)
    files = [str(write_split(run_dir / "compose" / f"{name}.jsonl", rows)) for name, rows in splits.items()]
    if export == "llamafactory":
        files.append(str(export_llamafactory(run_dir, splits)))
    elif export is not None:
        raise ValueError(f"unknown export format {export!r}; supported: llamafactory")
    update_manifest(
        run_dir, "compose", {"mode": mode, "synthetic_only": synthetic_only, "seed": seed, "export": export}
    )
    stats = write_stats(run_dir, stats)
    return {"splits": {k: len(v) for k, v in splits.items()}, "stats": stats, "files": files}
