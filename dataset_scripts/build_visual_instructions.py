"""Build the visual-instruction Hub dataset from a pipeline run directory.

    python dataset_scripts/build_visual_instructions.py RUN_DIR --output DIR [--push-to-hub REPO] [--private]

The same as ``adamllm build-dataset``; the logic lives in :mod:`hub_tools.publish.dataset`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from hub_tools.commands.build_dataset import DESCRIPTION, add_arguments, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and build (and optionally publish) the dataset."""
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
