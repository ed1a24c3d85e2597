"""``adamllm doctor RUN_DIR [--repair]``: find (and repair) damage in a run directory."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Check a run directory: no symbolic link where the project reads or writes (lock file, manifest.json,
stats.json, stage folders, shards, images), manifest.json and stats.json are valid JSON, every line of
every synthesis/ and filter/ shard is a valid row of its stage, finished shards end in a whole line,
every pair id appears once per stage and belongs to the run's input, every filter row judges a
synthesized pair, and stats.json agrees with the rows. Prints one line per problem (exit 1), or
'RUN_DIR: healthy (...)' (exit 0). Works on a read-only run directory. With --repair, links are
removed (never followed), each damaged shard is moved to RUN_DIR/quarantine/<stage>/ and its good rows
(first occurrence of each id) are rewritten into a fresh shard; rerun the stages afterwards and they
redo exactly the rows that were lost.
"""


def register(subparsers, name: str, help: str) -> None:
    """Add the ``doctor`` subcommand."""
    from hub_tools.cli import add_run_dir_argument

    p = subparsers.add_parser(
        name, help=help, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_run_dir_argument(p, "run directory (synthesis/, filter/, stats.json)")
    p.add_argument(
        "--repair",
        action="store_true",
        help="quarantine damaged shards and rewrite their good rows, so the stages can resume",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Check (and with ``--repair`` repair) the run directory, holding its lock."""
    from hub_tools.cli import run_dir_arg

    args.run_dir = run_dir_arg(args)  # RUN_DIR or --output RUN_DIR
    import contextlib
    import os
    import sys
    from pathlib import Path

    from hub_tools.cli import fail
    from hub_tools.rundir import LOCK_NAME, check_run_dir, lock_run_dir, repair_run_dir

    run_dir = args.run_dir
    if not Path(run_dir).is_dir():
        return fail("doctor", f"run directory not found: {run_dir!r}")
    if args.repair:  # it moves and unlinks: only in a run directory, never through a link
        from hub_tools.rundir.ownership import RUN_MARKER, OutputRefused, not_ours, refuse_link, run_dir_owner

        try:
            refuse_link(run_dir, "adamllm doctor --repair")
            synthesis = Path(run_dir) / "synthesis"
            if run_dir_owner(run_dir) is None and not (synthesis.is_dir() and not synthesis.is_symlink()):
                there = sorted(p.name for p in Path(run_dir).iterdir())
                raise not_ours(run_dir, there or ["nothing"], "adamllm doctor --repair", RUN_MARKER)
        except OutputRefused as err:
            return fail("doctor", err)
    lock_file = Path(run_dir) / LOCK_NAME
    if lock_file.is_symlink() and args.repair:  # before locking: the lock is never taken through a link
        target = os.readlink(lock_file)
        lock_file.unlink()
        print(f"{run_dir}: repaired: removed the symbolic link {LOCK_NAME} (to {target!r}; the target is untouched)")
    if lock_file.is_symlink():  # check without the lock (no stage can take it either); the check reports the link
        guard = contextlib.nullcontext()
    else:
        command = "adamllm doctor --repair" if args.repair else "adamllm doctor"
        guard = lock_run_dir(run_dir, command, create=False, read_only=not args.repair, check_links=False)
    with guard:
        found = check_run_dir(run_dir)
        for line in found.problems:
            print(f"{run_dir}: {line}")
        if args.repair and not found.healthy:
            result = repair_run_dir(run_dir)
            for line in result["actions"]:
                print(f"{run_dir}: repaired: {line}")
            found = check_run_dir(run_dir)
            for line in found.problems:
                print(f"{run_dir}: still wrong: {line}")
            lost = {stage: n for stage, n in result["lost"].items() if n}
            if found.healthy and lost:
                todo = ", ".join(f"{n} {stage} row(s)" for stage, n in lost.items())
                print(f"{run_dir}: rerun the stages (or the pipeline) to redo {todo}")
    if found.healthy:
        print(f"{run_dir}: healthy ({found.synthesis_rows} synthesis rows, {found.filter_rows} filter rows)")
    for line in found.notes:
        print(f"{run_dir}: note: {line}")
    if not found.healthy and not args.repair:
        print(f"adamllm doctor: hint: `adamllm doctor {run_dir} --repair` moves the damage aside", file=sys.stderr)
    return 0 if found.healthy else 1
