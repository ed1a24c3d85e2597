"""Build the food benchmarks (Recipe1M, Food101, FoodSeg103, Nutrition5K) from their raw releases.

    python dataset_scripts/build_food_benchmark.py --food101 food-101 --foodseg103 FoodSeg103 \\
        --nutrition5k nutrition5k_dataset --recipe1m recipe1M [--recipe1m-images DIR] --output food-VQA-benchmark

The same as ``adamllm build-benchmark food``. Readers: :mod:`hub_tools.evaluation.raw_readers`;
schema and card: :mod:`hub_tools.evaluation.benchmarks`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from hub_tools.commands.build_benchmark import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("food"))
