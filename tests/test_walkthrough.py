"""The README's offline walkthrough runs as written: pairs -> tasks -> verdicts -> dataset -> SFT -> evaluate -> compare.

The ```bash block under "Usage offline with the tiny models (CPU)" is read from README.md and run with bash in a
temporary working copy (its paths are relative to the repository root; ``recipes/`` is linked in), so the README
text is what is tested. Only the ``adamllm demo`` line (a server) is left out.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Usage offline with the tiny models (CPU)"


def readme_block() -> str:
    """The first ```bash block under :data:`HEADING` in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index(HEADING) :]
    section = section[: section.find("\n## ", len(HEADING))]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, f"no bash block under {HEADING!r}"
    return match.group(1)


def runnable(block: str) -> str:
    """The block without the ``adamllm demo`` command (a server that never returns)."""
    lines = block.splitlines()
    kept = [line for line in lines if not line.strip().startswith("adamllm demo")]
    assert len(kept) == len(lines) - 1, "expected exactly one `adamllm demo` line in the walkthrough"
    return "\n".join(kept) + "\n"


def test_block_names_every_stage():
    block = readme_block()
    for command in (
        "tiny-models",
        "sample-data",
        "pipeline",
        "build-dataset",
        "train",
        "world",
        "evaluate",
        "compare",
    ):
        assert f"adamllm {command}" in block, command
    recipe = (REPO / "recipes/tiny/sft/walkthrough.yaml").read_text()
    dataset = re.search(r"^dataset_name: (\S+)", recipe, re.M).group(1)
    assert f"--output {dataset}\n" in block, "the recipe must train on the folder build-dataset writes"


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_readme_offline_walkthrough_runs_as_written(tmp_path):
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "recipes").symlink_to(REPO / "recipes", target_is_directory=True)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    script = "set -euo pipefail\n" + runnable(readme_block())
    done = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=1150)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]

    out = work / "outputs" / "offline"
    stats = json.loads((out / "run" / "stats.json").read_text())
    assert stats["kept"] > 0, stats
    assert stats["pairs_in"] == stats["kept"] + stats["caption_only"] + stats["no_task"] + stats["rejected"]

    from datasets import load_dataset

    sizes = {}
    for config in ("image_caption_pairs", "synthetic_visual_tasks", "image_caption_and_synthetic_task"):
        sizes[config] = len(load_dataset(str(out / "dataset"), config, split="train"))
    assert sizes["synthetic_visual_tasks"] == stats["kept"] and all(sizes.values()), sizes

    assert (out / "student" / "config.json").is_file()
    scores = json.loads((out / "eval" / "tuned" / "scores.json").read_text())
    numbers = re.findall(r'"[a-z_]+": (-?\d+(?:\.\d+)?)', json.dumps(scores))
    assert numbers, scores
    assert (out / "compare.png").is_file()
