"""The built wheel carries the metric modules, and `evaluate.load` finds them from the installed package."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
METRICS = ("medical_vqa", "multiple_choice", "multilabel", "rouge_l")


@pytest.mark.slow  # builds a wheel (about 10 s)
def test_wheel_ships_metrics_and_they_load_outside_the_checkout(tmp_path):
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            str(REPO),
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    # `make install` stays quiet: no deprecated licence table, no "Package would be ignored" for the metrics.
    noise = [line for line in (built.stdout + built.stderr).splitlines() if "Warning" in line or "ignored" in line]
    assert not noise, noise
    (wheel,) = tmp_path.glob("adamllm_hub-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name in METRICS:
            assert f"hub_tools/metrics/{name}/{name}.py" in names
        assert "hub_tools/cli.py" in names and "hub_tools/commands/synthesize.py" in names
        zf.extractall(site)
    code = (
        "import hub_tools, evaluate; from hub_tools.evaluation.harness import metrics_dir;"
        f"d = metrics_dir(); assert str(d).startswith({str(site)!r}), d;"
        "m = evaluate.load(str(d / 'multiple_choice'));"
        "print(m.compute(predictions=['(B)'], references=['B'], options=[{'A': 'x', 'B': 'y'}]))"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1"}
    env.pop("ADAMLLM_METRICS_DIR", None)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'accuracy': 1.0" in out.stdout
