"""Synthesis runner: pairs -> ``RUN_DIR/synthesis`` shards, resumable and sharded across processes.

Run as ``adamllm synthesize ...`` or ``python -m hub_tools.synthesize ...``; scale out with
``accelerate launch [--num_processes N] -m hub_tools.synthesize ...``.

- **Exactly once.** Every input record (pair or reader rejection) becomes one row in
  ``synthesis/shard-<rank>-<seq>.jsonl`` (``docs/run_dir.md``). Rows are written whole, flushed and
  fsync'd; on restart, ``.partial`` shards are recovered (torn tail dropped), the written ids are
  skipped and the rest is done. ``images/<id>.png`` is written atomically before its row.
- **Same config or refuse.** ``manifest.json["synthesize"]`` keeps the settings that change what
  is generated (pairs, synthesizer, prompt format, max new tokens, seed, columns, split, image
  root); a rerun with different ones stops with an error naming them. Batch size, backend,
  device, dtype, cache, window and ``--limit`` are runtime choices and may change between runs
  (a larger ``--limit`` extends a run).
- **Scale out.** Process ``rank`` of ``world_size`` takes input records with
  ``index % world_size == rank`` (disjoint and covering) and writes its own shards; after a
  barrier, rank 0 merges the counts of all shards into ``stats.json``.
- **Fault injection for tests**: ``ADAMLLM_SYNTH_FAULT=after-record:N`` (or ``torn-record:N``,
  ``after-image:N``) SIGKILLs the process at that point of the N-th pair it handles.
"""

from __future__ import annotations

import argparse
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from hub_tools.rundir import (
    ShardWriter,
    done_ids,
    iter_records,
    read_json,
    recover_partials,
    update_stats,
    write_bytes_atomic,
    write_json_atomic,
)

STAGE = "synthesis"
CONFIG_KEYS = (
    "pairs",
    "synthesizer",
    "prompt_format",
    "max_new_tokens",
    "seed",
    "image_column",
    "caption_column",
    "split",
    "image_root",
)


class ConfigMismatch(RuntimeError):
    """RUN_DIR holds a synthesis run made with different settings."""


# ---------------------------------------------------------------------------------------------
# fault injection (tests kill the runner at chosen points)
# ---------------------------------------------------------------------------------------------
def _fault_plan() -> tuple[str, int] | None:
    spec = os.environ.get("ADAMLLM_SYNTH_FAULT")
    if not spec:
        return None
    point, _, n = spec.partition(":")
    return point, int(n or 1)


_FAULT = None


def _fault(point: str, count: int) -> bool:
    return _FAULT is not None and (point, count) == _FAULT


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


# ---------------------------------------------------------------------------------------------
# config, distribution
# ---------------------------------------------------------------------------------------------
def _resolve_spec(spec: str) -> str:
    path = Path(spec)
    return str(path.resolve()) if path.exists() else spec


def config_from_args(args: argparse.Namespace) -> dict:
    """The manifest entry of this run: output-changing settings plus a ``runtime`` block."""
    return {
        "pairs": _resolve_spec(args.pairs),
        "synthesizer": _resolve_spec(args.synthesizer),
        "prompt_format": args.prompt_format,
        "max_new_tokens": args.max_new_tokens,
        "seed": args.seed,
        "image_column": args.image_column,
        "caption_column": args.caption_column,
        "split": args.split,
        "image_root": str(Path(args.image_root).resolve()) if args.image_root else None,
        "runtime": {
            "backend": args.backend,
            "batch_size": args.batch_size,
            "limit": args.limit,
            "device": args.device,
            "dtype": args.dtype,
            "cache": args.cache,
        },
    }


def check_manifest(run_dir: Path, config: dict) -> dict:
    """Return the manifest; raise :class:`ConfigMismatch` when its synthesize config differs from ``config``."""
    manifest = read_json(run_dir / "manifest.json", default={}) or {}
    old = manifest.get("synthesize")
    if old is not None:
        diff = [k for k in CONFIG_KEYS if old.get(k) != config.get(k)]
        if diff:
            lines = "\n".join(f"  {k}: run has {old.get(k)!r}, this command has {config.get(k)!r}" for k in diff)
            raise ConfigMismatch(
                f"{run_dir} already holds a synthesis run with different settings; refusing to resume.\n{lines}\n"
                "Use the same settings to resume, or choose another --output."
            )
    return manifest


