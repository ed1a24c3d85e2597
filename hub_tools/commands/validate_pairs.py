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
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Stream the pairs with a progress bar; print counts, duplicates and the rejection reasons."""
    import contextlib
    import hashlib
    import json
    from collections import Counter

    from hub_tools.cli import fail
    from hub_tools.data import BadInput, ImageCaptionPair, Rejection, read_pairs, reason_kind, validate
    from hub_tools.data.layout import nothing_accepted
    from hub_tools.defaults import progress_bar
    from hub_tools.preflight import check_pairs

    counts = Counter()
    reasons = Counter()
    # Duplicates (same image and caption) are kept as two pairs but counted. One 64-bit digest per accepted
    # pair as a Python int in a set: about 70 bytes each, ~70 MB for 1M pairs (collisions: ~1e-7 at 10M).
    seen: set[int] = set()
    columns = {"image_column": args.image_column, "caption_column": args.caption_column}
    try:
        # a missing file, an unknown format or records of another layout: one line, before any progress bar
        check_pairs(args.pairs, image_root=args.image_root, split=args.split, **columns)
        with contextlib.ExitStack() as stack:
            out = stack.enter_context(open(args.rejections, "w")) if args.rejections else None
            records = read_pairs(
                args.pairs,
                image_root=args.image_root,
                image_column=args.image_column,
                caption_column=args.caption_column,
                split=args.split,
                limit=args.limit,
                check_images=False,
            )
            for record in progress_bar(records, desc="validating pairs", unit="pair", disable=args.no_progress):
                if isinstance(record, ImageCaptionPair):
                    key = _image_key(record.image)
                    record = validate(record)
                if isinstance(record, Rejection):
                    counts["rejected"] += 1
                    reasons[reason_kind(record.reason)] += 1
                    if out:
                        row = {"id": record.id, "reason": record.reason, "source": record.source}
                        out.write(json.dumps(row) + "\n")
                else:
                    counts["accepted"] += 1
                    digest = hashlib.blake2b(key, digest_size=8)
                    digest.update(b"\0" + record.caption.encode("utf-8"))
                    h = int.from_bytes(digest.digest(), "big")
                    counts["duplicates"] += h in seen
                    seen.add(h)
    except (BadInput, FileNotFoundError, ValueError) as err:
        return fail("validate-pairs", err)
    print(f"accepted: {counts['accepted']}  rejected: {counts['rejected']}")
    print(f"duplicates: {counts['duplicates']} (same image and caption; kept as separate pairs)")
    for reason, n in reasons.most_common():
        print(f"  {n:6d}  {reason}")
    if not counts["accepted"]:
        return fail("validate-pairs", nothing_accepted(args.pairs, reasons, **columns))
    return 0


def _image_key(image) -> bytes:
    """What identifies an image for duplicate counting: its path, or a hash of its bytes."""
    import hashlib

    if isinstance(image, dict):
        image = image.get("bytes") or image.get("path")
    if isinstance(image, (bytes, bytearray)):
        return b"bytes:" + hashlib.blake2b(image, digest_size=16).digest()
    if isinstance(image, str):
        return b"path:" + image.encode("utf-8", "surrogatepass")
    if image is not None and hasattr(image, "tobytes"):  # a decoded PIL image
        return b"pixels:" + hashlib.blake2b(image.tobytes(), digest_size=16).digest()
    return b"none"
