"""Build a Hub dataset folder from a pipeline run directory (see ``docs/run_dir.md``).

Three configs of parquet shards with embedded image bytes: ``image_caption_pairs`` (every accepted pair's
caption turn), ``synthetic_visual_tasks`` (the kept task turns alone) and ``image_caption_and_synthetic_task``
(default: the composed rows as written, i.e. the single-stage training set). Rows are TRL's conversational
vision format plus ``id``, ``kind`` and ``caption_turn``. The run directory is streamed in three passes and
counts are checked against ``stats.json``: a mismatch fails the build rather than publish a short dataset.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.defaults import CAPTION_PROMPT
from hub_tools.publish.build_output import (  # noqa: F401  (re-exported: build-benchmark and tests use them here)
    BUILD_TMP,
    DATASET_WRITER,
    BuildError,
    OutputRefusedBuild,
    prepare_output,
    replace_outputs,
)
from hub_tools.publish.cards import CAPTION_CONFIG, CONFIGS, DEFAULT_CONFIG, TASK_CONFIG
from hub_tools.publish.dataset_card import write_visual_instructions_card
from hub_tools.publish.parquet import DEFAULT_MAX_SHARD_BYTES, ShardedParquetWriter, dataset_info_yaml, image_cell
from hub_tools.rundir import read_json, shard_files
from hub_tools.rundir.ownership import release
from hub_tools.synthesis.parse import leading_word

KINDS = ("caption+task", "caption_only", "task")
SPLIT_NAME = re.compile(r"\w+(\.\w+)*")


@dataclass
class BuildResult:
    """What a build wrote: the output folder, rows and shard files per config, and the card path."""

    output: Path
    rows: dict[str, int] = field(default_factory=dict)
    shards: dict[str, list[Path]] = field(default_factory=dict)
    card: Path | None = None
    task_types: dict[str, int] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        """What was written, for a person: the folder, then rows and shards per config."""
        lines = [f"dataset folder: {self.output}"]
        for config, n in self.rows.items():
            shards = len(self.shards.get(config, []))
            lines.append(
                f"  {config}: {n} rows in {shards} shard(s)" if n else f"  {config}: no rows (config left out)"
            )
        return lines


def row_features():
    """The ``datasets`` features of every config.

    ``id``; ``kind`` (``caption+task`` / ``caption_only`` / ``task``); ``caption_turn`` (index of the
    caption turn, ``None`` for task rows, so ``hub_tools.training.data.split_two_stage`` can cut a row into
    its two stages); ``images`` (list of Image); ``messages`` (TRL conversational vision format).
    """
    from datasets import Features, Image, List, Value

    return Features(
        {
            "id": Value("string"),
            "kind": Value("string"),
            "caption_turn": Value("int32"),
            "images": List(Image()),
            "messages": List(
                {"role": Value("string"), "content": List({"type": Value("string"), "text": Value("string")})}
            ),
        }
    )


# ---------------------------------------------------------------------------------------------
# reading the run directory
# ---------------------------------------------------------------------------------------------
def iter_jsonl_rows(folder: Path, stage: str) -> Iterator[tuple[str, dict]]:
    """Yield ``(where, row)`` for every line of ``folder/*.jsonl`` (sorted); ``where`` is ``file:line``.

    An unfinished stage (a ``.jsonl.partial`` shard) or a line that is not a JSON object raises
    :class:`BuildError`.
    """
    if not folder.is_dir():
        raise BuildError(f"run directory has no {stage} folder: {str(folder)!r}")
    partial = sorted(folder.glob("*.jsonl.partial"))
    if partial:
        raise BuildError(
            f"the {stage} stage is not finished ({partial[0].name} is still partial); resume the pipeline first"
        )
    shards = [p for p in shard_files(folder) if p.suffix == ".jsonl"]  # numeric (rank, seq) order
    paths = shards + sorted(p for p in folder.glob("*.jsonl") if p not in shards)
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                where = f"{path.name}:{lineno}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise BuildError(f"{stage}/{where} is not valid JSON: {err.msg}") from None
                if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                    raise BuildError(f"{stage}/{where} is not a row with a string 'id'")
                yield where, row


def read_run_json(path: Path) -> dict:
    """Read a JSON object file of the run directory (:func:`hub_tools.rundir.read_json`) or raise :class:`BuildError`."""
    missing = object()
    try:
        value = read_json(path, default=missing)
    except json.JSONDecodeError as err:
        raise BuildError(f"{str(path)!r} is not valid JSON: {err.msg}") from None
    if value is missing:
        raise BuildError(f"run directory has no {path.name}: {str(path)!r}")
    if not isinstance(value, dict):
        raise BuildError(f"{str(path)!r} is not a JSON object")
    return value


def _image_cell(run_dir: Path, rel: Any, where: str) -> tuple[dict, int]:
    from hub_tools.data import BadInput, resolve_image_path

    try:
        path = resolve_image_path(rel, run_dir)
    except BadInput as err:
        raise BuildError(f"{where}: {err.reason}") from None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BuildError(f"{where}: image file not found: {str(path)!r}") from None
    if not data:
        raise BuildError(f"{where}: image is a zero-byte file: {str(path)!r}")
    return image_cell(data, path.name), len(data)


def _normalise_messages(messages: Any, where: str) -> tuple[list[dict], int, int]:
    """Messages in arrow form (``content`` parts with ``type`` + ``text``); returns (messages, images, text bytes)."""
    if not isinstance(messages, list) or not messages:
        raise BuildError(f"{where}: 'messages' is missing or empty")
    out = []
    n_images = 0
    size = 0
    for msg in messages:
        if not isinstance(msg, dict) or msg.get("role") not in ("system", "user", "assistant"):
            raise BuildError(f"{where}: a message has no valid 'role' (system / user / assistant)")
        content = msg.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        if not isinstance(content, list):
            raise BuildError(f"{where}: a {msg['role']} message has no 'content' list")
        parts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "image":
                n_images += 1
                parts.append({"type": "image", "text": None})
            elif kind == "text" and isinstance(part.get("text"), str):
                parts.append({"type": "text", "text": part["text"]})
                size += len(part["text"].encode("utf-8"))
            else:
                raise BuildError(f"{where}: a content part is neither {{'type': 'image'}} nor text")
        out.append({"role": msg["role"], "content": parts})
    return out, n_images, size


def _text_of(msg: dict) -> str:
    return "".join(p["text"] for p in msg["content"] if p["type"] == "text")


def split_caption_turn(messages: list[dict], caption_hash: int, where: str) -> tuple[int, list[dict]]:
    """Find the caption turn of a ``caption+task`` row; return ``(turn index, the task messages alone)``.

    The caption turn is the user message + assistant answer whose text hashes to ``caption_hash``
    (``hash`` of the stripped caption). The image placeholder moves to the first remaining user
    message when the caption turn held it.
    """
    turn = 0
    for i in range(len(messages) - 1):
        user, answer = messages[i], messages[i + 1]
        if user["role"] == "user" and answer["role"] == "assistant" and hash(_text_of(answer).strip()) == caption_hash:
            rest = messages[:i] + messages[i + 2 :]
            if not any(m["role"] == "user" for m in rest):
                raise BuildError(f"{where}: a caption+task row has no task turn besides the caption turn")
            moved = sum(p["type"] == "image" for p in user["content"])
            if moved:
                first = next(j for j, m in enumerate(rest) if m["role"] == "user")
                rest = list(rest)
                rest[first] = {
                    "role": "user",
                    "content": [{"type": "image", "text": None}] * moved + rest[first]["content"],
                }
            return turn, rest
        if user["role"] == "assistant":
            turn += 1
    raise BuildError(f"{where}: a caption+task row has no turn answering with the pair's caption")


# ---------------------------------------------------------------------------------------------
# the build
# ---------------------------------------------------------------------------------------------
def build_visual_instructions(run_dir: str | os.PathLike, output: str | os.PathLike, **options: Any) -> BuildResult:
    """Build the dataset folder from ``run_dir`` (options: :func:`_build_visual_instructions`) while holding
    the run directory's lock (:func:`hub_tools.rundir.lock_run_dir`; :class:`~hub_tools.rundir.RunDirBusy`
    if another process holds it), so no stage writes the rows while they are read."""
    from hub_tools.rundir import lock_run_dir

    with lock_run_dir(run_dir, "adamllm build-dataset", create=False, read_only=True):
        return _build_visual_instructions(run_dir, output, **options)


def _build_visual_instructions(
    run_dir: str | os.PathLike,
    output: str | os.PathLike,
    *,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    license: str = "other",
    language: str | list[str] | None = "en",
    tags: list[str] | None = None,
    pretty_name: str | None = None,
    repo_id: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> BuildResult:
    """Build the three-config dataset folder (parquet shards + README card) from ``run_dir`` into ``output``.

    Raises :class:`BuildError` when the run directory is incomplete or inconsistent (a stage still
    partial, a row pointing at a missing image, counts that disagree with ``stats.json``); nothing
    is left in ``output`` then. ``repo_id`` only changes the ``load_dataset`` example in the card.
    """
    from hub_tools.data import reason_kind
    from hub_tools.defaults import progress_bar

    run_dir = Path(run_dir)
    output = Path(output)
    if not run_dir.is_dir():
        raise BuildError(f"run directory not found: {str(run_dir)!r}")
    if output.resolve() == run_dir.resolve():
        raise BuildError("--output must be a folder of its own, not the run directory")
    stats = read_run_json(run_dir / "stats.json")
    manifest = read_run_json(run_dir / "manifest.json")
    for key in ("pairs_in", "kept", "caption_only", "rejected"):
        if not isinstance(stats.get(key), int):
            raise BuildError(f"stats.json has no integer {key!r}")
    fresh = prepare_output(output, overwrite)
    tmp = output / BUILD_TMP
    shutil.rmtree(tmp, ignore_errors=True)
    features = row_features()
    writers: dict[tuple[str, str], ShardedParquetWriter] = {}

    def writer(config: str, split: str) -> ShardedParquetWriter:
        if (config, split) not in writers:
            writers[config, split] = ShardedParquetWriter(tmp / config, split, features, max_shard_bytes)
        return writers[config, split]

    try:
        # pass 1: first consistent triplet per id
        first_yes: dict[str, int] = {}
        checkers: Counter = Counter()
        for where, row in progress_bar(
            iter_jsonl_rows(run_dir / "filter", "filter"), desc="reading filter rows", unit="row", disable=not progress
        ):
            verdicts = row.get("verdicts")
            if not isinstance(verdicts, list):
                raise BuildError(f"filter/{where}: 'verdicts' is not a list")
            labels = [v.get("label") if isinstance(v, dict) else None for v in verdicts]
            first_yes[row["id"]] = labels.index("Yes") if "Yes" in labels else -1
            checkers[str(row.get("checker"))] += 1

        # pass 2: synthesis rows -> image_caption_pairs + the per-id index
        index: dict[str, tuple[int, str | None]] = {}
        synth_counts: Counter = Counter()
        reasons: Counter = Counter()
        caption_writer = writer(CAPTION_CONFIG, "train")
        for where, row in progress_bar(
            iter_jsonl_rows(run_dir / "synthesis", "synthesis"),
            desc=f"writing {CAPTION_CONFIG}",
            unit="row",
            total=stats["pairs_in"],
            disable=not progress,
        ):
            rid = row["id"]
            if rid in index:
                raise BuildError(f"synthesis/{where}: id {rid!r} appears twice")
            status = row.get("status")
            if status == "rejected":
                synth_counts["rejected"] += 1
                reasons[reason_kind(row.get("reason"))] += 1
                continue
            if status != "synthesized":
                raise BuildError(f"synthesis/{where}: unknown status {status!r}")
            caption = row.get("caption")
            if not isinstance(caption, str) or not caption.strip():
                raise BuildError(f"synthesis/{where}: synthesized row {rid!r} has no caption")
            synth_counts["synthesized"] += 1
            triplets = row.get("triplets") or []
            synth_counts["triplets"] += len(triplets)
            k = first_yes.get(rid, -1)
            word = None
            if 0 <= k < len(triplets) and isinstance(triplets[k], dict):
                word = leading_word(str(triplets[k].get("question", "")))
            index[rid] = (hash(caption.strip()), word)
            cell, nbytes = _image_cell(run_dir, row.get("image"), f"synthesis/{where}")
            prompt = row.get("caption_prompt") or CAPTION_PROMPT
            messages = [
                {"role": "user", "content": [{"type": "image", "text": None}, {"type": "text", "text": prompt}]},
                {"role": "assistant", "content": [{"type": "text", "text": caption}]},
            ]
            out = {"id": rid, "kind": "caption_only", "caption_turn": 0, "images": [cell], "messages": messages}
            caption_writer.add(out, nbytes + len(caption) + len(prompt))
        stray = next((rid for rid in first_yes if rid not in index), None)
        if stray is not None:
            raise BuildError(f"filter rows judge id {stray!r}, which is not a synthesized pair of this run")
        del first_yes

        # pass 3: compose rows -> default config (as composed) + task config (task turns alone)
        task_words: Counter = Counter()
        per_split: dict[str, Counter] = {}
        seen: set[tuple[str, str]] = set()
        task_ids: set[str] = set()
        for where, row in progress_bar(
            iter_jsonl_rows(run_dir / "compose", "compose"),
            desc=f"writing {DEFAULT_CONFIG} + {TASK_CONFIG}",
            unit="row",
            total=stats["kept"] + stats["caption_only"],  # no_task pairs have no compose row
            disable=not progress,
        ):
            split = where.split(".jsonl:")[0]
            rid, kind = row["id"], row.get("kind")
            where = f"compose/{where}"
            if not SPLIT_NAME.fullmatch(split):
                raise BuildError(f"{where}: {split!r} is not a usable split name (letters, digits, _)")
            if rid not in index:
                raise BuildError(f"{where}: id {rid!r} is not a synthesized pair of this run")
            if kind not in KINDS:
                raise BuildError(f"{where}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
            if (split, rid) in seen:
                raise BuildError(f"{where}: id {rid!r} has two rows in split {split!r}")
            seen.add((split, rid))
            images = row.get("images")
            if not isinstance(images, list) or not images:
                raise BuildError(f"{where}: 'images' is missing or empty")
            messages, n_placeholders, text_bytes = _normalise_messages(row.get("messages"), where)
            if n_placeholders != len(images):
                raise BuildError(f"{where}: {n_placeholders} image placeholders for {len(images)} images")
            cells, nbytes = [], text_bytes
            for rel in images:
                cell, size = _image_cell(run_dir, rel, where)
                cells.append(cell)
                nbytes += size
            per_split.setdefault(split, Counter())[kind] += 1
            caption_turn = None
            task = messages
            if kind == "caption+task":
                caption_turn, task = split_caption_turn(messages, index[rid][0], where)
            elif kind == "caption_only":
                caption_turn = 0
            out = {"id": rid, "kind": kind, "caption_turn": caption_turn, "images": cells, "messages": messages}
            writer(DEFAULT_CONFIG, split).add(out, nbytes)
            if kind != "caption_only":
                if rid in task_ids:
                    raise BuildError(f"{where}: id {rid!r} has a second task row")
                task_ids.add(rid)
                task_row = {"id": rid, "kind": "task", "caption_turn": None, "images": cells, "messages": task}
                writer(TASK_CONFIG, "train").add(task_row, nbytes)
                task_words[index[rid][1] or "(unknown)"] += 1
        del seen, task_ids, index

        rows = {config: sum(w.rows for (c, _), w in writers.items() if c == config) for config in CONFIGS}
        _check_counts(stats, synth_counts, rows, per_split)
        shards: dict[str, list[Path]] = {}
        split_files: dict[str, dict[str, str]] = {}
        by_split: dict[str, dict[str, list[Path]]] = {}
        for (config, split), w in sorted(writers.items()):
            if w.rows == 0:  # `datasets` cannot load an empty split: leave it out (the card says so)
                w.abort()
                continue
            paths = w.close()
            shards.setdefault(config, []).extend(paths)
            by_split.setdefault(config, {})[split] = paths
            split_files.setdefault(config, {})[split] = f"{config}/{split}-*.parquet"
        info = dataset_info_yaml(features, {c: by_split[c] for c in CONFIGS if c in by_split})
    except BaseException:
        for w in writers.values():
            w.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        if fresh:
            release(output)
        raise

    # move into place: the earlier build's outputs (those its marker lists) go only now, the new build being whole
    replace_outputs(output, DATASET_WRITER, tmp)
    final_shards = {config: [output / config / p.name for p in shards.get(config, [])] for config in CONFIGS}
    shutil.rmtree(tmp, ignore_errors=True)

    result = BuildResult(output=output, rows=rows, shards=final_shards, task_types=dict(task_words.most_common()))
    result.card = write_visual_instructions_card(
        output,
        split_files=split_files,
        dataset_info=info,
        rows=rows,
        stats=stats,
        manifest=manifest,
        checkers=checkers,
        reasons=reasons,
        task_words=task_words,
        per_split=per_split,
        license=license,
        language=language,
        tags=tags,
        pretty_name=pretty_name,
        repo_id=repo_id,
    )
    return result


def _check_counts(stats: dict, synth: Counter, rows: dict[str, int], per_split: dict[str, Counter]) -> None:
    """Every accepted pair must be in the caption config and in each caption-bearing compose split, every kept task once."""
    problems = []
    accepted = stats["pairs_in"] - stats["rejected"]
    no_task = stats.get("no_task", 0)  # pairs with no complete triplet: in the caption config, in no compose row
    if stats["pairs_in"] != stats["kept"] + stats["caption_only"] + no_task + stats["rejected"]:
        problems.append(
            f"stats.json: pairs_in {stats['pairs_in']} != kept {stats['kept']} + caption_only "
            f"{stats['caption_only']} + no_task {no_task} + rejected {stats['rejected']}"
        )
    if synth["rejected"] != stats["rejected"]:
        problems.append(f"synthesis rows hold {synth['rejected']} rejected pairs, stats.json says {stats['rejected']}")
    if rows[CAPTION_CONFIG] != accepted:
        problems.append(f"{CAPTION_CONFIG}: {rows[CAPTION_CONFIG]} rows, stats.json implies {accepted} accepted pairs")
    if rows[TASK_CONFIG] != stats["kept"]:
        problems.append(f"{TASK_CONFIG}: {rows[TASK_CONFIG]} rows, stats.json says kept = {stats['kept']}")
    if not per_split and stats["kept"] + stats["caption_only"] > 0:
        problems.append("compose/ holds no rows")
    for split, kinds in sorted(per_split.items()):
        with_caption = kinds["caption+task"] + kinds["caption_only"]
        if with_caption and with_caption != accepted - no_task:
            problems.append(
                f"compose split {split!r}: {with_caption} rows with a caption turn, "
                f"{accepted - no_task} accepted pairs with a task triplet"
            )
        if kinds["caption+task"] and kinds["caption_only"] != stats["caption_only"]:
            problems.append(
                f"compose split {split!r}: {kinds['caption_only']} caption_only rows, stats.json says {stats['caption_only']}"
            )
    if problems:
        raise BuildError("the run directory is inconsistent (is a stage unfinished?):\n  " + "\n  ".join(problems))