class _Dist:
    """Rank / world size from ``accelerate launch`` (or a single process) and a barrier."""

    def __init__(self, device: str = "auto"):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.state = None
        self.rank = 0
        self.local_rank = 0
        if self.world_size > 1:
            import torch
            from accelerate import PartialState

            # without cpu=True accelerate only forms a CPU process group under its --cpu launcher
            cpu = device == "cpu" or not torch.cuda.is_available()
            self.state = PartialState(cpu=cpu)
            self.rank = self.state.process_index
            self.local_rank = self.state.local_process_index
            self.world_size = self.state.num_processes

    def barrier(self) -> None:
        """Wait for every process (no-op in a single process)."""
        if self.state is not None:
            self.state.wait_for_everyone()

    def device(self, requested: str) -> str:
        """The device this process should use."""
        if requested != "auto":
            return requested
        import torch

        if torch.cuda.is_available():
            return f"cuda:{self.local_rank % torch.cuda.device_count()}"
        return "cpu"


# ---------------------------------------------------------------------------------------------
# rows
# ---------------------------------------------------------------------------------------------
def rejected_row(record: Any) -> dict:
    """The row of a rejected input record."""
    return {
        "id": record.id,
        "status": "rejected",
        "reason": record.reason,
        "caption": None,
        "caption_prompt": None,
        "image": None,
        "source": record.source,
        "generation": None,
        "triplets": [],
    }


def synthesized_row(pair: Any, image_rel: str, generation: str, turn_format: Any) -> dict:
    """The row of a synthesized pair (raw generation + parsed triplets)."""
    from hub_tools.synthesis import parse_triplets

    return {
        "id": pair.id,
        "status": "synthesized",
        "reason": None,
        "caption": pair.caption,
        "caption_prompt": pair.caption_prompt,
        "image": image_rel,
        "source": pair.source,
        "generation": generation,
        "triplets": [t.to_dict() for t in parse_triplets(generation, turn_format=turn_format)],
    }


def save_image(run_dir: Path, pair: Any) -> str:
    """Write ``images/<id>.png`` atomically; returns the path relative to RUN_DIR."""
    import io

    rel = f"images/{pair.id}.png"
    buf = io.BytesIO()
    pair.image.save(buf, format="PNG")
    write_bytes_atomic(run_dir / rel, buf.getvalue())
    return rel


def merge_stats(run_dir: Path) -> dict:
    """Count every synthesis row of every shard into ``stats.json``; raise if an id appears twice."""
    seen: set[str] = set()
    dup = []
    counts = {"pairs_in": 0, "synthesized": 0, "rejected": 0, "triplets": 0, "pairs_with_triplets": 0}
    for rec in iter_records(run_dir / STAGE):
        if rec["id"] in seen:
            dup.append(rec["id"])
            continue
        seen.add(rec["id"])
        counts["pairs_in"] += 1
        counts[rec["status"]] += 1
        counts["triplets"] += len(rec.get("triplets") or [])
        counts["pairs_with_triplets"] += bool(rec.get("triplets"))
    if dup:
        raise RuntimeError(f"{run_dir / STAGE}: {len(dup)} pair ids written more than once, e.g. {dup[:3]}")
    return update_stats(run_dir, counts)


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------
def _read_kwargs(args: argparse.Namespace) -> dict:
    return {
        "image_root": args.image_root,
        "image_column": args.image_column,
        "caption_column": args.caption_column,
        "split": args.split,
        "limit": args.limit,
    }


def _count_share(args, rank: int, world: int, done: set[str]) -> tuple[int | None, int]:
    """(records of this rank, of which already done) by a cheap pass without image decoding; local inputs only."""
    from hub_tools.data import read_pairs

    if not Path(args.pairs).exists():
        return None, 0
    total = already = 0
    for n, rec in enumerate(read_pairs(args.pairs, check_images=False, **_read_kwargs(args))):
        if n % world == rank:
            total += 1
            already += rec.id in done
    return total, already


def _producer(args, rank: int, world: int, done: set[str], run_dir: Path, out: queue.Queue, stop: threading.Event):
    """Read, validate and save images of this rank's pending records; put them on ``out`` (None ends)."""
    from hub_tools.data import ImageCaptionPair, read_pairs, validate

    try:
        for n, rec in enumerate(read_pairs(args.pairs, check_images=False, **_read_kwargs(args))):
            if stop.is_set():
                return
            if n % world != rank or rec.id in done:
                continue
            if isinstance(rec, ImageCaptionPair):
                rec = validate(rec)
            if isinstance(rec, ImageCaptionPair):
                out.put(("pair", rec, save_image(run_dir, rec)))
            else:
                out.put(("rejected", rec, None))
        out.put(None)
    except BaseException as err:  # hand reader errors to the main thread
        out.put(("error", err, None))


