"""``adamllm tiny-models --output DIR``: build the offline tiny models."""

from __future__ import annotations

import argparse


def register(subparsers, name: str, help: str) -> None:
    """Add the ``tiny-models`` subcommand."""
    from hub_tools.cli import add_output_argument

    p = subparsers.add_parser(
        name,
        help=help,
        description=help
        + " Four with random weights (qwen2_vl/, llava_next/, llama/, qwen2_5_vl/) and two briefly tuned so an offline"
        " run writes tasks and verdicts (synthesizer/, checker/: the first time 99 s measured on the 2-core development"
        " box at load ~2, 238 s at load 5-7, benchmarks/RESULTS.md; then copied"
        " from the tiny cache, $ADAMLLM_TINY_CACHE or ~/.cache/adamllm-hub/tiny). For tests and smoke runs only.",
    )
    add_output_argument(p, "folder to write qwen2_vl/, llava_next/, llama/, qwen2_5_vl/, synthesizer/, checker/ into")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, tokenizers and tuning (default: 0)")
    p.add_argument("--force", action="store_true", help="rebuild (and retune) even when a matching build exists")
    p.add_argument("--no-tuned", action="store_true", help="only the four random-weight models (no tuning)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars of the tuning")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the tiny models and print where they are."""
    import sys
    from pathlib import Path

    from hub_tools.cli import output_dir
    from hub_tools.defaults import set_progress
    from hub_tools.miniature.tiny_tuned import build_all_tiny_models
    from hub_tools.rundir import read_json

    set_progress(not args.no_progress, quiet_transformers=True)
    paths = build_all_tiny_models(
        output_dir(args),
        seed=args.seed,
        force=args.force,
        tuned=not args.no_tuned,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    for name, path in paths.items():
        print(f"{name}\t{path}")
    tuning = paths.get("synthesizer") and read_json(Path(paths["synthesizer"]) / "synthesizer.json", default=None)
    if tuning:  # the losses are in that file, not printed step by step
        print(
            f"tiny-models: synthesizer tuned for {tuning.get('steps')} steps, training loss "
            f"{tuning.get('train_loss', float('nan')):.3f} (every logged loss: {paths['synthesizer']}/synthesizer.json)",
            file=sys.stderr,
        )
    return 0
