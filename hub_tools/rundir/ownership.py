"""Which folders the project wrote: the one policy behind ``--overwrite`` and every other destructive path.

Every folder a command writes carries a marker saying what wrote it and what it wrote there: the
:data:`MARKER` file (``.adamllm-owner.json``: the writer command and the top-level names it wrote), or, for a
run directory, its ``manifest.json`` (the stages write it before anything else; the names are
:data:`~hub_tools.rundir.trust.RUN_OUTPUTS`). The rules, used by every command that writes a folder:

- a folder that is a symbolic link is refused (:func:`refuse_link`): nothing is written through one;
- a folder that does not exist, or is empty, is the command's to write (:func:`prepare_folder` claims it);
- a folder that is not empty and holds no marker is the user's: one line says what is there and to pick an
  empty or new folder; so is a folder another command wrote (another writer's outputs are never replaced);
- a destructive flag removes only the names the marker lists (:func:`remove_owned`), one by one by name
  (never a glob of the folder), refusing the whole removal when one of them is a symbolic link, and only
  after every input of the command has been checked (the callers' order; ``docs/destructive_flags.md``).

Nothing removed can be brought back: there is no trash folder. The docs table says so per flag.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hub_tools.rundir.trust import RUN_OUTPUTS, RunDirRefused, link_refusal, open_no_follow, owned_entry

MARKER = ".adamllm-owner.json"
"""The ownership marker a command writes into each folder it creates (never uploaded to the Hub)."""
MARKER_FORMAT = 1
_MAX_MARKER_BYTES = 1 << 20
RUN_DIR_WRITER = "adamllm synthesize"
"""The writer a run directory is recorded under (its marker is ``manifest.json``, written by the first stage)."""
_RUN_STAGES = ("synthesize", "filter", "compose")
_SHOWN = 4
PICK_ANOTHER = "pick an empty or new folder"


class OutputRefused(RunDirRefused):
    """A command will not write (or remove) in a folder: not the project's, another command's, a symbolic link,
    or holding earlier outputs without ``--overwrite``. ``str(err)`` is the one line the commands print."""


@dataclass(frozen=True)
class Owner:
    """What a folder's marker says: the ``writer`` command and the top-level ``entries`` it wrote."""

    folder: Path
    writer: str
    entries: tuple[str, ...]


def _names(folder: Path, ignore: Iterable[str] = ()) -> list[str]:
    skip = {MARKER, *ignore}
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.name not in skip)


def describe_names(names: list[str], shown: int = _SHOWN) -> str:
    """``a, b, c and 4 more``: what a folder holds, for a one-line message."""
    head = ", ".join(names[:shown])
    return head + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _read_json_no_follow(path: Path) -> object:
    try:
        fd = open_no_follow(path, os.O_RDONLY)
    except (OSError, ValueError):  # missing, unreadable, or a link (never read through one)
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(_MAX_MARKER_BYTES + 1)
        if len(data) > _MAX_MARKER_BYTES:
            return None
        return json.loads(data.decode("utf-8"))
    except (OSError, ValueError):
        return None


def _valid_entry(name: object) -> bool:
    return (
        isinstance(name, str)
        and name not in ("", ".", "..", MARKER)
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
    )


def read_owner(folder: str | os.PathLike) -> Owner | None:
    """The owner recorded by ``folder``'s :data:`MARKER`, or ``None`` (no marker, a link, not a valid marker)."""
    folder = Path(folder)
    data = _read_json_no_follow(folder / MARKER)
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("writer"), str)
        or not data["writer"].startswith("adamllm")
    ):
        return None
    entries = data.get("entries")
    if not isinstance(entries, list):
        return None
    return Owner(folder, data["writer"], tuple(name for name in entries if _valid_entry(name)))


def run_dir_owner(run_dir: str | os.PathLike) -> Owner | None:
    """A run directory's owner: its ``manifest.json`` (a JSON object with a stage's entry), or ``None``."""
    run_dir = Path(run_dir)
    data = _read_json_no_follow(run_dir / "manifest.json")
    if not isinstance(data, dict) or not any(isinstance(data.get(stage), dict) for stage in _RUN_STAGES):
        return None
    return Owner(run_dir, RUN_DIR_WRITER, RUN_OUTPUTS)


