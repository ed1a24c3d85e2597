"""``adamllm world --output DIR``: build the miniature world (seed sets, domain pairs, mini benchmark)."""

from __future__ import annotations

import argparse


def register(subparsers, name: str, help: str) -> None:
    """Add the ``world`` subcommand."""
    from hub_tools.cli import add_output_argument
    from hub_tools.defaults import WORLD_BENCHMARK_PER_TASK, WORLD_PAIRS, WORLD_SEED_IMAGES
    from hub_tools.miniature.world.params import DEFAULT_DOMAIN, WORLD_DOMAINS

    p = subparsers.add_parser(
        name, help=help, description=help + " Deterministic: the same seed gives the same files."
    )
    add_output_argument(p, "folder to write the world into")
    p.add_argument("--seed", type=int, default=0, help="seed of every drawn image, caption and question (default: 0)")
    p.add_argument(
        "--seed-images",
        type=int,
        default=None,
        help=f"images in all three seed sets (default: {WORLD_SEED_IMAGES})",
    )
    p.add_argument("--pairs", type=int, default=None, help=f"domain image-caption pairs (default: {WORLD_PAIRS})")
    p.add_argument(
        "--benchmark-per-task",
        type=int,
        default=None,
        help=f"rows per benchmark task (default: {WORLD_BENCHMARK_PER_TASK})",
    )
    p.add_argument(
        "--domain",
        choices=WORLD_DOMAINS,
        default=DEFAULT_DOMAIN,
        help="scans and plates (biomed+food, the default) or aerial scenes (remote-sensing: land use, object counts "
        "and sides; benchmark tasks CLRS, FloodNet, NWPU-Captions)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the world and print its folder."""
    from hub_tools.cli import output_dir
    from hub_tools.miniature.world import build_world

    sizes = {"seed_images": args.seed_images, "pairs": args.pairs, "benchmark_per_task": args.benchmark_per_task}
    sizes = {k: v for k, v in sizes.items() if v is not None}
    print(build_world(output_dir(args), seed=args.seed, domain=args.domain, **sizes))
    return 0
