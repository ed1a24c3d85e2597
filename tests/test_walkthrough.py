"""The README's offline walkthrough runs as written: pairs -> tasks -> verdicts -> dataset -> SFT -> evaluate -> compare.

The ```bash block under "Usage offline with the tiny models (CPU)" is read from README.md and run with bash in a
temporary working copy (its paths are relative to the repository root; ``recipes/`` and ``.venv`` are linked in), so
the README text is what is tested. Only the ``adamllm demo`` line (a server) is left out. The shell is a fresh one,
as a new user's after ``make install``: the venv is not on its PATH, so the block must activate it itself.
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
INSTALL = "## Install"


def readme_block(heading: str = HEADING) -> str:
    """The first ```bash block under ``heading`` in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    section = section[: section.find("\n## ", len(heading))]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, f"no bash block under {heading!r}"
    return match.group(1)


def fresh_shell_env() -> dict[str, str]:
    """The environment of a new terminal: no virtualenv active, the venv's ``bin`` not on PATH."""
    venv_bins = {str(Path(sys.executable).parent), str(Path(sys.prefix) / "bin")}
    if os.environ.get("VIRTUAL_ENV"):
        venv_bins.add(str(Path(os.environ["VIRTUAL_ENV"]) / "bin"))
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p not in venv_bins]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, "PATH": os.pathsep.join(path or ["/usr/bin", "/bin"])}


def checkout(tmp_path: Path) -> Path:
    """A working copy for the README's relative paths: ``recipes/`` and the installed ``.venv`` linked in."""
    work = tmp_path / "checkout"
    work.mkdir()
    (work / "recipes").symlink_to(REPO / "recipes", target_is_directory=True)
    (work / ".venv").symlink_to(REPO / ".venv", target_is_directory=True)
    return work


def test_install_block_puts_adamllm_on_path_in_a_fresh_shell(tmp_path):
    """After ``make install`` (already done: the venv exists), the Install block's next lines work as pasted."""
    work = checkout(tmp_path)
    env = fresh_shell_env()
    before = subprocess.run(["bash", "-c", "command -v adamllm"], cwd=work, env=env, capture_output=True, text=True)
    assert before.returncode != 0, f"the test shell is not fresh: adamllm found at {before.stdout!r}"
    lines = [line for line in readme_block(INSTALL).splitlines() if not line.startswith("make install")]
    assert any(line.startswith("source .venv/bin/activate") for line in lines)
    done = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + "\n".join(lines)], cwd=work, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage: adamllm"), done.stdout[:500]


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
    work = checkout(tmp_path)
    env = {
        **fresh_shell_env(),
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
