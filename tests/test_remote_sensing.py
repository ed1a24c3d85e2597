"""Remote sensing as a domain: task group, benchmark build from raw releases, loading, scoring, the release file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _png(path: Path, color=(40, 120, 40), size=(32, 24)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


@pytest.fixture(scope="module")
def rs_benchmark(tmp_path_factory) -> Path:
    """A remote-sensing benchmark folder: CLRS, UC_Merced and NWPU-Captions built by ``adamllm build-benchmark
    remote-sensing`` from raw-release fixtures, plus a FloodNet config written in the assumed Hub schema."""
    from hub_tools.cli import main

    raw = tmp_path_factory.mktemp("rs_raw")
    for cls, color in (("airport", (90, 90, 90)), ("bare-land", (160, 140, 90)), ("forest", (20, 90, 20))):
        for i in range(2):
            _png(raw / "CLRS" / cls / f"{cls}_{i}.tif", color)
    for cls, color in (("agricultural", (40, 160, 40)), ("denseresidential", (150, 60, 60))):
        _png(raw / "UCMerced_LandUse" / "Images" / cls / f"{cls}00.tif", color)
    nwpu = raw / "NWPU-Captions"
    records = {
        "airport": [
            {"filename": "airport_001.jpg", "split": "test", "raw": "Two planes stand beside a runway."},
            {"filename": "airport_002.jpg", "split": "train", "raw": "A terminal with many gates."},
        ],
        "river": [{"filename": "river_001.jpg", "split": "test", "raw": "A river winds through fields."}],
    }
    (nwpu).mkdir()
    (nwpu / "dataset_nwpu.json").write_text(json.dumps(records))
    for cls, items in records.items():
        for rec in items:
            _png(nwpu / "NWPU-RESISC45" / cls / rec["filename"])
    out = tmp_path_factory.mktemp("rs_bench") / "remote-sensing-VQA-benchmark"
    argv = ["build-benchmark", "remote-sensing", "--clrs", str(raw / "CLRS"), "--uc-merced",
            str(raw / "UCMerced_LandUse"), "--nwpu-captions", str(nwpu),
            "--output", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    flood = out / "FloodNet"
    _png(flood / "img" / "f0.png", (30, 30, 160))
    rows = [
        {"image": "img/f0.png", "input": "Is the road flooded?\nAnswer.", "label": "yes"},
        {"image": "img/f0.png", "input": "How many buildings are flooded?\nAnswer.", "label": "3"},
    ]
    (flood / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def test_remote_sensing_group_and_aliases():
    from hub_tools.evaluation.tasks import GROUPS, resolve_tasks

    names = [t.name for t in resolve_tasks("remote-sensing")]
    assert names == ["CLRS", "UC_Merced", "FloodNet", "NWPU-Captions"]
    assert [t.name for t in resolve_tasks("remote_sensing")] == names
    assert {t.repo for t in resolve_tasks("remote-sensing")} == {"AdaptLLM/remote-sensing-VQA-benchmark"}
    assert set(names) <= set(GROUPS["all"])
    assert resolve_tasks("uc-merced,nwpu_captions")[1].name == "NWPU-Captions"


def test_build_load_and_score_remote_sensing(rs_benchmark):
    import evaluate

    from hub_tools.evaluation.harness import metrics_dir
    from hub_tools.evaluation.tasks import TASKS, load_split

    card = (rs_benchmark / "README.md").read_text()
    assert "config_name: CLRS" in card and "remote-sensing" in card
    clrs = load_split(TASKS["CLRS"], rs_benchmark)
    assert len(clrs) == 6 and clrs.vocabulary_source.endswith("vocabulary.json")
    assert clrs.options == {"0": "airport", "1": "bare land", "2": "forest"}
    assert "bare land" in clrs.items[0].input and clrs.image(0).size == (32, 24)
    mc = evaluate.load(str(metrics_dir() / "multiple_choice"))
    preds = ["airport", "It is an airport.", "bare land", "forest", "forest", "forest"]
    assert clrs.compute(mc, clrs.items, preds)["accuracy"] == pytest.approx(5 / 6)
    ucm = load_split(TASKS["UC_Merced"], rs_benchmark)
    assert [i.label for i in ucm.items] == ["agricultural", "denseresidential"]
    nwpu = load_split(TASKS["NWPU-Captions"], rs_benchmark)
    assert [i.label for i in nwpu.items] == ["Two planes stand beside a runway.", "A river winds through fields."]
    rouge = evaluate.load(str(metrics_dir() / "rouge_l"))
    assert nwpu.compute(rouge, nwpu.items[:1], ["Two planes stand beside a runway."])["rouge_l"] == pytest.approx(1.0)
    flood = load_split(TASKS["FloodNet"], rs_benchmark)
    assert [i.metric_args["answer_types"] for i in flood.items] == ["CLOSED", "OPEN"]
    med = evaluate.load(str(metrics_dir() / "medical_vqa"))
    scores = flood.compute(med, flood.items, ["Yes, it is.", "two"])
    assert (scores["closed_accuracy"], scores["open_recall"], scores["num_open"]) == (1.0, 0.0, 1)


def test_scene_labels_match_the_bundled_class_list(tmp_path):
    """Without vocabulary.json a Hub-style copy is read against the release's bundled class list, any spelling."""
    from hub_tools.evaluation.tasks import TASKS, load_split

    task_dir = tmp_path / "bench" / "UC_Merced"
    _png(task_dir / "a.png")
    rows = [{"image": "a.png", "input": "Which scene?", "label": label} for label in ("Dense Residential", "harbor")]
    (task_dir / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    split = load_split(TASKS["UC_Merced"], tmp_path / "bench")
    assert split.vocabulary_source == "bundled" and len(split.options) == 21
    assert [split.options[i.reference] for i in split.items] == ["denseresidential", "harbor"]
    (task_dir / "test.jsonl").write_text(json.dumps({"image": "a.png", "input": "Which?", "label": "volcano"}) + "\n")
    with pytest.raises(ValueError, match="'volcano' is not a UC_Merced class"):
        load_split(TASKS["UC_Merced"], tmp_path / "bench")


def test_remote_sensing_visual_instructions_release_layout(tmp_path):
    """``image_caption_and_synthetic_task.json`` (+ ``images.zip`` unpacked beside it), the layout of the biomed
    and food releases: the pairs reader takes (image, caption) and the training loader the whole conversation."""
    from hub_tools.data import ImageCaptionPair, read_pairs
    from hub_tools.training.data import load_jsonl_rows, normalize_messages

    release = tmp_path / "remote-sensing-visual-instructions"
    _png(release / "images" / "P0001.png", size=(64, 48))
    _png(release / "images" / "P0002.png", size=(48, 64))
    records = [
        {
            "messages": [
                {"role": "user", "content": "<image>Describe the image."},
                {"role": "assistant", "content": "An aerial view of a harbor with three ships."},
                {"role": "user", "content": "How many ships are docked?"},
                {"role": "assistant", "content": "Three ships are docked. So the answer is 3."},
            ],
            "images": ["images/P0001.png"],
        },
        {
            "messages": [
                {"role": "user", "content": "<image>Describe the image."},
                {"role": "assistant", "content": "Farmland divided into rectangular fields."},
            ],
            "images": ["images/P0002.png"],
        },
    ]
    path = release / "image_caption_and_synthetic_task.json"
    path.write_text(json.dumps(records))
    pairs = list(read_pairs(path))
    assert all(isinstance(p, ImageCaptionPair) for p in pairs)
    assert [p.caption for p in pairs] == [records[0]["messages"][1]["content"], records[1]["messages"][1]["content"]]
    rows = load_jsonl_rows(path)
    assert len(rows) == 2 and Path(rows[0]["images"][0]).is_file()
    messages = normalize_messages(rows[0]["messages"])
    assert messages[0]["content"][0] == {"type": "image"} and len(messages) == 4


def test_tiny_qwen2_5_vl_trains_one_step_and_evaluates_on_remote_sensing(tiny_models, rs_benchmark, tmp_path):
    """The newest student end to end: one SFT step (the tiny recipe, the contract's area cap) then `evaluate`."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    from hub_tools.evaluation.harness import evaluate_model
    from hub_tools.miniature.sft_demo import write_demo_rows
    from hub_tools.training.sft import main, parse_args

    base = tiny_models["qwen2_5_vl"]
    config = AutoConfig.from_pretrained(base)
    assert config.model_type == "qwen2_5_vl" and config.vision_config.fullatt_block_indexes == [1]
    assert config.vision_config.window_size == 56  # 2x2 merged patches: a 112 px image is four windows
    rows = write_demo_rows(tmp_path / "rows", num_rows=4)
    out = tmp_path / "run"
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "tiny" / "sft" / "config.yaml"
    argv = ["--config", str(recipe), "--model_name_or_path", str(base), "--dataset_dir", str(rows), "--output_dir",
            str(out), "--max_steps", "1", "--warmup_steps", "0", "--save_strategy", "no",
            "--image_max_pixels", "4096"]  # fmt: skip
    summary = main(*parse_args(argv))
    assert summary["stages"][0]["metrics"]["train_rows"] == 4
    before = AutoModelForImageTextToText.from_pretrained(base).state_dict()
    trained = AutoModelForImageTextToText.from_pretrained(out)
    assert type(trained).__name__ == "Qwen2_5_VLForConditionalGeneration"
    after = trained.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("model.language_model"))
    assert "area capped at 4,096 px" in (out / "README.md").read_text()

    scores = evaluate_model(str(out), "remote-sensing", tmp_path / "eval", limit=2, batch_size=2,
                            benchmark_dir=rs_benchmark, max_new_tokens=4, progress=False)  # fmt: skip
    assert list(scores["tasks"]) == ["CLRS", "UC_Merced", "FloodNet", "NWPU-Captions"]
    for name, entry in scores["tasks"].items():
        lines = (tmp_path / "eval" / "predictions" / f"{name}.jsonl").read_text().splitlines()
        assert len(lines) == 2 and all("error" not in json.loads(line) for line in lines), name
        assert all(0.0 <= v <= 1.0 for k, v in entry["results"].items() if not k.startswith("num_")), entry


def test_domain_flags_of_evaluate_and_compare(tmp_path, capsys):
    from hub_tools.cli import main

    argv = ["evaluate", "--model", "m", "--tasks", "biomed", "--domain", "food", "--output", str(tmp_path / "e")]
    assert main(argv) == 2 and "not both" in capsys.readouterr().err
    for name, value in (("a", 0.5), ("b", 0.75)):
        tasks = {
            task: {"primary": ["accuracy"], "results": {"accuracy": value}, "num_items": 4}
            for task in ("PMC-VQA", "CLRS")
        }
        (tmp_path / name).mkdir()
        (tmp_path / name / "scores.json").write_text(json.dumps({"tasks": tasks}))
    argv = ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--output", str(tmp_path / "c.png")]
    assert main([*argv, "--domain", "remote-sensing"]) == 0
    out = capsys.readouterr().out
    assert "| CLRS | accuracy | 50.00 | 75.00 | +25.00 |" in out and "PMC-VQA" not in out
