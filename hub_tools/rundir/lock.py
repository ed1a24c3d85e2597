"""The run-directory lock: one writer per RUN_DIR (``fcntl.flock``; a dead process never leaves a stale lock).

A single process holds ``RUN_DIR/.adamllm.lock`` exclusively; the ranks of one ``accelerate launch`` hold it
shared plus ``.adamllm.lock.rank<R>`` exclusively. Re-entrant within one process (the pipeline holds it
across the stages it calls).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub_tools.rundir.trust import LOCK_NAME, check_no_links, link_refusal, not_writable, open_no_follow


class RunDirBusy(RuntimeError):
    """Another process holds ``RUN_DIR``'s lock. ``str(err)`` is the one-line message the commands print."""

    def __init__(self, run_dir: str | os.PathLike, holder: dict | None):
        self.run_dir = str(run_dir)
        self.holder = holder
        if holder:
            who = f"pid {holder.get('pid')} ({holder.get('command')}, started {holder.get('started')})"
        else:
            who = "another process"
        super().__init__(f"{self.run_dir} is in use by {who}")


@dataclass
class _Held:
    fds: list[int]
    pid: int
    count: int = 1


_HELD: dict[str, _Held] = {}
_HELD_GUARD = threading.Lock()


def dist_env(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``(rank, world_size)`` of this process under ``accelerate launch`` / ``torchrun`` (``(0, 1)`` otherwise).

    Read from ``WORLD_SIZE`` and ``RANK`` (MPI launchers: ``PMI_RANK`` / ``OMPI_COMM_WORLD_RANK``), the
    variables :class:`accelerate.PartialState` reads too, so the rank matches the synthesis runner's.
    """
    env = os.environ if environ is None else environ
    world = int(env.get("WORLD_SIZE") or env.get("PMI_SIZE") or env.get("OMPI_COMM_WORLD_SIZE") or 1)
    rank = int(env.get("RANK") or env.get("PMI_RANK") or env.get("OMPI_COMM_WORLD_RANK") or 0)
    return rank, world


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_holder(path: Path) -> dict | None:
    try:
        fd = open_no_follow(path, os.O_RDONLY)
    except (OSError, ValueError):  # missing, or a planted link (never read through it)
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            info = json.loads(fh.read(1 << 16).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _find_holder(run_dir: Path, rank_file: Path | None = None) -> dict | None:
    """Who holds the lock: the newest live holder recorded in the lock file or a rank file.

    A holder writes its info right after taking the lock, so a file may briefly be empty or still
    name the previous (released) holder; the current holder is the most recently started live one.
    """
    for _ in range(40):
        paths = [rank_file] if rank_file is not None else [run_dir / LOCK_NAME, *run_dir.glob(f"{LOCK_NAME}.rank*")]
        live = [h for h in map(_read_holder, paths) if h and h.get("pid") != os.getpid() and _pid_alive(h.get("pid"))]
        if live:
            return max(live, key=lambda h: h.get("time", 0))
        time.sleep(0.025)
    return None


def _flock(fd: int, mode: int) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def _write_holder(fd: int, info: dict) -> None:
    data = (json.dumps(info) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _open_lock(path: Path, run_dir: Path, command: str, read_only: bool) -> int | None:
    """The lock file's descriptor, never through a link. A folder this user cannot write: a writer is refused,
    a reader opens the file read-only (``None`` when there is none: there is nothing it could lock)."""
    if not read_only and not os.access(run_dir, os.W_OK | os.X_OK):
        read_only_fs = os.statvfs(run_dir).f_flag & os.ST_RDONLY
        raise not_writable(run_dir, command, os.strerror(errno.EROFS if read_only_fs else errno.EACCES))
    try:
        return open_no_follow(path, os.O_RDWR | os.O_CREAT)
    except ValueError:
        raise link_refusal(path, run_dir) from None
    except OSError as err:
        if err.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        if not read_only:
            raise not_writable(run_dir, command, err.strerror or type(err).__name__) from None
    try:
        return open_no_follow(path, os.O_RDONLY)
    except ValueError:
        raise link_refusal(path, run_dir) from None
    except FileNotFoundError:
        return None


def _acquire(run_dir: Path, command: str, rank: int, world_size: int, read_only: bool = False) -> list[int]:
    import fcntl

    now = time.time()
    info = {
        "pid": os.getpid(),
        "command": command if world_size <= 1 else f"{command}, rank {rank} of {world_size}",
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
        "time": now,
        "rank": rank,
        "world_size": world_size,
    }
    fd = _open_lock(run_dir / LOCK_NAME, run_dir, command, read_only)
    if fd is None:
        return []
    if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
        # a reader of a folder it cannot write: shared, so readers coexist; no holder info (it cannot write it)
        if not _flock(fd, fcntl.LOCK_SH):
            os.close(fd)
            raise RunDirBusy(run_dir, _find_holder(run_dir))
        return [fd]
    if not _flock(fd, fcntl.LOCK_EX if world_size <= 1 else fcntl.LOCK_SH):
        os.close(fd)
        raise RunDirBusy(run_dir, _find_holder(run_dir))
    if world_size <= 1:
        _write_holder(fd, info)
        return [fd]
    rank_path = run_dir / f"{LOCK_NAME}.rank{rank}"
    try:
        rfd = open_no_follow(rank_path, os.O_RDWR | os.O_CREAT)
    except BaseException as err:
        os.close(fd)
        if isinstance(err, ValueError):
            raise link_refusal(rank_path, run_dir) from None
        raise
    if not _flock(rfd, fcntl.LOCK_EX):
        os.close(rfd)
        os.close(fd)
        raise RunDirBusy(run_dir, _find_holder(run_dir, rank_path))
    _write_holder(rfd, info)
    return [fd, rfd]


@contextlib.contextmanager
def lock_run_dir(
    run_dir: str | os.PathLike,
    command: str,
    *,
    rank: int = 0,
    world_size: int = 1,
    create: bool = True,
    read_only: bool = False,
    check_links: bool = True,
) -> Iterator[None]:
    """Hold ``RUN_DIR``'s lock for the block; raise :class:`RunDirBusy` at once if another process holds it.

    An OS lock (``flock``) on ``RUN_DIR/.adamllm.lock``, so it dies with its process (a SIGKILL
    leaves no stale lock). ``world_size == 1``: exclusive. ``world_size > 1`` (the ranks of one
    ``accelerate launch``): shared on ``.adamllm.lock`` plus exclusive on ``.adamllm.lock.rank<rank>``,
    so the ranks of one launch coexist, while a second launch, or a single-process stage, is refused.
    The holder (pid, ``command``, start time) is written into the file it locks exclusively, for the
    message a refused process prints. Re-entrant within a process: a nested call (the pipeline calling
    the stages) only counts. ``create=False``: a missing ``RUN_DIR`` is not created and nothing is locked
    (the stage then reports the missing folder itself).

    Never through a link: a symbolic link at the lock file, or (``check_links``, the default) anywhere the
    project reads or writes in ``RUN_DIR`` (:func:`~hub_tools.rundir.trust.planted_links`), raises
    :class:`~hub_tools.rundir.trust.RunDirRefused` naming it. ``read_only`` (commands that only read the
    run): a folder this user cannot write is locked shared through a read-only descriptor (or not at all when
    it has no lock file); a writer is refused there in one line naming the folder.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        if not create:
            yield
            return
        run_dir.mkdir(parents=True, exist_ok=True)
    key = os.path.join(os.path.realpath(run_dir), LOCK_NAME)  # never resolve the lock file itself: it may be a link
    with _HELD_GUARD:
        held = _HELD.get(key)
        if held is not None and held.pid == os.getpid():
            held.count += 1
        else:  # none, or inherited across fork() (the child does not own its parent's hold)
            fds = _acquire(run_dir, command, rank, world_size, read_only)
            try:
                if check_links:
                    check_no_links(run_dir)
            except BaseException:
                for fd in reversed(fds):
                    os.close(fd)
                raise
            held = _HELD[key] = _Held(fds, os.getpid())
    try:
        yield
    finally:
        with _HELD_GUARD:
            held.count -= 1
            if held.count == 0:
                if _HELD.get(key) is held:
                    del _HELD[key]
                for fd in reversed(held.fds):
                    os.close(fd)  # closing the descriptor releases its flock
