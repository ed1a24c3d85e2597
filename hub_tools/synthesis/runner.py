"""Synthesis stage: pairs -> ``RUN_DIR/synthesis`` shards, resumable and sharded across processes.

Every input record (pair or reader rejection) becomes exactly one row, also across SIGKILLs and
restarts; a rerun with settings that change the output (:data:`CONFIG_KEYS`) is refused, and so is a rerun
on changed input (:func:`check_input`: the manifest records the input's fingerprint). Process
``rank`` of ``world_size`` (``accelerate launch -m hub_tools.synthesize``) takes the records with
``index % world_size == rank``; rank 0 then merges the counts into ``stats.json``.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hub_tools.errors import ConfigMismatch, describe_exception  # noqa: F401  (ConfigMismatch: re-exported)
from hub_tools.rundir import FaultPoints, ShardWriter, done_ids, recover_partials, write_json_atomic
from hub_tools.synthesis.bookkeeping import (  # noqa: F401  (re-exported: the run's records are defined there)
    CONFIG_KEYS,
    REASON_LIMIT,
    STAGE,
    InputChanged,
    SynthesisConfig,
    check_input,
    check_manifest,
    clear_run_dir,
    manifest_config,
    merge_stats,
    rejected_row,
    save_image,
    synthesized_row,
)
from hub_tools.synthesis.endpoint_client import RefusalGuard, RequestRejected


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
# the run
# ---------------------------------------------------------------------------------------------
def _read_kwargs(cfg: SynthesisConfig) -> dict:
    return {
        "image_root": cfg.image_root,
        "image_column": cfg.image_column,
        "caption_column": cfg.caption_column,
        "split": cfg.split,
        "limit": cfg.limit,
    }


def _count_share(cfg: SynthesisConfig, rank: int, world: int, done: set[str]) -> tuple[int | None, int]:
    """(records of this rank, of which already done) by a cheap pass without image decoding; local inputs only."""
    from hub_tools.data import read_pairs

    if not Path(cfg.pairs).exists():
        return None, 0
    total = already = 0
    for n, rec in enumerate(read_pairs(cfg.pairs, check_images=False, **_read_kwargs(cfg))):
        if n % world == rank:
            total += 1
            already += rec.id in done
    return total, already


def _producer(
    cfg: SynthesisConfig, rank: int, world: int, done: set[str], run_dir: Path, out: queue.Queue, stop: threading.Event
):
    """Read, validate and save images of this rank's pending records; put them on ``out`` (None ends)."""
    from hub_tools.data import BadInput, ImageCaptionPair, Rejection, read_pairs, validate
    from hub_tools.synthesis.image_payload import attach_source

    try:
        for n, rec in enumerate(read_pairs(cfg.pairs, check_images=False, **_read_kwargs(cfg))):
            if stop.is_set():
                return
            if n % world != rank or rec.id in done:
                continue
            if isinstance(rec, ImageCaptionPair):
                rec, path = _read_source(rec)  # a path is read once: the bytes decoded are the bytes saved and sent
            if isinstance(rec, ImageCaptionPair):
                source = rec.image
                try:  # anything one record's image raises rejects that record (BadInput: validate's own reasons)
                    rec = validate(rec)
                except Exception as err:
                    rec = Rejection(rec.id, f"image could not be decoded: {describe_exception(err)}", rec.source)
                if isinstance(rec, Rejection) and path is not None:  # name the file, not "<bytes>"
                    rec.reason = rec.reason.replace("'<bytes>'", repr(path))
                if isinstance(rec, ImageCaptionPair):  # its own bytes go to the images folder and to servers
                    attach_source(rec.image, source)
            if isinstance(rec, ImageCaptionPair):
                try:
                    image_rel = save_image(run_dir, rec)
                except BadInput as err:
                    rec = Rejection(rec.id, err.reason, rec.source)
            if isinstance(rec, ImageCaptionPair):
                out.put(("pair", rec, image_rel))
            else:
                out.put(("rejected", rec, None))
        out.put(None)
    except BaseException as err:  # hand reader errors to the main thread
        out.put(("error", err, None))