def synthesize(args: argparse.Namespace, engine: Any = None) -> dict:
    """Run (or resume) synthesis as described in the module doc; returns this run's counts.

    ``engine`` may be given ready-made (tests, benchmarks); otherwise it is built from ``args``.
    """
    global _FAULT
    _FAULT = _fault_plan()
    from tqdm import tqdm

    dist = _Dist(args.device)
    run_dir = Path(args.output)
    stage_dir = run_dir / STAGE
    config = config_from_args(args)
    config["runtime"]["world_size"] = dist.world_size
    manifest = check_manifest(run_dir, config)  # every rank checks: all fail alike
    dist.barrier()
    if dist.rank == 0:
        stage_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "images").mkdir(exist_ok=True)
        manifest["synthesize"] = config
        write_json_atomic(run_dir / "manifest.json", manifest)
    recover_partials(stage_dir, rank=dist.rank, world_size=dist.world_size)
    dist.barrier()
    done = done_ids(stage_dir)

    if engine is None:
        from hub_tools.synthesis import make_engine

        if args.backend == "transformers":
            from transformers import set_seed

            set_seed(args.seed)
        engine = make_engine(
            args.backend,
            args.synthesizer,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            device=dist.device(args.device),
            dtype=args.dtype,
            prompt_format=args.prompt_format,
            cache_implementation="static" if args.cache == "static" else None,
        )
    turn_format = engine.turn_format
    total, already = _count_share(args, dist.rank, dist.world_size, done)
    window = args.window or 4 * args.batch_size
    counts = {"synthesized": 0, "rejected": 0, "triplets": 0}
    q: queue.Queue = queue.Queue(maxsize=2 * window)
    stop = threading.Event()
    reader = threading.Thread(
        target=_producer, args=(args, dist.rank, dist.world_size, done, run_dir, q, stop), daemon=True
    )
    reader.start()
    bar = tqdm(
        total=total,
        initial=already,
        unit="pair",
        desc=f"synthesize[{dist.rank}]" if dist.world_size > 1 else "synthesize",
        disable=None,
        dynamic_ncols=True,
    )
    handled = 0
    writer = ShardWriter(stage_dir, rank=dist.rank)
    try:
        finished = False
        while not finished:
            pending = []
            while len(pending) < window:
                item = q.get()
                if item is None:
                    finished = True
                    break
                kind, rec, image_rel = item
                if kind == "error":
                    raise rec
                handled += 1
                if kind == "rejected":
                    _write(writer, rejected_row(rec), handled)
                    counts["rejected"] += 1
                    bar.update(1)
                else:
                    if _fault("after-image", handled):
                        _die()
                    pending.append((handled, rec, image_rel))
            if not pending:
                continue
            outs = engine.generate([(rec.image, rec.caption, rec.caption_prompt) for _, rec, _ in pending])
            for (num, rec, image_rel), text in zip(pending, outs, strict=True):
                row = synthesized_row(rec, image_rel, text, turn_format)
                _write(writer, row, num)
                counts["synthesized"] += 1
                counts["triplets"] += len(row["triplets"])
                bar.update(1)
    finally:
        stop.set()
        writer.close()
        bar.close()
    dist.barrier()
    if dist.rank == 0:
        stats = merge_stats(run_dir)
        print(
            f"synthesize: {stats['pairs_in']} pairs -> {stats['synthesized']} synthesized "
            f"({stats['triplets']} triplets, {stats['pairs_with_triplets']} pairs with one), "
            f"{stats['rejected']} rejected; run dir {run_dir}",
            file=sys.stderr,
        )
    dist.barrier()
    return counts


def _write(writer: ShardWriter, row: dict, num: int) -> None:
    if _fault("torn-record", num):
        import json

        line = json.dumps(row).encode()
        writer._fh.write(line[: len(line) // 2])
        writer._fh.flush()
        os.fsync(writer._fh.fileno())
        _die()
    writer.write(row)
    if _fault("after-record", num):
        _die()


def run_from_args(args: argparse.Namespace) -> int:
    """CLI entry: run synthesis, turning expected failures into a message and exit code 2."""
    try:
        start = time.perf_counter()
        counts = synthesize(args)
        took = time.perf_counter() - start
        n = counts["synthesized"] + counts["rejected"]
        if n:
            print(
                f"synthesize: this process handled {n} pairs in {took:.1f}s ({n / took:.2f} pairs/s)", file=sys.stderr
            )
    except (ConfigMismatch, ImportError, FileNotFoundError, ValueError) as err:
        print(f"adamllm synthesize: error: {err}", file=sys.stderr)
        return 2
    return 0