def refuse_link(folder: str | os.PathLike, command: str) -> None:
    """Raise :class:`OutputRefused` when ``folder`` itself is a symbolic link (a ``RUN_DIR``, an ``--output``)."""
    if os.path.islink(folder):
        try:
            target = os.readlink(folder)
        except OSError:
            target = "?"
        raise OutputRefused(
            f"{folder} is a symbolic link (to {target!r}); `{command}` never writes through one: "
            f"pass the folder itself, or {PICK_ANOTHER}"
        )


RUN_MARKER = "run manifest.json"
"""How the one-line refusals name a run directory's marker."""


def not_ours(folder: str | os.PathLike, names: list[str], command: str, marker: str = MARKER) -> OutputRefused:
    """The one line for a non-empty folder without the project's marker: what is there, and what to do."""
    return OutputRefused(
        f"{folder} is not empty ({describe_names(names)}) and was not written by adamllm (no {marker}); "
        f"`{command}` writes only into its own folders: {PICK_ANOTHER}"
    )


def _check_folder(folder: Path, command: str) -> bool:
    """Refuse a link or a file at ``folder``; ``True`` when it exists (a folder)."""
    refuse_link(folder, command)
    if os.path.lexists(folder) and not folder.is_dir():
        raise OutputRefused(f"{folder} exists and is not a folder; {PICK_ANOTHER}")
    return folder.is_dir()


def prepare_folder(
    folder: str | os.PathLike,
    writer: str,
    *,
    overwrite: bool = False,
    resume: bool = False,
    reports: Iterable[str] = (),
    ignore: Iterable[str] = (),
) -> Owner | None:
    """The check before ``writer`` (e.g. ``"adamllm build-dataset"``) writes ``folder``; touches nothing.

    Returns ``None`` for a missing or empty folder, the :class:`Owner` for a folder ``writer`` wrote before.
    Raises :class:`OutputRefused` (one line) for a link, a file, a non-empty folder without the marker, a
    folder another command wrote, and, without ``overwrite``, a folder of ``writer``'s holding one of
    ``reports`` or (unless ``resume``: the command continues an earlier run there) anything at all. ``ignore``:
    names that do not make a folder non-empty (a build's own temp folder left by a crash).
    """
    folder = Path(folder)
    if not _check_folder(folder, writer):
        return None
    names = _names(folder, ignore)
    if not names:
        return None
    owner = read_owner(folder)
    if owner is None:
        raise not_ours(folder, names, writer)
    if owner.writer != writer:
        raise OutputRefused(f"{folder} holds the output of `{owner.writer}`, not of `{writer}`; {PICK_ANOTHER}")
    if not overwrite:
        found = [name for name in reports if os.path.lexists(folder / name)]
        if found:
            raise OutputRefused(
                f"{folder} already holds {describe_names(found)} from an earlier `{writer}`; rerun with --overwrite "
                f"to replace that run's outputs, or {PICK_ANOTHER}"
            )
        if not resume:
            raise OutputRefused(
                f"{folder} already holds the output of an earlier `{writer}` ({describe_names(names)}); rerun with "
                f"--overwrite to replace it, or {PICK_ANOTHER}"
            )
    return owner


def release(folder: str | os.PathLike) -> None:
    """Undo :func:`claim` on a folder a failed command had found missing or empty: remove the marker, so a failure
    leaves no file behind (the folder itself stays)."""
    folder = Path(folder)
    marker = folder / MARKER
    if os.path.lexists(marker) and not os.path.islink(folder):
        marker.unlink()


def claim(folder: str | os.PathLike, writer: str, entries: Iterable[str]) -> Path:
    """Create ``folder`` if needed and record ``writer`` and ``entries`` (added to those recorded) in its marker.

    Call it after :func:`prepare_folder` and before writing any of ``entries``, so a crash never leaves an
    output the marker does not list. Returns the marker's path.
    """
    from hub_tools.rundir.shards import write_json_atomic

    folder = Path(folder)
    refuse_link(folder, writer)
    folder.mkdir(parents=True, exist_ok=True)
    owner = read_owner(folder)
    if owner is not None and owner.writer != writer:
        raise OutputRefused(f"{folder} holds the output of `{owner.writer}`, not of `{writer}`; {PICK_ANOTHER}")
    names = list(dict.fromkeys([*(owner.entries if owner else ()), *entries]))
    bad = [name for name in names if not _valid_entry(name)]
    if bad:
        raise ValueError(f"not a top-level name: {bad[0]!r}")
    path = folder / MARKER
    write_json_atomic(path, {"format": MARKER_FORMAT, "writer": writer, "entries": names})
    return path