def _read_source(rec: Any) -> tuple[Any, str | None]:
    """``(record, path)``: ``rec`` with a path image read into bytes through one checked descriptor
    (:func:`hub_tools.data.image_file.open_image_file`), or its :class:`~hub_tools.data.Rejection`; ``path`` the file
    read (``None`` for an image given as bytes). Decoding, saving and sending then use those bytes: a file swapped
    after the check never reaches the run."""
    from hub_tools.data import BadInput, ImageCaptionPair, Rejection
    from hub_tools.data.image_file import open_image_file

    if not isinstance(rec.image, (str, os.PathLike)):
        return rec, None
    path = Path(rec.image)
    try:
        with open_image_file(path) as fh:
            data = fh.read()
    except BadInput as err:
        return Rejection(rec.id, err.reason, rec.source), str(path)
    except OSError as err:  # the descriptor was checked: a read error is the file's, not the machine's
        reason = f"image file could not be read: {str(path)!r}: {err.strerror or err}"
        return Rejection(rec.id, reason, rec.source), str(path)
    return ImageCaptionPair(rec.id, rec.caption, data, rec.caption_prompt, rec.source), str(path)


def preflight(cfg: SynthesisConfig, engine: Any = None) -> None:
    """Fail before RUN_DIR is created or written when RUN_DIR is not the project's (a symbolic link, a file, a
    non-empty folder without a run's ``manifest.json``: :func:`hub_tools.rundir.ownership.prepare_run_dir`), the pairs
    source cannot be read or (no ready-made ``engine``) the synthesizer cannot be found (:mod:`hub_tools.preflight`):
    nothing is left behind."""
    from hub_tools.preflight import check_model, check_pairs
    from hub_tools.rundir.ownership import prepare_run_dir

    prepare_run_dir(cfg.output, "adamllm synthesize")  # a link, a file, or a folder that is not a run dir
    kwargs = {k: v for k, v in _read_kwargs(cfg).items() if k != "limit"}
    check_pairs(cfg.pairs, **kwargs)
    if engine is None and not getattr(cfg, "endpoint", None):  # a served model's name is not a folder or repo
        check_model("synthesizer", cfg.synthesizer)


def synthesize(cfg: SynthesisConfig, engine: Any = None) -> dict:
    """:func:`_synthesize` holding ``cfg.output``'s lock (:func:`hub_tools.rundir.lock_run_dir`): exclusive in a
    single process, shared across the ranks of one ``accelerate launch``; ``RunDirBusy`` if another run holds it.
    :func:`preflight` runs first, so a mistake leaves no run directory behind."""
    from hub_tools.rundir import dist_env, lock_run_dir

    preflight(cfg, engine)
    rank, world_size = dist_env()
    with lock_run_dir(cfg.output, "adamllm synthesize", rank=rank, world_size=world_size):
        return _synthesize(cfg, engine)


def _synthesize(cfg: SynthesisConfig, engine: Any = None) -> dict:
    """Run (or resume) synthesis as described in the module doc; returns this run's counts.

    ``engine`` may be given ready-made (tests, benchmarks); otherwise it is built from ``cfg``.
    """
    fault = FaultPoints.from_env()  # test seam, inert unless $ADAMLLM_SYNTH_FAULT is set
    dist = _Dist(cfg.device)
    run_dir = Path(cfg.output)
    stage_dir = run_dir / STAGE
    entry = manifest_config(cfg)
    entry["runtime"]["world_size"] = dist.world_size
    manifest = {} if cfg.overwrite else check_manifest(run_dir, entry)  # every rank checks: all fail alike
    entry["input"] = check_input(run_dir, cfg, manifest, log=dist.rank == 0)

    # load the model before touching RUN_DIR: a run whose model fails to load leaves nothing behind
    own_engine = engine is None
    from hub_tools.data.image_size import image_size

    if engine is None and cfg.endpoint:
        from hub_tools.synthesis.served import ServedSynthesizer

        engine = ServedSynthesizer(
            cfg.synthesizer,
            cfg.endpoint,
            max_new_tokens=cfg.max_new_tokens,
            prompt_format=cfg.prompt_format,
            concurrency=cfg.concurrency,
            api_key_env=cfg.api_key_env,
            server=cfg.server,
            request_timeout=cfg.request_timeout,
            image_size=image_size(cfg.image_max_pixels, cfg.image_min_pixels),
        )
    if engine is None:
        from transformers import set_seed

        from hub_tools.synthesis import make_engine

        set_seed(cfg.seed)
        engine = make_engine(
            cfg.synthesizer,
            batch_size=cfg.batch_size,
            max_new_tokens=cfg.max_new_tokens,
            device=dist.device(cfg.device),
            dtype=cfg.dtype,
            prompt_format=cfg.prompt_format,
            cache_implementation="static" if cfg.cache == "static" else None,
            decode=cfg.decode,
            image_size=image_size(cfg.image_max_pixels, cfg.image_min_pixels),
        )
    try:
        return _run(cfg, engine, dist, run_dir, stage_dir, entry, manifest, fault)
    finally:
        if own_engine and hasattr(engine, "close"):
            engine.close()


