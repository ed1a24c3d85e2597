"""What a run directory (or a dataset folder) may hold that the project must not trust.

A run dir can come from an archive or a shared folder, so a symbolic link in it may point anywhere:
the project never creates one there, and never reads or writes through one (:func:`open_no_follow`,
:func:`planted_links`). A folder the user cannot write is fine for readers and refused, in one line,
for writers (:class:`RunDirRefused`).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path

LOCK_NAME = ".adamllm.lock"
"""The lock file in ``RUN_DIR`` (never deleted: a flock lives on the file, so removing it would split holders)."""

RUN_OUTPUTS = ("synthesis", "filter", "compose", "images", "quarantine", "manifest.json", "stats.json")
"""What the stages write into RUN_DIR (``--overwrite`` removes these and nothing else); besides the lock files."""


class RunDirRefused(ValueError):
    """RUN_DIR (or a dataset folder) cannot be used as asked: a planted symbolic link, or a folder that is
    not writable for a command that writes. ``str(err)`` is the one line the commands print."""


def link_refusal(link: str | os.PathLike, run_dir: str | os.PathLike | None = None) -> RunDirRefused:
    """The error for a symbolic link found where the project reads or writes (``run_dir``: name the repair)."""
    fix = f"remove it, or run `adamllm doctor {run_dir} --repair`" if run_dir is not None else "remove it"
    return RunDirRefused(f"{link} is a symbolic link; refusing to read or write through it ({fix})")


def is_link(path: str | os.PathLike) -> bool:
    """``True`` when ``path`` itself is a symbolic link (dangling or not)."""
    return os.path.islink(path)


def open_no_follow(path: str | os.PathLike, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that never follows a symbolic link at ``path``: the one way the project opens a file inside a
    run dir or dataset folder. A link there raises :class:`RunDirRefused` naming it.

    Pass ``O_CREAT | O_EXCL`` to create: an existing file or link (dangling too) is then never opened.
    """
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as err:
        if err.errno == errno.ELOOP or (err.errno == errno.EEXIST and is_link(path)):
            raise link_refusal(path) from None
        raise


def refuse_links(paths: Iterable[str | os.PathLike], run_dir: str | os.PathLike | None = None) -> None:
    """Raise :class:`RunDirRefused` naming the first of ``paths`` that is a symbolic link."""
    for path in paths:
        if is_link(path):
            raise link_refusal(path, run_dir)


def _links_below(folder: str, found: list[Path]) -> None:
    stack = [folder]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        found.append(Path(entry.path))
                    elif entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue


def owned_entry(name: str) -> bool:
    """Whether a top-level name of RUN_DIR is one the project writes (stage outputs and lock files)."""
    return name in RUN_OUTPUTS or name == LOCK_NAME or name.startswith(f"{LOCK_NAME}.rank")


def planted_links(run_dir: str | os.PathLike) -> list[Path]:
    """Every symbolic link where the project reads or writes in ``run_dir`` (it never creates one there).

    That is the lock files, ``manifest.json``, ``stats.json``, the stage folders (``synthesis/``, ``images/``,
    ...) and anything below them. Other entries of the folder are the user's and left alone. Sorted.
    """
    found: list[Path] = []
    try:
        with os.scandir(run_dir) as entries:
            top = [e for e in entries if owned_entry(e.name)]
    except OSError:
        return []
    for entry in top:
        if entry.is_symlink():
            found.append(Path(entry.path))
        elif entry.is_dir(follow_symlinks=False):
            _links_below(entry.path, found)
    return sorted(found)


def check_no_links(run_dir: str | os.PathLike) -> None:
    """Refuse ``run_dir`` (:class:`RunDirRefused`, one line naming the first link) if it holds a planted link."""
    found = planted_links(run_dir)
    if found:
        err = link_refusal(found[0], run_dir)
        if len(found) > 1:
            err = RunDirRefused(f"{err} ({len(found) - 1} more link(s) in {run_dir})")
        raise err


def not_writable(run_dir: str | os.PathLike, command: str, why: str) -> RunDirRefused:
    """The one-line refusal of a command that writes ``run_dir`` when the folder cannot be written (``why``)."""
    return RunDirRefused(f"{run_dir} is not writable ({why}); `{command}` writes into the run directory")
