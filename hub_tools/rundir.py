"""The run directory and its accounting, used by every stage (layout and row formats: ``docs/run_dir.md``).

What a reader must know: shards are append-only and durable per record (:class:`ShardWriter`), a
``.partial`` shard is read up to its last complete line, and ``manifest.json`` / ``stats.json`` are
only ever rewritten atomically. :class:`FaultPoints` is a test-only seam (``ADAMLLM_SYNTH_FAULT``).
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SHARD = re.compile(r"^shard-(\d+)-(\d+)\.jsonl(\.partial)?$")


def fsync_dir(path: str | os.PathLike) -> None:
    """fsync a directory so a rename or new file in it survives a crash (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file + fsync + rename: readers see the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """Load JSON from ``path``, or ``default`` when the file does not exist."""
    path = Path(path)
    if not path.is_file():
        return default
    return json.loads(path.read_text(encoding="utf-8"))


def shard_files(stage_dir: str | os.PathLike) -> list[Path]:
    """All ``shard-<rank>-<seq>.jsonl[.partial]`` files of a stage folder, sorted by (rank, seq)."""
    stage_dir = Path(stage_dir)
    if not stage_dir.is_dir():
        return []
    found = []
    for p in stage_dir.iterdir():
        m = _SHARD.match(p.name)
        if m:
            found.append(((int(m.group(1)), int(m.group(2)), p.name), p))
    return [p for _, p in sorted(found)]


def _complete_length(path: Path) -> int:
    """Byte length of ``path`` up to and including its last newline."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with open(path, "rb") as fh:
        pos = size
        block = 1 << 16
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                return start + nl + 1
            pos = start
    return 0


def iter_records(stage_dir: str | os.PathLike) -> Iterator[dict]:
    """Yield every record of every shard of a stage, finished shards and ``.partial`` ones alike.

    A ``.partial`` file is read up to its last complete line; a bad line there (a torn write) is
    discarded. A bad line in a finished ``.jsonl`` shard raises ``ValueError`` naming file and line.
    """
    for path in shard_files(stage_dir):
        partial = path.name.endswith(".partial")
        limit = _complete_length(path) if partial else None
        with open(path, "rb") as fh:
            data = fh.read(limit) if limit is not None else fh.read()
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as err:
                if partial:
                    continue  # a torn record: it is not done and will be redone
                raise ValueError(f"{path}: line {n} is not valid JSON ({err.msg}); the shard is corrupt") from None


def done_ids(stage_dir: str | os.PathLike) -> set[str]:
    """Ids of all records already written in a stage folder."""
    return {rec["id"] for rec in iter_records(stage_dir) if isinstance(rec, dict) and "id" in rec}


def recover_partials(stage_dir: str | os.PathLike, rank: int = 0, world_size: int = 1) -> list[Path]:
    """Finish ``.partial`` shards left by dead writers: truncate any torn tail, fsync, rename to ``.jsonl``.

    Only shards this process may own are touched: its own rank's, and (rank 0 only) those of
    ranks >= ``world_size`` left by an earlier run with more processes. Returns the new paths.
    """
    out = []
    for path in shard_files(stage_dir):
        m = _SHARD.match(path.name)
        shard_rank = int(m.group(1))
        if not m.group(3) or not (shard_rank == rank or (rank == 0 and shard_rank >= world_size)):
            continue
        keep = _complete_length(path)
        with open(path, "r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
        final = path.with_name(path.name[: -len(".partial")])
        os.replace(path, final)
        out.append(final)
    if out:
        fsync_dir(stage_dir)
    return out


class ShardWriter:
    """Append-only JSONL shard ``shard-<rank>-<seq>.jsonl.partial`` (next free ``seq``), durable per record.

    Use as a context manager; :meth:`close` renames the shard to ``.jsonl`` (an empty shard is
    removed instead). Records are dicts; each is one line, written whole, flushed and fsync'd.
    """

    def __init__(self, stage_dir: str | os.PathLike, rank: int = 0):
        self.stage_dir = Path(stage_dir)
        self.stage_dir.mkdir(parents=True, exist_ok=True)
        seqs = [
            int(m.group(2))
            for m in (_SHARD.match(p.name) for p in shard_files(self.stage_dir))
            if int(m.group(1)) == rank
        ]
        self.seq = max(seqs, default=-1) + 1
        self.path = self.stage_dir / f"shard-{rank}-{self.seq}.jsonl.partial"
        self._fh = open(self.path, "xb")  # noqa: SIM115 - closed in close()
        fsync_dir(self.stage_dir)
        self.count = 0

    def write(self, record: dict) -> None:
        """Append ``record`` as one JSON line, then flush and fsync."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        self._fh.write(line)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.count += 1

    def close(self) -> Path | None:
        """Finish the shard: rename ``.partial`` -> ``.jsonl`` (or delete it when empty). Returns the final path."""
        if self._fh.closed:
            return None
        self._fh.close()
        if self.count == 0:
            self.path.unlink(missing_ok=True)
            return None
        final = self.path.with_name(self.path.name[: -len(".partial")])
        os.replace(self.path, final)
        fsync_dir(self.stage_dir)
        return final

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def update_stats(run_dir: str | os.PathLike, updates: dict) -> dict:
    """Merge ``updates`` into ``RUN_DIR/stats.json`` (top-level keys replaced) and rewrite it atomically."""
    path = Path(run_dir) / "stats.json"
    stats = read_json(path, default={}) or {}
    stats.update(updates)
    write_json_atomic(path, stats)
    return stats


def update_manifest(run_dir: str | os.PathLike, stage: str, config: dict) -> None:
    """Record ``config`` under ``manifest.json[stage]`` (other stages' entries are kept)."""
    path = Path(run_dir) / "manifest.json"
    manifest = read_json(path, default={}) or {}
    manifest[stage] = config
    write_json_atomic(path, manifest)


# ---------------------------------------------------------------------------------------------
# accounting: which pairs are kept, caption-only or rejected
# ---------------------------------------------------------------------------------------------
VERDICT_LABELS = ("Yes", "No", "Open", "Other")
"""Checker verdicts; only ``Yes`` keeps a task (``Other``: the checker's output was none of the three)."""


@dataclass
class Outcome:
    """What one input pair becomes: ``kept`` (with its triplet), ``caption_only``, ``no_task`` or ``rejected``."""

    row: dict
    status: str
    triplet: dict | None = None


def collect_outcomes(
    run_dir: str | os.PathLike, keep_captions_without_task: bool = False
) -> tuple[list[Outcome], dict]:
    """Join synthesis and filter rows into one :class:`Outcome` per input pair, plus the stats.

    A pair is ``kept`` when its first triplet (the one the released protocol keeps) was judged
    ``Yes``; another verdict makes it ``caption_only``; a synthesized pair without a complete triplet is
    ``no_task`` (dropped from the training data, as released) or, with ``keep_captions_without_task``,
    ``caption_only``. Raises ``ValueError`` naming the ids that synthesis produced but the filter has not judged.
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
            outcomes.append(Outcome(row, "caption_only" if keep_captions_without_task else "no_task"))
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
        "verdicts": {label: counts[f"verdict:{label}"] for label in VERDICT_LABELS},
        "kept": status["kept"],
        "caption_only": status["caption_only"],
        "no_task": status["no_task"],
        "rejected": status["rejected"],
    }
    return outcomes, stats


def write_stats(run_dir: str | os.PathLike, stats: dict) -> dict:
    """Merge ``stats`` into ``RUN_DIR/stats.json`` after checking in == kept + caption_only + no_task + rejected."""
    total = stats["kept"] + stats["caption_only"] + stats.get("no_task", 0) + stats["rejected"]
    if stats["pairs_in"] != total:
        raise AssertionError(f"stats do not add up: pairs_in={stats['pairs_in']} != {total}")
    return update_stats(run_dir, stats)


# ---------------------------------------------------------------------------------------------
# test-only fault injection
# ---------------------------------------------------------------------------------------------
FAULT_ENV = "ADAMLLM_SYNTH_FAULT"
"""``<point>:<N>`` (``after-record``, ``torn-record``, ``after-image``): SIGKILL at that point of the N-th pair."""


class FaultPoints:
    """Test seam: kill the process at a chosen point of a run, as a crash would. Inert unless the env var is set.

    Build one per run with :meth:`from_env` (the variable is read once); the runner calls it at each
    named point with a running count.
    """

    def __init__(self, spec: str | None = None):
        self.plan: tuple[str, int] | None = None
        if spec:
            point, _, n = spec.partition(":")
            self.plan = (point, int(n or 1))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaultPoints:
        """The plan in ``$ADAMLLM_SYNTH_FAULT`` (none when unset); raises ``ValueError`` for a bad count."""
        return cls((os.environ if environ is None else environ).get(FAULT_ENV))

    def __call__(self, point: str, count: int, torn: tuple[ShardWriter, dict] | None = None) -> None:
        """SIGKILL this process if ``(point, count)`` is the plan; ``torn=(writer, row)`` first writes half the row."""
        if self.plan is None or (point, count) != self.plan:
            return
        if torn is not None:
            writer, row = torn
            line = json.dumps(row).encode()
            writer._fh.write(line[: len(line) // 2])
            writer._fh.flush()
            os.fsync(writer._fh.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
