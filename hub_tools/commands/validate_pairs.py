"""``adamllm validate-pairs SPEC``: read pairs, decode every image, report accepted and rejected."""

from __future__ import annotations

import argparse


def add_reader_arguments(p: argparse.ArgumentParser) -> None:
    """The options every command that reads image-caption pairs shares."""
    p.add_argument(
        "--image-root", default=None, help="folder that image paths are relative to (default: the file's folder)"
    )
    p.add_argument("--image-column", default="image", help="image column of a Hugging Face dataset")
    p.add_argument("--caption-column", default="caption", help="caption column of a dataset / metadata.jsonl")
    p.add_argument("--split", default="train", help="split of a Hugging Face dataset")
    p.add_argument("--limit", type=int, default=None, help="read at most this many records")


def register(subparsers, name: str, help: str) -> None:
    """Add the ``validate-pairs`` subcommand."""
    p = subparsers.add_parser(name, help=help, description=help)
    p.add_argument(
        "pairs", help="ShareGPT .json/.jsonl, image folder with metadata.jsonl, or a dataset path / repo id"
    )
    add_reader_arguments(p)
    p.add_argument("--rejections", default=None, help="write rejected records (id, reason, source) to this JSONL file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Stream the pairs with a progress bar; print counts and the rejection reasons."""
    import contextlib
    import json
    from collections import Counter

    from tqdm.auto import tqdm

    from hub_tools.data import Rejection, read_pairs

    counts = Counter()
    reasons = Counter()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(args.rejections, "w")) if args.rejections else None
        records = read_pairs(
            args.pairs,
            image_root=args.image_root,
            image_column=args.image_column,
            caption_column=args.caption_column,
            split=args.split,
            limit=args.limit,
        )
        for record in tqdm(records, desc="validating pairs", unit="pair"):
            if isinstance(record, Rejection):
                counts["rejected"] += 1
                reasons[record.reason.split(":")[0]] += 1
                if out:
                    out.write(json.dumps({"id": record.id, "reason": record.reason, "source": record.source}) + "\n")
            else:
                counts["accepted"] += 1
    print(f"accepted: {counts['accepted']}  rejected: {counts['rejected']}")
    for reason, n in reasons.most_common():
        print(f"  {n:6d}  {reason}")
    return 0
