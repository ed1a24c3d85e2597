"""``adamllm train --config RECIPE.yaml [overrides]``: the TRL SFT recipe of ``hub_tools.training.sft``.

Every argument after ``train`` goes to ``hub_tools.training.sft``'s parser (``ScriptArguments``, ``SFTConfig``,
``ModelConfig``), so ``adamllm train --config X.yaml --learning-rate 1e-4`` equals
``python -m hub_tools.sft --config X.yaml --learning-rate 1e-4``. Those options are kebab-case like every
other ``adamllm`` flag; the snake_case spelling of the YAML key (``--learning_rate``) is accepted too. Under several processes run
``accelerate launch [--config_file recipes/accelerate_configs/zero3.yaml] -m hub_tools.cli train --config ...``.
"""

from __future__ import annotations

import argparse

DESCRIPTION = """Post-train a multimodal LLM with the TRL SFT recipe (single-stage by default).

Examples:
  adamllm train --config recipes/qwen2-vl-2b/sft/config_biomed.yaml
  adamllm train --config recipes/tiny/sft/config.yaml --output-dir runs/tiny-sft --max-steps 5
  adamllm train --config recipes/qwen2-vl-2b/sft/config_biomed.yaml --learning-rate 2e-5 --no-progress
  accelerate launch --multi_gpu --num_processes 2 -m hub_tools.cli train --config recipes/tiny/sft/config.yaml
  adamllm train --write-demo-data .cache/tiny-sft-data   # the small rows recipes/tiny reads

Overrides (such as --max-steps 5) go before or after --config YAML; they are hub_tools.training.sft's
options, listed by `python -m hub_tools.sft --help`. Every override
is the YAML key in kebab-case (--learning-rate 2e-5, --per-device-train-batch-size 4); the key's own
snake_case spelling (--learning_rate 2e-5) is accepted as an alias. --no-progress (anywhere) hides
the training progress bar (the same as --disable-tqdm true); loss lines are still logged.
"""


def register(subparsers, name: str = "train", help: str | None = None) -> None:
    """Add the ``train`` subcommand."""
    p = subparsers.add_parser(
        name, help=help, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--write-demo-data", metavar="DIR", help="write the small demo rows (+ images) to DIR and exit")
    p.add_argument("--demo-rows", type=int, default=16, help="rows for --write-demo-data (default 16)")
    p.add_argument(
        "--no-progress", action="store_true", help="hide the training progress bar (same as --disable-tqdm true)"
    )
    p.add_argument(
        "--config",
        nargs=argparse.REMAINDER,
        metavar="YAML [OVERRIDES]",
        help="the recipe YAML, then any hub_tools.training.sft overrides (everything after --config goes to the recipe)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Parse the recipe and run ``hub_tools.training.sft.main``."""
    if args.write_demo_data:
        from hub_tools.miniature.sft_demo import write_demo_rows

        path = write_demo_rows(args.write_demo_data, num_rows=args.demo_rows)
        print(f"wrote {args.demo_rows} rows to {path}")
        return 0
    from pathlib import Path

    from hub_tools.cli import fail

    before = list(getattr(args, "overrides", None) or [])  # recipe overrides given before --config
    if not args.config:
        return fail("train", "give --config RECIPE.yaml [overrides] (see adamllm train --help)", 2)
    if not Path(args.config[0]).is_file():
        return fail("train", f"recipe not found: {args.config[0]!r} (see recipes/README.md)")
    overrides = [a for a in [*before, *args.config[1:]] if a != "--no-progress"]
    no_progress = args.no_progress or len(overrides) < len(before) + len(args.config) - 1
    sft_args = ["--config", args.config[0], *overrides, *(["--disable-tqdm", "true"] if no_progress else [])]
    from hub_tools.defaults import set_progress
    from hub_tools.redaction import strip_credentials
    from hub_tools.training.sft import main, parse_args

    set_progress(not no_progress, quiet_transformers=True)
    parsed = parse_args(sft_args, prog="adamllm train")  # RecipeError (unknown key, broken YAML): exit 2
    model = parsed[2].model_name_or_path
    if model:
        from hub_tools.preflight import check_model

        check_model("model", model)  # a mistyped folder: one line naming the closest one, before any loading
    from hub_tools.rundir.ownership import prepare_train_folder

    prepare_train_folder(parsed[1].output_dir)  # a user's folder is never written into (OutputRefused: one line)
    summary = main(*parsed)
    print(f"trained {len(summary['stages'])} stage(s); model in {strip_credentials(summary['output_dir'])}")
    if summary.get("url"):
        print(f"pushed to {strip_credentials(summary['url'])}")
    return 0
