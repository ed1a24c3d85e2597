"""``adamllm quickstart --domain remote-sensing --small``: every stage on the aerial world, offline, scored on the
miniature CLRS / FloodNet / NWPU-Captions tasks through the evaluation harness. One run, shared by the tests."""

from __future__ import annotations

import json

import pytest

from hub_tools.miniature import world as W

TASKS = {"CLRS", "FloodNet", "NWPU-Captions"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from hub_tools.cli import main

    out = tmp_path_factory.mktemp("quickstart_rs") / "qs"
    assert main(["quickstart", "--domain", "remote-sensing", "--small", "--no-progress", "--output", str(out)]) == 0
    return out, json.loads((out / "report.json").read_text())


@pytest.mark.slow
def test_every_stage_ran_on_aerial_scenes(run):
    out, report = run
    assert report["domain"] == "remote-sensing" and report["config"]["domain"] == "remote-sensing"
    world = json.loads((out / "world" / "world.json").read_text())
    assert world["config"]["domain"] == "remote-sensing"
    assert {W.params_from_dict(p["params"]).kind for p in W.load_pairs(out / "world" / "pairs.json")} == {"aerial"}
    stats = report["stats"]
    assert stats["pairs_in"] == report["config"]["pairs"]
    assert stats["pairs_in"] == stats["kept"] + stats["caption_only"] + stats["no_task"] + stats["rejected"]
    assert stats["synthesized"] + stats["rejected"] == stats["pairs_in"] and stats["triplets"] > 0
    stages = {row["stage"]: row for row in report["stages"]}
    assert stages["synthesizer: text pretraining"]["steps"] == report["config"]["pretrain_steps"] > 0
    assert stages["synthesizer: seed-set tuning"]["steps"] == report["config"]["tune_max_steps"] > 0
    assert stages["student SFT"]["steps"] > 0
    assert stages["evaluate base and tuned"]["work"] == report["config"]["benchmark_per_task"] * len(TASKS) * 2
    syn = report["synthesizer"]  # measured on held-out aerial pairs, judged by the aerial grounding
    assert syn["pairs"] == report["config"]["measure_pairs"] and syn["triplets"] > 0
    assert sum(n.get("triplets", 0) for n in syn["by_question_type"].values()) == syn["triplets"]
    assert 0.0 <= syn["grounded_share"] <= syn["strict_share"] <= 1.0
    for path in ("dataset/README.md", "student/tuned/config.json", "eval/tuned/scores.json", "compare.png"):
        assert (out / path).exists(), path


@pytest.mark.slow
def test_report_names_the_remote_sensing_tasks_and_scores_are_numbers(run):
    out, report = run
    assert report["benchmark_tasks"] == ["CLRS", "FloodNet", "NWPU-Captions"]
    assert {row["task"] for row in report["scores"]} == TASKS
    for row in report["scores"]:
        assert isinstance(row["a"], float) and isinstance(row["b"], float)
        assert 0.0 <= row["a"] <= 1.0 and 0.0 <= row["b"] <= 1.0
    text = (out / "REPORT.md").read_text()
    assert "Domain: **remote-sensing**" in text
    for task in TASKS:
        assert f"| {task} |" in text
    scores = json.loads((out / "eval" / "tuned" / "scores.json").read_text())
    assert set(scores["tasks"]) == TASKS


@pytest.mark.slow
def test_the_miniature_benchmark_is_valid(run):
    out, report = run
    bench = out / "world" / "benchmark"
    n = report["config"]["benchmark_per_task"]
    clrs = [json.loads(line) for line in (bench / "CLRS" / "test.jsonl").read_text().splitlines()]
    vocabulary = json.loads((bench / "CLRS" / "vocabulary.json").read_text())
    assert len(clrs) == n and vocabulary == list(W.LAND_USES)
    assert {row["label"] for row in clrs} == set(vocabulary[:n])  # the land uses in turn
    flood = [json.loads(line) for line in (bench / "FloodNet" / "test.jsonl").read_text().splitlines()]
    closed = [row["label"] for row in flood if row["answer_type"] == "CLOSED"]
    assert len(closed) == n // 2 and abs(closed.count("yes") - closed.count("no")) <= 1
    for row in flood:
        kind, truth = W.parse_question(row["input"].split("\n")[0], W.params_from_dict(json.loads(row["params"])))
        assert W.answer_is_true(kind, truth, row["label"], precise=True), row
