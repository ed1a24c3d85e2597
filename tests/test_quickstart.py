"""The quickstart at reduced size: every stage runs offline, every artifact exists, counts add up."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_quickstart_small_end_to_end(tmp_path, capsys):
    from datasets import load_dataset
    from huggingface_hub import DatasetCard

    from hub_tools.cli import main

    out = tmp_path / "qs"
    assert main(["quickstart", "--small", "--output", str(out)]) == 0
    printed = "".join(capsys.readouterr())  # one bar per stage: no trainer log dicts nor metric blocks printed
    assert "{'loss'" not in printed and "'train_runtime'" not in printed and "***** train metrics" not in printed

    report = json.loads((out / "report.json").read_text())
    stats = report["stats"]
    assert stats["pairs_in"] == report["config"]["pairs"]
    assert stats["pairs_in"] == stats["kept"] + stats["caption_only"] + stats["no_task"] + stats["rejected"]
    assert stats["synthesized"] + stats["rejected"] == stats["pairs_in"]
    syn = report["synthesizer"]
    assert syn["pairs"] == report["config"]["measure_pairs"]
    assert 0.0 <= syn["grounded_share"] <= syn["strict_share"] <= 1.0
    assert sum(n.get("triplets", 0) for n in syn["by_question_type"].values()) == syn["triplets"]
    training = report["synthesizer_training"]
    assert training["text_pretraining"]["steps"] == report["config"]["pretrain_steps"]
    assert training["steps"] == report["config"]["tune_max_steps"] and not training["stopped_by_time_budget"]
    assert report["config"]["tune_minutes"] is None and report["budget"] == []  # no time cap, no scaling
    stages = {row["stage"]: row for row in report["stages"]}
    assert stages["synthesizer: text pretraining"]["steps"] == report["config"]["pretrain_steps"]
    assert stages["synthesizer: seed-set tuning"]["steps"] == report["config"]["tune_max_steps"]
    assert stages["student SFT"]["steps"] > 0
    assert all(row["seconds"] >= 0 for row in report["stages"])
    parts = sum(row["seconds"] for row in report["stages"] if row["stage"] != "total")
    assert parts == pytest.approx(stages["total"]["seconds"], abs=2.0)

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

    assert stats["kept"] > 0  # the small run's synthesizer writes a few complete triplets
    assert report["student_dataset_config"] == "image_caption_and_synthetic_task"
    rows = load_dataset(str(out / "dataset"), "image_caption_and_synthetic_task", split="train")
    assert len(rows) == stats["kept"] + stats["caption_only"]
    assert DatasetCard.load(out / "dataset" / "README.md").data.configs

    text = (out / "REPORT.md").read_text()
    sections = ("## Counts", "## The tuned tiny synthesizer", "| question type |", "Text pretraining: 150 steps")
    sections += ("| stage | seconds | steps |", "| synthesizer: seed-set tuning |")
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


def test_budget_minutes_scales_the_steps_by_the_budget_only(monkeypatch, tmp_path):
    import hub_tools.miniature.quickstart as qs
    from hub_tools.cli import main

    seen = []
    monkeypatch.setattr(qs, "run_quickstart", lambda output, config: seen.append(config))
    assert main(["quickstart", "--output", str(tmp_path), "--budget-minutes", "5"]) == 0
    full = qs.QuickstartConfig()
    half = seen[0]
    assert qs.FULL_RUN_MINUTES == 10 and half.budget_minutes == 5
    expected = (round(full.pretrain_steps / 2), round(full.tune_max_steps / 2), full.sft_epochs / 2)
    assert (half.pretrain_steps, half.tune_max_steps, half.sft_epochs) == expected
    assert half.full_steps == {k: getattr(full, k) for k in ("pretrain_steps", "tune_max_steps", "sft_epochs")}
    assert half.tune_minutes is None and half.measure_pairs == full.measure_pairs  # no cap; the measuring is kept
    assert full.scaled(10) == full and full.scaled(25) == full  # a budget at or above the full run changes nothing
    with pytest.raises(ValueError, match="positive"):
        full.scaled(0)
    assert main(["quickstart", "--output", str(tmp_path), "--threads", "1"]) == 0
    assert seen[1].threads == 1 and full.threads == "auto"


def test_report_says_what_was_scaled_and_when_the_cap_stopped_tuning():
    from hub_tools.miniature.quickstart import QuickstartConfig, _budget_lines

    assert _budget_lines(QuickstartConfig(), {"stopped_by_time_budget": False}) == []
    full = QuickstartConfig(pretrain_steps=1000, tune_max_steps=1300)
    (line,) = _budget_lines(full.scaled(2.5), {"stopped_by_time_budget": False})
    assert "Scaled to 2.5 minutes" in line and "text pretraining 250 of 1000 steps" in line
    assert "seed-set tuning 325 of 1300 steps" in line
    capped = QuickstartConfig(tune_max_steps=1300, tune_minutes=6.0)
    (line,) = _budget_lines(capped, {"stopped_by_time_budget": True, "steps": 1266})
    assert "6-minute time cap stopped seed-set tuning at step 1266 of 1300" in line
    assert "not reached" in _budget_lines(capped, {"stopped_by_time_budget": False})[0]
