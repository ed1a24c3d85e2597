"""Opening an image file named by data: once, checking what was opened rather than the name.

Between the image-path policy's check (:func:`hub_tools.data.resolve_image_path`) and the read, a link can be
swapped, a folder replaced by a link, or the file removed. :func:`open_image_file` opens the path once and checks
the descriptor (a regular, non-empty file, reached without a link when the path was resolved), so such a change
is :class:`~hub_tools.errors.BadInput` for its record (the run goes on) and a file outside the folder is never read.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

from hub_tools.errors import BadInput


def open_image_file(path: Path) -> io.BufferedReader:
    """Open ``path`` once and check what was opened (not the name): a regular, non-empty file, reached without a
    symbolic link when ``path`` was a link-free absolute path (what the readers' image-path policy resolves
    every data path to). A file swapped for a link, removed, or replaced by something else between the check and
    here is :class:`BadInput` for its record, never a crash and never read."""
    if path.is_dir():
        raise BadInput(f"image path {str(path)!r} is a directory, not an image file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise BadInput(f"image file not found: {str(path)!r}") from None
    except OSError as err:
        raise BadInput(f"image file could not be opened: {str(path)!r}: {err.strerror or err}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise BadInput(f"image path {str(path)!r} is a directory, not an image file")
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(f"image path {str(path)!r} is not a regular file")
        if info.st_size == 0:
            raise BadInput(f"image is a zero-byte file: {str(path)!r}")
        _check_opened_path(path, fd)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_opened_path(path: Path, fd: int) -> None:
    """Where the readers resolved ``path`` (absolute, no ``..``, no link), the file opened must be the one at that
    very path: a component swapped for a symbolic link since then shows in the descriptor's real path (Linux)."""
    text = str(path)
    proc = f"/proc/self/fd/{fd}"
    if not os.path.isabs(text) or os.path.normpath(text) != text or not os.path.exists(proc):
        return
    try:
        opened = os.readlink(proc)
    except OSError:
        return
    if opened != text:
        raise BadInput(f"image path {text!r} changed after it was checked (it now leads to {opened!r}); not read")
