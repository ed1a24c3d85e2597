"""``adamllm filter RUN_DIR``: judge synthesized triplets for consistency (Yes / No / Open)."""

from __future__ import annotations

import argparse

DEFAULT_CHECKER = "meta-llama/Meta-Llama-3-8B"


def register(subparsers, name: str, help: str) -> None:
    """Add the ``filter`` subcommand."""
    p = subparsers.add_parser(
        name,
        help=help,
        description=help + " Keeps going where an interrupted run stopped (RUN_DIR/filter/ shards).",
    )
    p.add_argument("run_dir", help="run directory written by `adamllm synthesize`")
    add_checker_arguments(p)
    p.set_defaults(func=run)


def add_checker_arguments(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """The checker options shared by ``filter`` and ``pipeline`` (there prefixed ``--checker-``)."""
    p.add_argument(
        "--checker",
        default=DEFAULT_CHECKER,
        help=f"checker LLM (Hub id or local folder), or 'lexical' for the offline heuristic (default: {DEFAULT_CHECKER})",
    )
    p.add_argument(f"--{prefix}batch-size", type=int, default=8, help="checker items per forward pass (default: 8)")
    p.add_argument(f"--{prefix}device", default=None, help="torch device for the checker (default: cuda if available)")
    p.add_argument(
        f"--{prefix}dtype", default=None, help="checker dtype, e.g. bfloat16 (default: bf16 on GPU, fp32 on CPU)"
    )
    p.add_argument(
        "--no-shared-prefix",
        action="store_true",
        help="run the whole few-shot prompt per item instead of reusing the prefix KV cache (slower; for comparison)",
    )
    p.add_argument(
        "--all-triplets",
        action="store_true",
        help="judge every triplet of a pair, not only the first (the one the released protocol keeps)",
    )


def make_checker(args: argparse.Namespace, prefix: str = ""):
    """Build the checker named by ``args.checker`` (options read with the same ``prefix`` as added)."""
    from hub_tools.filtering import load_checker

    if args.checker == "lexical":
        return load_checker("lexical")
    key = prefix.replace("-", "_")
    return load_checker(
        args.checker,
        device=getattr(args, f"{key}device"),
        dtype=getattr(args, f"{key}dtype"),
        shared_prefix=not args.no_shared_prefix,
    )


def run(args: argparse.Namespace) -> int:
    """Judge the pending pairs, then print the verdict counts."""
    import json
    import sys

    from hub_tools.filtering import filter_run

    if args.batch_size < 1:
        print("adamllm filter: --batch-size must be at least 1", file=sys.stderr)
        return 2
    try:
        result = filter_run(
            args.run_dir, make_checker(args), batch_size=args.batch_size, all_triplets=args.all_triplets
        )
    except (FileNotFoundError, ValueError) as err:
        print(f"adamllm filter: {err}", file=sys.stderr)
        return 1
    print(f"judged {result['items']} item(s) of {result['pairs']} pair(s) ({result['already_done']} done before)")
    print(json.dumps(result["stats"], indent=2))
    return 0
