"""``adamllm ablate --small``: the JSON's shape, and conditions that really differ in their training data."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

CONDITIONS = [
    "general",
    "single-stage",
    "two-stage",
    "caption-only",
    "synthetic-only",
    "rule-based",
    "no-filter-precise",
    "no-filter-informative",
    "seed-only",
    "seed+captions",
]


def _adamllm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub_tools", *args], capture_output=True, text=True, timeout=900)


def test_ablate_rejects_zero_seeds(tmp_path):
    done = _adamllm("ablate", "--small", "--seeds", "0", "--output", str(tmp_path / "a"))
    assert done.returncode == 2
    assert "adamllm ablate: error: --seeds must be at least 1, not 0" in done.stderr
    assert not (tmp_path / "a").exists()


@pytest.mark.slow
def test_ablate_small_writes_the_tables_and_distinct_training_data(tmp_path):
    out = tmp_path / "ablate"
    done = _adamllm("ablate", "--small", "--seeds", "2", "--output", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "ablations.json").read_text())
    assert set(CONDITIONS) <= set(result["conditions"])

    keys = None
    for name in CONDITIONS:
        scores = result["conditions"][name]["scores"]
        keys = keys or set(scores)
        assert set(scores) == keys and keys, name
        for key, values in scores.items():
            assert "/" in key
            assert len(values) == 2 and all(0.0 <= v <= 100.0 for v in values), (name, key, values)
        summary = result["conditions"][name]["summary"]["average"]
        assert summary["low"] <= summary["high"]

    # every post-training condition trains on its own data: no two share a training file's content
    data = {name: result["conditions"][name]["data"] for name in CONDITIONS if name != "general"}
    hashes = [d["sha256"] for d in data.values()]
    assert len(set(hashes)) == len(hashes), {n: d["sha256"][:8] for n, d in data.items()}
    for name, d in data.items():
        rows = (out / d["file"]).read_text().splitlines()
        assert len(rows) == d["rows"] > 0, name
    kinds = {name: d["kinds"] for name, d in data.items()}
    assert set(kinds["caption-only"]) == {"caption_only"}
    assert set(kinds["synthetic-only"]) == {"task"} and set(kinds["seed-only"]) == {"task"}
    assert set(kinds["two-stage"]) == {"caption_only", "task"}
    assert kinds["seed+captions"]["caption_only"] == kinds["caption-only"]["caption_only"]
    assert result["conditions"]["general"]["trained"] is False

    for side in ("with", "without"):
        block = result["filter"][side]
        assert {"agreement", "accuracy"} <= set(block)
    assert {"precision", "recall", "keeps_everything"} <= set(result["filter"]["checker"])
    assert result["filter"]["with"]["tasks"] <= result["filter"]["without"]["tasks"]
    variants = result["synthesizer_inputs"]
    assert list(variants) == [
        "untuned",
        "image only",
        "caption only",
        "image + caption",
        "image + caption + 10% blank",
    ]
    assert all({"diversity", "accuracy"} <= set(v) for v in variants.values())

    report = (out / "ABLATIONS.md").read_text()
    for name in CONDITIONS:
        assert f"| {name} |" in report
    assert "58.3 / 42.0" in report  # the paper's number beside the full method
