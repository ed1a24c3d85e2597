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
    done = _adamllm("ablate", "--small", "--seeds", "2", "--output", str(out), "--no-progress", "--allow-failed-gate")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((out / "ablations.json").read_text())

    # the contract tools read: the gate, the power, the registration, the retention
    gate = result["gate"]
    assert isinstance(gate["passed"], bool)
    for key in ("dev_accuracy", "question_only_prior", "gray_image_accuracy"):
        assert 0.0 <= gate[key] <= 100.0, key
    assert gate["chance"]["closed"] == 50.0 and gate["chance"]["choice"] == 25.0 and 0 < gate["chance"]["open"] < 50
    power = result["power"]
    assert power["seeds"] == 2 and power["min_detectable_difference"] > 0
    assert set(power["items"]) == {"closed", "choice", "open"} and all(n >= 24 for n in power["items"].values())
    registered = result["registered"]
    assert registered["chosen_on"] == "general-dev" and registered["lr"] > 0 and registered["epochs"] >= 1
    # registered before any condition was scored: the run printed it before the first score
    assert done.stdout.index("registered: lr") < done.stdout.index("retention")
    for name in CONDITIONS:
        assert 0.0 <= result["conditions"][name]["retention"]["general_dev_accuracy"] <= 100.0, name
    # a difference the correction cannot call reads "cannot tell", never "does not hold"
    for d in result["differences"]:
        assert d["verdict"] in ("holds", "the other way", "cannot tell")
        if d["key"] == "average" and d["p_holm"] >= 0.05:
            assert d["verdict"] == "cannot tell" and d["paper_direction_holds"] is None

    report = (out / "ABLATIONS.md").read_text()
    first = report.splitlines()
    assert "SMOKE TEST" in first[0] and "cannot speak to the paper" in first[0]
    assert "adamllm ablate --output" in "\n".join(first[:6])  # the command of the real run
    head = "\n".join(first[:14])
    assert "Gate (" in head and "Power" in head and "retention" in head
    assert ("FAILED" in head) == (not gate["passed"])
    assert "does not hold" not in report and "Secondary metric" in report
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
    assert set(kinds["synthetic-only"]) == {"task"} and "task" in kinds["seed-only"]
    # seed-only is general rows: not one domain word
    from hub_tools.miniature.ablate_world import domain_word_hits

    seed_only = (out / data["seed-only"]["file"]).read_text()
    assert (
        domain_word_hits(" ".join(json.loads(r)["messages"][-1]["content"][0]["text"] for r in seed_only.splitlines()))
        == []
    )
    assert set(kinds["two-stage"]) == {"caption_only", "task"}
    general_captions = kinds["seed-only"].get("caption_only", 0)  # general rows hold short shape captions
    assert kinds["seed+captions"]["caption_only"] == kinds["caption-only"]["caption_only"] + general_captions
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

    for name in CONDITIONS:
        assert f"| {name} |" in report
    assert "58.3 / 42.0" in report  # the paper's number beside the full method


def test_ablate_exits_1_when_the_gate_fails(monkeypatch, tmp_path, capsys):
    """Without --allow-failed-gate, a failed gate is exit 1 and a message naming what it means (not in --small)."""
    from hub_tools import cli
    from hub_tools.miniature import ablate

    seen = {}

    def fake_run(output, config):
        seen["allow"] = config.allow_failed_gate
        return {"gate": {"passed": False}}

    monkeypatch.setattr(ablate, "run_ablations", fake_run)
    monkeypatch.setattr("hub_tools.defaults.set_progress", lambda *a, **k: None)  # no global state left behind
    assert cli.main(["ablate", "--output", str(tmp_path / "a"), "--no-progress"]) == 1
    assert seen["allow"] is False
    assert "does not read images" in capsys.readouterr().err
    # the smoke test's few-step student is not expected to pass: it reports the gate, writes the tables, exits 0
    assert cli.main(["ablate", "--small", "--output", str(tmp_path / "b"), "--no-progress"]) == 0
    assert seen["allow"] is True
    err = capsys.readouterr().err
    assert "does not read images" in err and "the smoke test wrote the tables anyway" in err