def _remove(folder: Path, owner: Owner, names: Iterable[str] | None, command: str) -> list[str]:
    wanted = None if names is None else set(names)
    targets = [n for n in owner.entries if _valid_entry(n) and (wanted is None or n in wanted)]
    present = [n for n in targets if os.path.lexists(folder / n)]
    links = [n for n in present if os.path.islink(folder / n)]
    if links:  # checked for every name before anything is removed
        raise OutputRefused(
            f"{folder / links[0]} is a symbolic link; `{command}` removes only what it wrote and never through a "
            f"link: remove the link yourself, or {PICK_ANOTHER}"
        )
    for name in present:
        path = folder / name
        if path.is_dir():
            shutil.rmtree(path)  # removes links inside without following them
        else:
            path.unlink()
    return present


def remove_owned(
    folder: str | os.PathLike, writer: str, names: Iterable[str] | None = None, command: str | None = None
) -> list[str]:
    """Remove the outputs ``writer`` recorded in ``folder``'s marker (only those of ``names``, when given).

    By name, one by one; a symbolic link among them refuses the whole removal (:class:`OutputRefused`), as does
    a folder without ``writer``'s marker (then nothing is removed). The marker itself stays. Returns the names
    removed.
    """
    folder = Path(folder)
    command = command or writer
    if not _check_folder(folder, command):
        return []
    owner = read_owner(folder)
    if owner is None or owner.writer != writer:
        names_there = _names(folder)
        if not names_there:
            return []
        if owner is None:
            raise not_ours(folder, names_there, command)
        raise OutputRefused(f"{folder} holds the output of `{owner.writer}`, not of `{writer}`; {PICK_ANOTHER}")
    return _remove(folder, owner, names, command)


# -- run directories ------------------------------------------------------------------------------------
def _refuse_planted_manifest(run_dir: Path) -> None:
    """A symbolic link at ``manifest.json`` is a planted link (the one-line link refusal), not a missing marker."""
    if os.path.islink(run_dir / "manifest.json"):
        raise link_refusal(run_dir / "manifest.json", run_dir)


def _run_dir_names(run_dir: Path) -> list[str]:
    return [name for name in _names(run_dir) if not (owned_entry(name) and name not in RUN_OUTPUTS)]


def prepare_run_dir(run_dir: str | os.PathLike, command: str) -> Owner | None:
    """The check before a stage writes ``run_dir``: refuse a link, a file, or a non-empty folder that is not a
    run directory (no project ``manifest.json``; lock files alone do not count). Touches nothing."""
    run_dir = Path(run_dir)
    if not _check_folder(run_dir, command):
        return None
    _refuse_planted_manifest(run_dir)
    owner = run_dir_owner(run_dir)
    if owner is not None:
        return owner
    names = _run_dir_names(run_dir)
    if names:
        raise not_ours(run_dir, names, command, RUN_MARKER)
    return None


def clear_run_outputs(run_dir: str | os.PathLike, names: Iterable[str] = RUN_OUTPUTS, command: str = "") -> list[str]:
    """Remove ``names`` (stage outputs, :data:`RUN_OUTPUTS`) from a run directory: ``--overwrite``.

    Only in a run directory (its ``manifest.json`` is the marker; a folder holding nothing but lock files has
    nothing to remove), only those names, never through a link. Returns the names removed.
    """
    run_dir = Path(run_dir)
    command = command or "adamllm --overwrite"
    if not _check_folder(run_dir, command):
        return []
    names = [n for n in names if n in RUN_OUTPUTS]
    _refuse_planted_manifest(run_dir)
    owner = run_dir_owner(run_dir)
    if owner is None:
        there = _run_dir_names(run_dir)
        if not there:
            return []
        raise not_ours(run_dir, there, command, RUN_MARKER)
    return _remove(run_dir, owner, names, command)


