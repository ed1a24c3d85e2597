"""``adamllm tiny-models OUT_DIR``: build the offline tiny models."""

from __future__ import annotations

import argparse


def register(subparsers, name: str, help: str) -> None:
    """Add the ``tiny-models`` subcommand."""
    p = subparsers.add_parser(name, help=help, description=help + " Random weights; for tests and smoke runs only.")
    p.add_argument("out_dir", help="folder to write qwen2_vl/, llava_next/ and llama/ into")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="rebuild even when a matching build exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the tiny models and print where they are."""
    from hub_tools.miniature.tiny_models import build_tiny_models

    paths = build_tiny_models(args.out_dir, seed=args.seed, force=args.force)
    for name, path in paths.items():
        print(f"{name}\t{path}")
    return 0
