"""``adamllm sample-data OUT_DIR``: write the bundled sample image-caption pairs."""

from __future__ import annotations

import argparse


def register(subparsers, name: str, help: str) -> None:
    """Add the ``sample-data`` subcommand."""
    p = subparsers.add_parser(name, help=help, description=help)
    p.add_argument("out_dir")
    p.add_argument("--format", choices=["sharegpt", "imagefolder"], default="sharegpt")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the sample pairs and print the path to pass as ``--pairs``."""
    from hub_tools.miniature.samples import write_sample_pairs

    print(write_sample_pairs(args.out_dir, seed=args.seed, fmt=args.format))
    return 0
