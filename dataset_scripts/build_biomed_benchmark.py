"""Build the biomedicine benchmarks (SLAKE, VQA_RAD, PathVQA, PMC-VQA) from their raw releases.

    python dataset_scripts/build_biomed_benchmark.py --slake Slake1.0 --vqa-rad VQA_RAD --pathvqa pvqa \\
        --pmc-vqa PMC-VQA --output biomed-VQA-benchmark [--push-to-hub REPO] [--private]

The same as ``adamllm build-benchmark biomed``. Readers: :mod:`hub_tools.evaluation.raw_readers`;
schema and card: :mod:`hub_tools.evaluation.benchmarks`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from hub_tools.commands.build_benchmark import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("biomed"))
