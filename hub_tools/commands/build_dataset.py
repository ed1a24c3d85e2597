"""``adamllm build-dataset RUN_DIR --output DIR [--push-to-hub REPO_ID] [--private]``."""

from __future__ import annotations

import argparse
import re
import sys

DESCRIPTION = (
    "Build a Hub dataset folder from a pipeline run directory: three configs (image_caption_pairs, "
    "synthetic_visual_tasks, image_caption_and_synthetic_task = default) as parquet shards with the images "
    "embedded, and a dataset card. Optionally publish it to the Hub in one commit."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the visual-instruction dataset builder (shared with dataset_scripts/)."""
    p.add_argument("run_dir", help="the pipeline's run directory (synthesis/, filter/, compose/, images/, stats.json)")
    p.add_argument("--output", required=True, help="folder to write the dataset into")
    p.add_argument("--push-to-hub", metavar="REPO_ID", default=None, help="publish the folder to this dataset repo")
    p.add_argument("--private", action="store_true", help="create the Hub repo as private")
    p.add_argument("--max-shard-size", default="500MB", help="upper bound of one parquet shard (default 500MB)")
    p.add_argument(
        "--license",
        default="other",
        help="licence of the synthesized text in the card, a Hub licence id such as cc-by-4.0 (default: other; the "
        "card says the text inherits the terms of the synthesizer and checker it names)",
    )
    p.add_argument(
        "--language",
        action="append",
        default=None,
        metavar="CODE",
        help="language of the text for the card header (ISO 639-1, repeatable; default: en)",
    )
    p.add_argument("--tag", action="append", default=[], help="extra card tag (repeatable), e.g. --tag medical")
    p.add_argument("--pretty-name", default=None, help="title of the dataset card")
    p.add_argument("--overwrite", action="store_true", help="replace the contents of a non-empty --output folder")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def register(subparsers, name: str, help: str) -> None:
    """Add the ``build-dataset`` subcommand."""
    p = subparsers.add_parser(name, help=help, description=DESCRIPTION)
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the folder, print its configs and row counts, and publish when ``--push-to-hub`` is given."""
    from hub_tools.cli import fail
    from hub_tools.defaults import set_progress
    from hub_tools.publish.dataset import BuildError, build_visual_instructions
    from hub_tools.publish.parquet import parse_size

    languages = list(dict.fromkeys(args.language or ["en"]))
    bad = [code for code in languages if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", code)]
    if bad:
        return fail("build-dataset", f"--language {bad[0]!r} is not a language code (ISO 639-1 such as en, fr)", 2)
    set_progress(not args.no_progress)
    try:
        result = build_visual_instructions(
            args.run_dir,
            args.output,
            max_shard_bytes=parse_size(args.max_shard_size),
            license=args.license,
            language=languages,
            tags=args.tag,
            pretty_name=args.pretty_name,
            repo_id=args.push_to_hub,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
    except (BuildError, ValueError) as err:
        return fail("build-dataset", err)
    print("\n".join(result.summary_lines()))
    if not any(n for config, n in result.rows.items() if config != "image_caption_pairs"):
        print(
            "adamllm build-dataset: note: no image has a training row (no kept task, no caption-only row; see "
            "RUN_DIR/stats.json no_task): only the image_caption_pairs config was written",
            file=sys.stderr,
        )
    if args.push_to_hub:
        from hub_tools.publish.hub import push_folder

        try:
            url = push_folder(result.output, args.push_to_hub, private=args.private)
        except Exception as err:  # network / auth errors from huggingface_hub carry their own message
            return fail("build-dataset", f"publishing to {args.push_to_hub!r} failed: {type(err).__name__}: {err}")
        print(f"published: {url}")
    return 0
