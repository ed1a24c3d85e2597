"""``adamllm compose RUN_DIR``: compose training conversations from the kept task triplets."""

from __future__ import annotations

import argparse


def register(subparsers, name: str, help: str) -> None:
    """Add the ``compose`` subcommand."""
    from hub_tools.cli import add_run_dir_argument

    p = subparsers.add_parser(
        name,
        help=help,
        description=help + " Writes RUN_DIR/compose/<split>.jsonl in TRL's conversational vision format.",
    )
    add_run_dir_argument(p, "run directory after `adamllm filter`")
    add_compose_arguments(p)
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="hide progress bars (accepted like on every stage; compose works in memory and shows none)",
    )
    p.set_defaults(func=run)


def add_compose_arguments(p: argparse.ArgumentParser, seed: bool = True) -> None:
    """The composition options shared by ``compose`` and ``pipeline`` (which reuses synthesis's ``--seed``)."""
    p.add_argument(
        "--mode",
        choices=["single-stage", "two-stage"],
        default="single-stage",
        help="single-stage: caption + task in one conversation per image (default); "
        "two-stage: separate 'caption' and 'task' splits (the baseline)",
    )
    p.add_argument("--synthetic-only", action="store_true", help="drop the caption turns (tasks only)")
    if seed:
        p.add_argument("--seed", type=int, default=0, help="seed of the per-example template and order draws")
    p.add_argument(
        "--cue-rule",
        choices=["released", "words"],
        default="released",
        help="answer-cue rule choosing informative / concatenated / chain-of-thought answers: released (substring "
        "cues, the release's rule, default) or words (whole-word cues; a departure, see docs/protocol.md)",
    )
    p.add_argument(
        "--keep-captions-without-task",
        action="store_true",
        help="keep a caption-only row for images with no complete triplet (released: such images are dropped)",
    )
    p.add_argument(
        "--export",
        choices=["llamafactory"],
        default=None,
        help="also write LLaMA-Factory ShareGPT JSON + dataset_info.json to RUN_DIR/compose/llamafactory/",
    )


def compose_options(args: argparse.Namespace):
    """The typed :class:`~hub_tools.compose.ComposeOptions` of parsed compose options."""
    from hub_tools.compose import ComposeOptions

    return ComposeOptions(
        mode=args.mode,
        synthetic_only=args.synthetic_only,
        seed=args.seed,
        export=args.export,
        cue_rule=args.cue_rule,
        keep_captions_without_task=args.keep_captions_without_task,
    )


def run(args: argparse.Namespace) -> int:
    """Compose the run directory and print the split sizes and stats."""
    from hub_tools.cli import run_dir_arg

    args.run_dir = run_dir_arg(args)  # RUN_DIR or --output RUN_DIR
    import json
    from dataclasses import asdict

    from hub_tools.cli import fail
    from hub_tools.compose import compose_run

    try:
        result = compose_run(args.run_dir, **asdict(compose_options(args)))
    except (FileNotFoundError, ValueError) as err:
        return fail("compose", err)
    for split, n in result["splits"].items():
        print(f"{split}: {n} row(s)")
    for path in result["files"]:
        print(f"wrote {path}")
    print(json.dumps(result["stats"], indent=2))
    return 0