def prepare_file(path: str | os.PathLike, command: str, *, overwrite: bool = False) -> None:
    """The check before ``command`` writes a single report file ``path``: a link or a folder there is refused;
    an existing file only with ``overwrite`` (it is then replaced as a whole). Touches nothing."""
    path = Path(path)
    if os.path.islink(path):
        raise OutputRefused(f"{path} is a symbolic link; `{command}` never writes through one: pick a new file name")
    if path.is_dir():
        raise OutputRefused(f"{path} is a folder; `{command}` writes one file there: pick a new file name")
    if path.exists() and not overwrite:
        raise OutputRefused(f"{path} already exists; rerun with --overwrite to replace it, or pick a new file name")


def start_folder(
    folder: str | os.PathLike,
    writer: str,
    entries: Iterable[str],
    *,
    overwrite: bool = False,
    reports: Iterable[str] = (),
    legacy: bool = False,
) -> Path:
    """Everything a long command (``quickstart``, ``ablate``) does with its ``--output`` before any work.

    :func:`prepare_folder` (``resume``: an interrupted run of ``writer`` there is continued; one that finished,
    i.e. holds one of ``reports``, is refused without ``overwrite``), then with ``overwrite`` the earlier run's
    outputs go (:func:`remove_owned`), then :func:`claim`. ``legacy``: a folder without a marker holding nothing
    but ``entries`` (no link), one of ``reports`` among them, was written by an older version of ``writer`` (a
    finished run) and is claimed as such.
    Returns the folder.
    """
    folder = Path(folder)
    entries, reports = tuple(entries), tuple(reports)
    if legacy and _check_folder(folder, writer) and read_owner(folder) is None:
        names = _names(folder)
        finished = any(name in reports for name in names)
        if finished and set(names) <= set(entries) and not any(os.path.islink(folder / n) for n in names):
            claim(folder, writer, names)
    prepare_folder(folder, writer, overwrite=overwrite, resume=True, reports=reports)
    if overwrite:
        remove_owned(folder, writer, command=f"{writer} --overwrite")
    claim(folder, writer, entries)
    return folder


TRAIN_WRITER = "adamllm train"
_TRAIN_EVIDENCE = "adamllm_stage.json"  # hub_tools.training.sft.STAGE_MARKER: a finished stage of an older version


def prepare_train_folder(folder: str | os.PathLike) -> Path:
    """Before ``adamllm train`` writes its ``output_dir`` (weights, ``README.md`` card, checkpoints): refuse a link,
    a file, or a non-empty folder that no training run wrote (one line, :class:`OutputRefused`); mark it as the
    training's. A folder an older version trained into (a stage record or ``checkpoint-*`` folders, nothing
    else foreign) is recognised. Training never removes anything; it resumes and rewrites its own files."""
    folder = Path(folder)
    if _check_folder(folder, TRAIN_WRITER):
        owner, names = read_owner(folder), _names(folder)
        if owner is None and names:
            older = (folder / _TRAIN_EVIDENCE).is_file() or any(
                n.startswith("checkpoint-") and (folder / n).is_dir() for n in names
            )
            if not older:
                raise not_ours(folder, names, TRAIN_WRITER)
        elif owner is not None and owner.writer != TRAIN_WRITER:
            raise OutputRefused(
                f"{folder} holds the output of `{owner.writer}`, not of `{TRAIN_WRITER}`; {PICK_ANOTHER}"
            )
    claim(folder, TRAIN_WRITER, ())
    return folder


def check_stage_run_dir(run_dir: str | os.PathLike, command: str, removing: bool = False) -> None:
    """Before a later stage (``filter``, ``compose``) locks and writes ``run_dir``: refuse a link, a folder whose
    ``manifest.json`` is not a run's (the stage would rewrite it), and, when the stage is to remove earlier
    outputs (``removing``: ``--overwrite``), a folder without a run's ``manifest.json``. Touches nothing."""
    run_dir = Path(run_dir)
    refuse_link(run_dir, command)
    if not run_dir.is_dir():
        return
    _refuse_planted_manifest(run_dir)
    if run_dir_owner(run_dir) is not None:
        return
    if removing or os.path.lexists(run_dir / "manifest.json"):
        raise not_ours(run_dir, _run_dir_names(run_dir), command, RUN_MARKER)