def _run(cfg, engine, dist, run_dir: Path, stage_dir: Path, entry: dict, manifest: dict, fault) -> dict:
    """The run proper, once the engine is ready (:func:`_synthesize`)."""
    from hub_tools.defaults import progress_bar

    dist.barrier()
    if dist.rank == 0:
        if cfg.overwrite:
            clear_run_dir(run_dir)
        stage_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "images").mkdir(exist_ok=True)
        manifest["synthesize"] = entry
        write_json_atomic(run_dir / "manifest.json", manifest)
    dist.barrier()
    recover_partials(stage_dir, rank=dist.rank, world_size=dist.world_size)
    dist.barrier()
    done = done_ids(stage_dir)

    turn_format = engine.turn_format
    total, already = _count_share(cfg, dist.rank, dist.world_size, done)
    # a served engine takes a whole window at once: at least the requests it keeps in flight
    window = cfg.window or max(4 * cfg.batch_size, getattr(engine, "batch_size", 0) if cfg.endpoint else 0)
    counts = {"synthesized": 0, "rejected": 0, "triplets": 0}
    q: queue.Queue = queue.Queue(maxsize=2 * window)
    stop = threading.Event()
    reader = threading.Thread(
        target=_producer, args=(cfg, dist.rank, dist.world_size, done, run_dir, q, stop), daemon=True
    )
    reader.start()
    bar = progress_bar(
        total=total,
        initial=already,
        unit="pair",
        desc=f"synthesize[{dist.rank}]" if dist.world_size > 1 else "synthesize",
    )
    handled = 0
    failed: list[tuple[int, dict]] = []  # pairs the engine failed on since its last success, not yet written
    refused = RefusalGuard()  # pairs a server refused: written once a later answer shows the endpoint works
    foreign = foreign_token_check(engine)
    max_failed = max(16, 2 * window)
    writer = ShardWriter(stage_dir, rank=dist.rank)
    # A served engine gets the next window while the previous one is still in flight, so the replicas never wait
    # for rows to be written or for the slowest request of a window; an in-process engine runs one at a time.
    ahead = 2 if getattr(engine, "pipelined", False) else 1
    executor = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="synthesize") if ahead > 1 else None
    inflight: deque = deque()
    finished = False

    def collect() -> list:
        """The next window of pairs to generate (reader rejections are written on the way)."""
        nonlocal finished, handled
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
                _write(writer, rejected_row(rec), handled, fault)
                counts["rejected"] += 1
                bar.update(1)
            else:
                fault("after-image", handled)
                pending.append((handled, rec, image_rel))
        return pending

    try:
        while not finished or inflight:
            if not finished:
                pending = collect()
                if pending:
                    inflight.append((pending, executor.submit(_generate, engine, pending) if executor else None))
                if len(inflight) < ahead and not finished:
                    continue
            if not inflight:
                continue
            pending, future = inflight.popleft()
            results = future.result() if future is not None else _generate(engine, pending)
            for (num, rec, image_rel), text, error, bad_input in results:
                if isinstance(bad_input, RequestRejected):  # held: a run of refusals is the endpoint's fault
                    refused.hold((num, rejected_row(_failure(rec, error))), bad_input)
                    continue
                if bad_input:  # the pair's own fault (e.g. an image the processor refuses): no engine failure
                    _write(writer, rejected_row(_failure(rec, error)), num, fault)
                    counts["rejected"] += 1
                    bar.update(1)
                    continue
                row = None
                token = foreign(text) if error is None else None
                if token:
                    error = (
                        f"the generation holds the special token {token!r} outside the format's turn markers; "
                        "rejected before parsing"
                    )
                if error is None:
                    try:
                        row = synthesized_row(rec, image_rel, text, turn_format)
                    except Exception as err:
                        error = f"the generation could not be parsed: {describe_exception(err)}"
                if row is None:
                    failed.append((num, rejected_row(_failure(rec, error))))
                    if len(failed) >= max_failed:  # nothing of these was written: a rerun retries them
                        raise RuntimeError(
                            f"synthesis failed on {len(failed)} pairs in a row, e.g. {failed[-1][1]['id']}: "
                            f"{failed[-1][1]['reason']}. This looks like a broken engine or device, not bad input; "
                            "stopping (the failed pairs are not recorded, so a rerun retries them)."
                        )
                    continue
                for fnum, frow in failed + refused.release():  # a success after failures: per-pair problems
                    _write(writer, frow, fnum, fault)
                    counts["rejected"] += 1
                    bar.update(1)
                failed.clear()
                _write(writer, row, num, fault)
                counts["synthesized"] += 1
                counts["triplets"] += len(row["triplets"])
                bar.update(1)
        for fnum, frow in failed + refused.release():
            _write(writer, frow, fnum, fault)
            counts["rejected"] += 1
            bar.update(1)
    finally:
        stop.set()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
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


