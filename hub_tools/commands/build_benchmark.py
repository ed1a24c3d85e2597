"""``adamllm build-benchmark {biomed,food,remote-sensing} --<release> DIR ... --output DIR``: raw releases -> schema.

``dataset_scripts/build_{biomed,food}_benchmark.py`` call :func:`main` with their domain (same options).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hub_tools.defaults import RECIPE1M_SAMPLE

# per domain, in reader order: reader name -> (flag, help)
OPTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "biomed": {
        "SLAKE": ("--slake", "SLAKE 1.0 folder (with test.json and imgs/)"),
        "VQA_RAD": ("--vqa-rad", "VQA-RAD folder (with 'VQA_RAD Dataset Public.json' and the image folder)"),
        "PathVQA": ("--pathvqa", "PathVQA folder (pvqa/ with qas/ and images/, or the parquet release)"),
        "PMC-VQA": ("--pmc-vqa", "PMC-VQA folder (with test_clean.csv and images*/figures/), or a csv file"),
    },
    "food": {
        "Recipe1M": ("--recipe1m", "Recipe1M folder (with layer1.json and layer2.json)"),
        "Food101": ("--food101", "Food-101 folder (food-101/ with meta/ and images/)"),
        "FoodSeg103": ("--foodseg103", "FoodSeg103 folder (with category_id.txt, ImageSets/, Images/)"),
        "Nutrition5K": (
            "--nutrition5k",
            "Nutrition5K folder (metadata/, dish_ids/splits/depth_test_ids.txt, imagery/)",
        ),
    },
    "remote-sensing": {
        "CLRS": ("--clrs", "CLRS folder (one sub-folder of images per class)"),
        "UC_Merced": ("--uc-merced", "UC Merced Land Use folder (Images/ with one sub-folder per class)"),
        "NWPU-Captions": ("--nwpu-captions", "NWPU-Captions folder (dataset_nwpu.json + the image folder)"),
    },
}


def description(domain: str) -> str:
    """The parser description of one domain's builder."""
    return f"Build the {domain} benchmark test splits ({', '.join(OPTIONS[domain])}) from their raw releases."


def add_arguments(parser: argparse.ArgumentParser, domain: str) -> None:
    """The options of one domain's benchmark builder: one folder per raw release, then the output ones."""
    for name, (flag, help_text) in OPTIONS[domain].items():
        parser.add_argument(flag, dest=name, default=None, metavar="DIR", help=help_text)
    if domain == "food":
        parser.add_argument(
            "--recipe1m-images", default=None, metavar="DIR", help="Recipe1M image root (holding test/)"
        )
        parser.add_argument(
            "--recipe1m-sample",
            type=int,
            default=RECIPE1M_SAMPLE,
            metavar="N",
            help=f"Recipe1M: draw N test recipes (default {RECIPE1M_SAMPLE}, the Hub copy's size; "
            "0 keeps every one). The Hub's own draw is not published",
        )
        parser.add_argument("--recipe1m-seed", type=int, default=0, help="seed of the Recipe1M draw (default 0)")
    parser.add_argument("--output", required=True, help="folder to write the benchmark dataset into")
    parser.add_argument("--limit", type=int, default=None, help="keep at most N rows per task (first N)")
    parser.add_argument(
        "--skip-missing-images", action="store_true", help="leave out (and count) rows whose image is missing"
    )
    parser.add_argument("--max-shard-size", default="500MB", help="upper bound of one parquet shard")
    parser.add_argument("--overwrite", action="store_true", help="replace the contents of a non-empty --output")
    parser.add_argument(
        "--push-to-hub", metavar="REPO_ID", default=None, help="publish the folder to this dataset repo"
    )
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.set_defaults(func=run, domain=domain)


def register(subparsers, name: str = "build-benchmark", help: str | None = None) -> None:
    """Add the ``build-benchmark`` subcommand, with one sub-parser per domain."""
    p = subparsers.add_parser(name, help=help, description=help)
    domains = p.add_subparsers(dest="domain", metavar="DOMAIN", required=True)
    for domain in OPTIONS:
        add_arguments(domains.add_parser(domain, help=description(domain), description=description(domain)), domain)


def run(args: argparse.Namespace) -> int:
    """Read the given releases, build the benchmark folder, print the row counts, publish when asked."""
    from hub_tools.cli import fail
    from hub_tools.defaults import set_progress
    from hub_tools.evaluation.benchmarks import build_benchmark
    from hub_tools.evaluation.raw_readers import BIOMED_READERS, FOOD_READERS
    from hub_tools.evaluation.remote_sensing import REMOTE_SENSING_READERS
    from hub_tools.publish.dataset import BuildError
    from hub_tools.publish.parquet import parse_size

    set_progress(not args.no_progress)
    readers = {"biomed": BIOMED_READERS, "food": FOOD_READERS, "remote-sensing": REMOTE_SENSING_READERS}[args.domain]
    try:
        tasks = []
        for name, reader in readers.items():
            path = getattr(args, name)
            if path is None:
                continue
            if not Path(path).exists():
                raise BuildError(f"{OPTIONS[args.domain][name][0]}: {path!r} does not exist")
            if name == "Recipe1M":
                sample = args.recipe1m_sample or None
                tasks.append(reader(path, images=args.recipe1m_images, sample=sample, seed=args.recipe1m_seed))
            else:
                tasks.append(reader(path))
        result = build_benchmark(
            tasks,
            args.output,
            domain=args.domain,
            limit=args.limit,
            skip_missing=args.skip_missing_images,
            max_shard_bytes=parse_size(args.max_shard_size),
            overwrite=args.overwrite,
            repo_id=args.push_to_hub,
            progress=not args.no_progress,
        )
    except (BuildError, ValueError) as err:
        return fail("build-benchmark", err)
    print(f"benchmark folder: {result.output}")
    for name, n in result.rows.items():
        skipped = sum(result.skipped.get(name, {}).values())
        print(f"  {name}: {n} rows" + (f" ({skipped} skipped)" if skipped else ""))
    if args.push_to_hub:
        from hub_tools.publish.hub import push_folder

        try:
            url = push_folder(result.output, args.push_to_hub, private=args.private)
        except Exception as err:
            return fail("build-benchmark", f"publishing to {args.push_to_hub!r} failed: {type(err).__name__}: {err}")
        print(f"published: {url}")
    return 0


def main(domain: str, argv: list[str] | None = None) -> int:
    """Parse the options of a benchmark script (``dataset_scripts/``), build the folder, optionally publish it."""
    parser = argparse.ArgumentParser(description=description(domain))
    add_arguments(parser, domain)
    return run(parser.parse_args(argv))
