"""``adamllm compare DIR_A DIR_B``: per-task score deltas of two evaluation runs and a bar chart."""

from __future__ import annotations

import argparse


def register(subparsers, name: str, help: str) -> None:
    """Add the ``compare`` subcommand."""
    p = subparsers.add_parser(name, help=help, description=help)
    p.add_argument("dir_a", metavar="DIR_A", help="baseline run folder (holds scores.json), e.g. the base model")
    p.add_argument("dir_b", metavar="DIR_B", help="run folder to compare against it, e.g. the adapted model")
    p.add_argument("--output", default="compare.png", help="bar chart PNG to write (default: compare.png)")
    p.add_argument("--labels", nargs=2, metavar=("NAME_A", "NAME_B"), default=None, help="run names in the chart")
    p.add_argument(
        "--domain",
        choices=("biomed", "food", "remote-sensing"),
        default=None,
        help="compare only this domain's tasks (default: every task either run has)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file (refused without)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the delta table (B - A, points) and save the chart."""
    from hub_tools.cli import fail
    from hub_tools.evaluation.report import compare, load_scores
    from hub_tools.rundir.ownership import OutputRefused, prepare_file

    try:  # every input, then the output file: an existing chart is replaced only with --overwrite
        load_scores(args.dir_a)
        load_scores(args.dir_b)
        prepare_file(args.output, "adamllm compare", overwrite=args.overwrite)
        labels = tuple(args.labels) if args.labels else None
        compare(args.dir_a, args.dir_b, args.output, labels=labels, domain=args.domain)
    except FileNotFoundError as err:  # a run folder without scores.json: a missing input
        return fail("compare", err)
    except OutputRefused as err:
        return fail("compare", err)
    return 0
