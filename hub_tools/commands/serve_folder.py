"""``adamllm serve-folder MODEL OUT_DIR``: a copy of a model folder that ``transformers serve`` answers raw."""

from __future__ import annotations

import argparse


def register(subparsers, name: str, help: str) -> None:
    """Add the ``serve-folder`` subcommand."""
    p = subparsers.add_parser(
        name,
        help=help,
        description=help
        + " transformers serve drops special tokens from its replies unless the served tokenizer declares a response "
        "template; the copy declares one that returns the raw decode, so the synthesizer's turn markers reach the "
        "client (weights are hard-linked where possible). Then: transformers serve OUT_DIR, and adamllm synthesize "
        "--synthesizer OUT_DIR --endpoint URL.",
    )
    p.add_argument("model", help="local model folder (the synthesizer)")
    p.add_argument("out_dir", metavar="OUT_DIR", help="new folder to write (must not exist or be empty)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the served copy and print its path."""
    from hub_tools.cli import fail
    from hub_tools.synthesis.served import prepare_served_folder

    try:
        print(prepare_served_folder(args.model, args.out_dir))
    except (FileNotFoundError, FileExistsError) as err:
        return fail("serve-folder", err)
    return 0
