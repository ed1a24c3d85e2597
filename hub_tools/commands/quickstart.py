"""``adamllm quickstart``: the whole method in miniature, on CPU, offline."""

from __future__ import annotations

import argparse


def register(subparsers, name: str, help: str) -> None:
    """Add the ``quickstart`` subcommand."""
    from hub_tools.miniature.world.params import DEFAULT_DOMAIN, WORLD_DOMAINS

    p = subparsers.add_parser(name, help=help, description=help + " Writes OUTPUT/REPORT.md.")
    p.add_argument("--output", default="outputs/quickstart", help="folder for every artifact and the report")
    p.add_argument("--seed", type=int, default=0, help="seed of the world, the models and every draw (default: 0)")
    p.add_argument(
        "--small",
        action="store_true",
        help="a reduced run that touches every stage (59 s measured on the 2-core development box at load ~1, "
        "313 s at load 5-7: benchmarks/RESULTS.md)",
    )
    p.add_argument(
        "--domain",
        choices=WORLD_DOMAINS,
        default=DEFAULT_DOMAIN,
        help="the miniature world's domain: scans and plates (biomed+food, the default) or remote-sensing (aerial "
        "scenes: land use, object counts and sides; the student is scored on the CLRS, FloodNet and NWPU-Captions "
        "tasks of a miniature benchmark)",
    )
    p.add_argument(
        "--pretrain-steps", type=int, default=None, help="text-pretraining steps of the tiny synthesizer (0: none)"
    )
    p.add_argument(
        "--tune-steps", type=int, default=None, help="seed-set tuning steps of the tiny synthesizer (-1: time budget)"
    )
    p.add_argument(
        "--tune-minutes",
        type=float,
        default=None,
        help="cap on seed-set tuning time (off by default: a cap makes results depend on the machine's speed; "
        "the whole budget with --tune-steps -1); the report says when it stopped tuning",
    )
    p.add_argument(
        "--budget-minutes",
        type=float,
        default=None,
        help="scale the training steps down to fit N minutes (the full run took 309 s on a 2-core development box "
        "at load 1.3-1.9, README; it is sized for 10 minutes on a box half as fast); the scale depends on N only, and the "
        "report says what was cut",
    )
    p.add_argument(
        "--threads",
        default=None,
        help="torch threads of the tiny synthesizer: a number, or 'auto' (default: the faster of 1 and all cores, "
        "re-measured while training; a fixed number keeps the load out of the arithmetic: counts round floats differently)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start over in an --output holding an earlier run's report: remove that run's outputs first",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars of the stages")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the quickstart and print where the report is."""
    from hub_tools.cli import fail
    from hub_tools.defaults import set_progress
    from hub_tools.miniature.quickstart import QuickstartConfig, prepare_quickstart, run_quickstart
    from hub_tools.rundir.ownership import OutputRefused

    set_progress(not args.no_progress, quiet_transformers=True)
    if args.small:
        config = QuickstartConfig.small(args.seed, args.domain)
    else:
        config = QuickstartConfig(seed=args.seed, domain=args.domain)
    if args.budget_minutes is not None:
        config = config.scaled(args.budget_minutes)
    overrides = {
        "pretrain_steps": args.pretrain_steps,
        "tune_max_steps": args.tune_steps,
        "tune_minutes": args.tune_minutes,
        "threads": None if args.threads in (None, "auto") else int(args.threads),
    }
    for field, value in overrides.items():
        if value is not None:
            setattr(config, field, value)
    try:  # every option checked, before any work: an earlier report is not replaced without --overwrite
        prepare_quickstart(args.output, overwrite=args.overwrite)
    except OutputRefused as err:
        return fail("quickstart", err)
    run_quickstart(args.output, config)  # its outputs were removed above when --overwrite was given
    return 0
