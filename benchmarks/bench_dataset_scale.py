"""The dataset builder at scale: N generated pairs (default 200,000, small PNGs) through ``build_visual_instructions``
in a subprocess, 8 MB shards; prints rows, peak RSS and seconds (the suite checks the bound on two small sizes).

Run from the repository root: ``python benchmarks/bench_dataset_scale.py [--pairs N]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    """Build, then print the report as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=200_000)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests"))
    from test_dataset_builders import scale_build  # the suite's generator of run directories

    with tempfile.TemporaryDirectory() as tmp:
        expected, report = scale_build(Path(tmp), args.pairs, max_shard_bytes=8_000_000)
    report["pairs"] = args.pairs
    print(json.dumps(report))


if __name__ == "__main__":
    main()