def _generate(engine: Any, pending: list) -> list[tuple[tuple, str | None, str | None, bool]]:
    """``(item, text, error, bad_input)`` per pending item: the batch at once; if that raises, item by item.

    A failure of one item becomes its ``error`` (the reason its pair is rejected); the other items are generated
    as usual. ``bad_input``: the item itself is to blame (the engine raised :class:`~hub_tools.errors.BadInput`
    for it, e.g. :class:`~hub_tools.synthesis.engines.BadItems` for an image its processor refuses), so it does
    not count as an engine failure; any other failure does.
    """
    from hub_tools.errors import BadInput
    from hub_tools.synthesis.endpoint_client import EndpointError

    batch = [(rec.image, rec.caption, rec.caption_prompt) for _, rec, _ in pending]
    try:
        outs = list(engine.generate(batch))
        if len(outs) != len(batch):
            raise RuntimeError(f"the engine returned {len(outs)} generations for {len(batch)} pairs")
    except BadInput as err:
        reasons = getattr(err, "reasons", None)
        if isinstance(reasons, dict) and reasons and set(reasons) <= set(range(len(pending))):
            rest = [item for n, item in enumerate(pending) if n not in reasons]
            bad = [(pending[n], None, reason, True) for n, reason in sorted(reasons.items())]
            return bad + (_generate(engine, rest) if rest else [])
        if len(batch) > 1:
            return [result for item in pending for result in _generate(engine, [item])]
        return [(pending[0], None, err.reason, True)]
    except EndpointError:  # an answer about the endpoint: stop; nothing of this batch is written, a rerun resumes it
        raise
    except Exception as err:
        if len(batch) > 1:
            return [result for item in pending for result in _generate(engine, [item])]
        return [(pending[0], None, f"synthesis failed for this pair: {describe_exception(err)}", False)]
    results = []
    for item, text in zip(pending, outs, strict=True):
        if isinstance(text, str):
            results.append((item, text, None, False))
        elif isinstance(text, RequestRejected):  # a served engine's per-record refusal (the server's reason)
            results.append((item, None, text.reason, text))
        elif isinstance(text, BadInput):
            results.append((item, None, text.reason, True))
        elif isinstance(text, Exception):
            results.append((item, None, f"synthesis failed for this pair: {describe_exception(text)}", False))
        else:
            reason = f"synthesis failed for this pair: the engine returned {type(text).__name__}"
            results.append((item, None, reason, False))
    return results


def foreign_token_check(engine: Any):
    """``check(text) -> token | None``: :func:`~hub_tools.synthesis.parse.foreign_special_token` with the engine's
    tokenizer and turn format (in-process and served alike); a no-op for an engine without a tokenizer."""
    from hub_tools.synthesis.parse import foreign_special_token, special_tokens_of

    tokenizer = getattr(engine, "tokenizer", None)
    tokens = special_tokens_of(tokenizer) if tokenizer is not None else []
    turn_format = getattr(engine, "turn_format", None)
    return lambda text: foreign_special_token(text, tokens, turn_format) if tokens and text else None


def _failure(rec: Any, reason: str) -> Any:
    from hub_tools.data import Rejection

    return Rejection(rec.id, reason, rec.source)


def _write(writer: ShardWriter, row: dict, num: int, fault: FaultPoints) -> None:
    fault("torn-record", num, torn=(writer, row))
    writer.write(row)
    fault("after-record", num)
