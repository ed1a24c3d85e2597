"""Nutrition5K without the benchmark's ingredient vocabulary: the score is labelled approximate, never the benchmark's."""

from __future__ import annotations

import json

import pytest
from test_evaluation import build_benchmark

from hub_tools.evaluation import harness, report, tasks, vocab


def _scores(folder, entry):
    folder.mkdir(parents=True)
    (folder / "scores.json").write_text(json.dumps({"model": folder.name, "tasks": {"Nutrition5K": entry}}))
    return folder


def test_nutrition5k_without_its_vocabulary_is_labelled_approximate(tmp_path, capsys):
    from hub_tools.cli import main

    root = build_benchmark(tmp_path / "bench")
    exact_split = tasks.load_split(tasks.TASKS["Nutrition5K"], root)
    (root / vocab.NUTRITION5K_FILE).unlink()
    with pytest.warns(UserWarning, match="approximate"):
        split = tasks.load_split(tasks.TASKS["Nutrition5K"], root)
    assert split.vocabulary_source == vocab.APPROXIMATE_SOURCE
    metric = harness.load_metric("multilabel")
    records = {item.id: {"prediction": ", ".join(item.label)} for item in split.items}
    approximate = harness.score_task(split, metric, records)
    exact = harness.score_task(exact_split, metric, records)
    assert vocab.is_approximate(approximate) and not vocab.is_approximate(exact)

    table = report.scores_markdown({"model": "m", "tasks": {"Nutrition5K": approximate}})
    assert "| Nutrition5K (approximate) | recall |" in table and "not the benchmark's score" in table
    assert "approximate" not in report.scores_markdown({"model": "m", "tasks": {"Nutrition5K": exact}})

    base = _scores(tmp_path / "base", exact)
    adapted = _scores(tmp_path / "adapted", approximate)
    assert main(["compare", str(base), str(adapted), "--output", str(tmp_path / "c.png")]) == 0
    printed = capsys.readouterr().out
    assert "| Nutrition5K (approximate in adapted) | recall |" in printed and "not the benchmark's score" in printed
    rows = report.compare(adapted, adapted, None, echo=False)
    assert rows[0]["approximate"] == ["a", "b"]
    assert "| Nutrition5K (approximate) |" in report.comparison_table(rows, "x", "y")
