"""``adamllm sample-data --output DIR``: write the bundled sample image-caption pairs."""

from __future__ import annotations

import argparse


def register(subparsers, name: str, help: str) -> None:
    """Add the ``sample-data`` subcommand."""
    from hub_tools.cli import add_output_argument

    p = subparsers.add_parser(name, help=help, description=help)
    add_output_argument(p, "folder to write the pairs and their images into")
    p.add_argument(
        "--format",
        choices=["sharegpt", "imagefolder"],
        default="sharegpt",
        help="sharegpt: image_caption_pairs.json + images/; imagefolder: images + metadata.jsonl (default: sharegpt)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn sample images (default: 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the sample pairs and print the path to pass as ``--pairs``."""
    from hub_tools.cli import output_dir
    from hub_tools.miniature.samples import write_sample_pairs

    print(write_sample_pairs(output_dir(args), seed=args.seed, fmt=args.format))
    return 0
