"""Pair readers at scale: 1,000,000 ShareGPT pairs as JSONL and as a JSON array, pairs/s and peak memory.

The reader must stream: peak RSS stays far below the files' size (~150 MB each). The test suite checks the
same property on small files (``tests/test_data.py::test_pairs_stream_with_bounded_memory``).

    python benchmarks/bench_data.py            # 1,000,000 pairs
    python benchmarks/bench_data.py --n 200000
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="pairs per file")
    args = parser.parse_args()

    from PIL import Image

    from hub_tools.data import ImageCaptionPair, read_pairs

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        Image.new("RGB", (4, 4)).save(root / "a.png")
        line = json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "<image>Describe."},
                    {"role": "assistant", "content": "A small test caption."},
                ],
                "images": ["a.png"],
            }
        )
        with open(root / "p.jsonl", "w") as fh:
            for _ in range(args.n):
                fh.write(line + "\n")
        with open(root / "p.json", "w") as fh:
            fh.write("[")
            for i in range(args.n):
                fh.write(("," if i else "") + line)
            fh.write("]")
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for name in ("p.jsonl", "p.json"):
            size_mb = (root / name).stat().st_size / 1e6
            start = time.perf_counter()
            count = sum(isinstance(r, ImageCaptionPair) for r in read_pairs(root / name, check_images=False))
            secs = time.perf_counter() - start
            assert count == args.n, (name, count)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            print(
                f"{name}: {count} pairs ({size_mb:.0f} MB) in {secs:.1f} s = {count / secs:,.0f} pairs/s; "
                f"peak RSS growth {(peak - base) / 1024:.1f} MB"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
