"""The quickstart at reduced size: every stage runs offline, every artifact exists, counts add up."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_quickstart_small_end_to_end(tmp_path):
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    from hub_tools.cli import main

    out = tmp_path / "qs"
    assert main(["quickstart", "--small", "--output", str(out)]) == 0

    report = json.loads((out / "report.json").read_text())
    stats = report["stats"]
    assert stats["pairs_in"] == report["config"]["pairs"]
    assert stats["pairs_in"] == stats["kept"] + stats["caption_only"] + stats["rejected"]
    assert stats["synthesized"] + stats["rejected"] == stats["pairs_in"]
    syn = report["synthesizer"]
    assert syn["pairs"] == report["config"]["measure_pairs"]
    assert 0.0 <= syn["grounded_share"] <= syn["strict_share"] <= 1.0
    assert sum(n.get("triplets", 0) for n in syn["by_question_type"].values()) == syn["triplets"]
    training = report["synthesizer_training"]
    assert training["text_pretraining"]["steps"] == report["config"]["pretrain_steps"]
    assert training["steps"] == report["config"]["tune_max_steps"] and not training["stopped_by_time_budget"]

    for path in [
        "world/world.json",
        "world/pairs.json",
        "world/heldout_pairs.json",
        "synthesizer/synthesizer/config.json",
        "run/stats.json",
        "run/compose/train.jsonl",
        "dataset/README.md",
        "student/base/config.json",
        "student/tuned/config.json",
        "eval/base/scores.json",
        "eval/tuned/scores.json",
        "compare.png",
        "REPORT.md",
    ]:
        assert (out / path).exists(), path
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    rows = load_dataset(str(out / "dataset"), "image_caption_and_synthetic_task", split="train")
    assert len(rows) == stats["kept"] + stats["caption_only"]
    assert DatasetCard.load(out / "dataset" / "README.md").data.configs

    text = (out / "REPORT.md").read_text()
    sections = ("## Counts", "## The tuned tiny synthesizer", "| question type |", "Text pretraining: 10 steps")
    for section in (*sections, "## Base vs post-trained student", "compare.png"):
        assert section in text
    tasks = {row["task"] for row in report["scores"]}
    assert tasks == {"SLAKE", "PMC-VQA", "FoodSeg103"}
    for row in report["scores"]:
        assert 0.0 <= row["a"] <= 1.0 and 0.0 <= row["b"] <= 1.0


def test_quickstart_budget_options_reach_the_config(monkeypatch, tmp_path):
    import hub_tools.miniature.quickstart as qs
    from hub_tools.cli import main

    seen = []
    monkeypatch.setattr(qs, "run_quickstart", lambda output, config: seen.append(config))
    argv = ["quickstart", "--output", str(tmp_path), "--pretrain-steps", "0", "--tune-steps", "-1"]
    assert main([*argv, "--tune-minutes", "2.5"]) == 0
    assert (seen[0].pretrain_steps, seen[0].tune_max_steps, seen[0].tune_minutes) == (0, -1, 2.5)
    assert main(["quickstart", "--output", str(tmp_path), "--small"]) == 0
    assert seen[1] == qs.QuickstartConfig.small()  # no option given: the preset stays as it is
