"""Append-only JSONL shards (durable per record, torn-line recovery), atomic JSON files, stats and manifest."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub_tools.rundir.rows import DamagedRow, row_problem
from hub_tools.rundir.trust import open_no_follow

SHARD_NAME = re.compile(r"^shard-(\d+)-(\d+)\.jsonl(\.partial)?$")


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


class DiskFull(OSError):
    """The disk filled up while a stage wrote ``RUN_DIR``; the message names the file and says the run resumes."""

    def __init__(self, path: str | os.PathLike):
        super().__init__(
            errno.ENOSPC, f"no space left on device while writing {path}; free space and rerun: the run resumes"
        )

    def __str__(self) -> str:
        return self.strerror


class DamagedFile(ValueError):
    """A run directory's JSON file (``manifest.json``, ``stats.json``) that cannot be read; ``why`` says how."""

    def __init__(self, path: str | os.PathLike, why: str):
        self.path, self.why = Path(path), why
        super().__init__(
            f"{path} is not valid JSON ({why}): run `adamllm doctor {Path(path).parent} --repair` to move it aside"
        )


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file + fsync + rename: readers see the old or the new file.

    On failure the temp file is removed (a full disk raises :class:`DiskFull`). The temp file is created
    exclusively and never through a link (a leftover one is unlinked first); the rename replaces a link at
    ``path`` itself, never its target.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)  # a crash's leftover (or a planted link): unlink never follows a link
    fd = open_no_follow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.errno == errno.ENOSPC:
            raise DiskFull(path) from None
        raise
    fsync_dir(path.parent)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


def read_json(path: str | os.PathLike, default: Any = None) -> Any:
    """Load JSON from a run directory's ``path`` (``manifest.json``, ``stats.json``), or ``default`` when there is none.

    Never through a link (:class:`~hub_tools.rundir.trust.RunDirRefused`); a file that is not valid UTF-8 JSON
    raises :class:`DamagedFile` naming it and ``adamllm doctor RUN_DIR --repair``.
    """
    path = Path(path)
    if not path.is_symlink() and not path.is_file():
        return default
    with os.fdopen(open_no_follow(path, os.O_RDONLY), "rb") as fh:
        data = fh.read()
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as err:
        why = f"{err.msg} at line {err.lineno}" if isinstance(err, json.JSONDecodeError) else "not UTF-8"
        raise DamagedFile(path, why) from None


def shard_files(stage_dir: str | os.PathLike) -> list[Path]:
    """All ``shard-<rank>-<seq>.jsonl[.partial]`` files of a stage folder, sorted by (rank, seq)."""
    stage_dir = Path(stage_dir)
    if not stage_dir.is_dir():
        return []
    found = []
    for p in stage_dir.iterdir():
        m = SHARD_NAME.match(p.name)
        if m:
            found.append(((int(m.group(1)), int(m.group(2)), p.name), p))
    return [p for _, p in sorted(found)]


def _complete_length(fh) -> int:
    """Byte length of the open binary file ``fh`` up to and including its last newline (leaves it at offset 0)."""
    pos = os.fstat(fh.fileno()).st_size
    block = 1 << 16
    try:
        while pos > 0:
            start = max(0, pos - block)
            fh.seek(start)
            chunk = fh.read(pos - start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                return start + nl + 1
            pos = start
        return 0
    finally:
        fh.seek(0)


def iter_records(stage_dir: str | os.PathLike) -> Iterator[dict]:
    """Yield every record of every shard of a stage, finished shards and ``.partial`` ones alike.

    A ``.partial`` file is read up to its last complete line; a bad line there (a torn write) is
    discarded. A bad line in a finished ``.jsonl`` shard raises ``ValueError``, and a JSON line that is
    not a row of its stage (:func:`~hub_tools.rundir.rows.row_problem`: the folder's name is the stage)
    raises :class:`~hub_tools.rundir.rows.DamagedRow`, both naming file, line and ``adamllm doctor --repair``.
    A shard that is a symbolic link is never read (:class:`~hub_tools.rundir.trust.RunDirRefused`).
    """
    stage = Path(stage_dir).name
    repair = f"run `adamllm doctor {Path(stage_dir).parent} --repair`"
    for path in shard_files(stage_dir):
        partial = path.name.endswith(".partial")
        with os.fdopen(open_no_follow(path, os.O_RDONLY), "rb") as fh:
            data = fh.read(_complete_length(fh)) if partial else fh.read()
        for n, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as err:  # JSONDecodeError, or UnicodeDecodeError (e.g. a run of NUL bytes)
                if partial:
                    continue  # a torn record: it is not done and will be redone
                why = err.msg if isinstance(err, json.JSONDecodeError) else "not UTF-8"
                raise ValueError(
                    f"{path}: line {n} is not valid JSON ({why}); the shard is corrupt: {repair}"
                ) from None
            why = row_problem(stage, row)
            if why is not None:
                raise DamagedRow(f"{path}: line {n} is not a {stage} row ({why}); {repair}")
            yield row


def done_ids(stage_dir: str | os.PathLike) -> set[str]:
    """Ids of all records already written in a stage folder."""
    return {rec["id"] for rec in iter_records(stage_dir)}


def recover_partials(stage_dir: str | os.PathLike, rank: int = 0, world_size: int = 1) -> list[Path]:
    """Finish ``.partial`` shards left by dead writers: truncate any torn tail, fsync, rename to ``.jsonl``.

    Only shards this process may own are touched: its own rank's, and (rank 0 only) those of
    ranks >= ``world_size`` left by an earlier run with more processes. Returns the new paths.
    """
    out = []
    for path in shard_files(stage_dir):
        m = SHARD_NAME.match(path.name)
        shard_rank = int(m.group(1))
        if not m.group(3) or not (shard_rank == rank or (rank == 0 and shard_rank >= world_size)):
            continue
        with os.fdopen(open_no_follow(path, os.O_RDWR), "r+b") as fh:
            keep = _complete_length(fh)
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
            for m in (SHARD_NAME.match(p.name) for p in shard_files(self.stage_dir))
            if int(m.group(1)) == rank
        ]
        self.seq = max(seqs, default=-1) + 1
        self.path = self.stage_dir / f"shard-{rank}-{self.seq}.jsonl.partial"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        self._fh = os.fdopen(open_no_follow(self.path, flags), "wb")  # closed in close()
        fsync_dir(self.stage_dir)
        self.count = 0
        self.failed = False

    def write(self, record: dict) -> None:
        """Append ``record`` as one JSON line, then flush and fsync.

        A full disk raises :class:`DiskFull`; the shard then stays ``.partial`` (its torn last line is
        discarded on resume) and is never renamed to a finished shard.
        """
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self._fh.write(line)
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as err:
            self.failed = True
            with contextlib.suppress(OSError):
                self._fh.close()
            if err.errno == errno.ENOSPC:
                raise DiskFull(self.path) from None
            raise
        self.count += 1

    def close(self) -> Path | None:
        """Finish the shard: rename ``.partial`` -> ``.jsonl`` (or delete it when empty). Returns the final path."""
        if self._fh.closed or self.failed:
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
