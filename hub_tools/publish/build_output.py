"""Where a dataset or benchmark build is written: ``--output`` checked and claimed for the build before any work
(:func:`prepare_output`, the project's ownership policy: :mod:`hub_tools.rundir.ownership`), and the finished build
moved in place of the last one's outputs, by name (:func:`replace_outputs`).
"""

from __future__ import annotations

import os
from pathlib import Path

from hub_tools.publish.cards import CONFIGS
from hub_tools.rundir.ownership import OutputRefused


class BuildError(RuntimeError):
    """The run directory cannot be turned into a dataset; the message names the file, row or count."""


class OutputRefusedBuild(BuildError, OutputRefused):
    """``--output`` is not the build's to write (:mod:`hub_tools.rundir.ownership`): both a :class:`BuildError` and an
    :class:`~hub_tools.rundir.ownership.OutputRefused`; ``str(err)`` is the one line."""


DATASET_WRITER = "adamllm build-dataset"
"""The writer a dataset folder's ownership marker records (:mod:`hub_tools.rundir.ownership`)."""
BUILD_TMP = ".adamllm-build"
"""The build's temp folder inside ``--output`` (listed by the marker, removed after every build)."""


def _legacy_build(output: Path) -> list[str] | None:
    """The names of a folder a build of an older version wrote (no marker): nothing but ``README.md``, the temp
    folder and folders holding parquet shards, at least one of those; ``None`` for anything else."""
    names, shards = [], 0
    for path in sorted(output.iterdir()):
        if path.is_symlink():
            return None
        if path.name in ("README.md", BUILD_TMP):
            names.append(path.name)
        elif path.is_dir() and any(p.suffix == ".parquet" for p in path.iterdir()):
            names.append(path.name)
            shards += 1
        else:
            return None
    return names if shards else None


def prepare_output(
    output: Path, overwrite: bool, writer: str = DATASET_WRITER, entries: tuple[str, ...] = CONFIGS
) -> bool:
    """Check and claim ``output`` for ``writer``'s build (``entries``: the folders it writes besides ``README.md``).

    Refused in one line (:class:`~hub_tools.rundir.ownership.OutputRefused`): a symbolic link, a file, a non-empty folder
    without the project's ownership marker (e.g. a git repository), one another command wrote, and, without
    ``overwrite``, one an earlier build wrote. A symbolic link where the build writes (its temp folder, a
    config folder, ``README.md``) is refused too (:class:`~hub_tools.rundir.RunDirRefused`). Then the folder
    is created and its marker lists what the build writes; nothing is removed here (:func:`replace_outputs`).
    Returns whether the folder was new or empty (a failed build then takes its marker back:
    :func:`hub_tools.rundir.ownership.release`).
    """
    from hub_tools.rundir import refuse_links
    from hub_tools.rundir.ownership import claim, prepare_folder, read_owner, refuse_link

    refuse_links([output / name for name in (BUILD_TMP, "README.md", *entries)])  # a planted link: named first
    try:
        refuse_link(output, writer)
        if output.is_dir() and read_owner(output) is None:
            legacy = _legacy_build(output)
            if legacy is not None:  # an older build's folder: mark what it holds as the build's
                claim(output, writer, legacy)
        fresh = prepare_folder(output, writer, overwrite=overwrite, ignore=(BUILD_TMP,)) is None
    except OutputRefused as err:
        raise OutputRefusedBuild(str(err)) from None
    claim(output, writer, (BUILD_TMP, "README.md", *entries))
    return fresh


def replace_outputs(output: Path, writer: str, built: Path) -> None:
    """Move each folder of ``built`` (the finished temp build) into ``output`` in place of the last build's.

    Every output of the earlier build that the marker lists is removed first, by name, never through a link
    (:func:`hub_tools.rundir.ownership.remove_owned`); the user's other files, if any, are left alone.
    """
    from hub_tools.rundir.ownership import claim, read_owner, remove_owned

    owner = read_owner(output)
    earlier = [n for n in (owner.entries if owner else ()) if n not in (BUILD_TMP, "README.md")]
    names = sorted(p.name for p in built.iterdir()) if built.is_dir() else []
    claim(output, writer, names)
    remove_owned(output, writer, [*earlier, *names])
    for name in names:
        os.replace(built / name, output / name)
