"""Benchmark builders: tiny raw fixtures in each public release's layout -> evaluation schema."""

from __future__ import annotations

import csv
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def jpg(path: Path, color=(200, 30, 30), size=(12, 10)) -> Path:
    """Write a small JPEG (or PNG, by suffix) of one colour."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def write_json(path: Path, value) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return path


# ---------------------------------------------------------------------------------------------
# raw fixtures, one per release layout
# ---------------------------------------------------------------------------------------------
def raw_slake(root: Path) -> Path:
    base = root / "Slake1.0"
    recs = [
        {"img_id": 1, "img_name": "xmlab1/source.jpg", "question": "Which organ is abnormal?", "answer": "Liver",
         "q_lang": "en", "answer_type": "OPEN", "qid": 11, "modality": "CT", "location": "Abdomen"},
        {"img_id": 1, "img_name": "xmlab1/source.jpg", "question": "哪个器官异常?", "answer": "肝脏",
         "q_lang": "zh", "answer_type": "OPEN", "qid": 12},
        {"img_id": 2, "img_name": "xmlab2/source.jpg", "question": "Is this a CT scan?", "answer": "Yes",
         "q_lang": "en", "answer_type": "CLOSED", "qid": 13},
    ]  # fmt: skip
    write_json(base / "test.json", recs)
    write_json(base / "train.json", [dict(recs[0], qid=1)])
    jpg(base / "imgs" / "xmlab1" / "source.jpg", (10, 20, 30))
    jpg(base / "imgs" / "xmlab2" / "source.jpg", (40, 50, 60))
    return base


def raw_vqa_rad(root: Path) -> Path:
    base = root / "VQA_RAD"
    recs = [
        {"qid": "1", "phrase_type": "freeform", "image_name": "synpic100.jpg", "question": "train q?",
         "answer": "yes", "answer_type": "CLOSED"},
        {"qid": "2", "phrase_type": "test_freeform", "image_name": "synpic100.jpg", "question": "Is there a mass?",
         "answer": "no", "answer_type": "CLOSED "},
        {"qid": "3", "phrase_type": "test_para", "image_name": "synpic200.jpg", "question": "How many lesions?",
         "answer": 2, "answer_type": "OPEN"},
    ]  # fmt: skip
    write_json(base / "VQA_RAD Dataset Public.json", recs)
    jpg(base / "VQA_RAD Image Folder" / "synpic100.jpg")
    jpg(base / "VQA_RAD Image Folder" / "synpic200.jpg")
    return base


def raw_pathvqa(root: Path) -> Path:
    base = root / "pvqa"
    recs = [
        {"image": "test_0000", "question": "Does this image show necrosis?", "answer": "yes"},
        {"image": "test_0001", "question": "What  is present ?", "answer": "Granuloma"},
        {"image": "test_0000", "question": "Does this image show necrosis?", "answer": "yes"},  # duplicate record
        {"image": "test_0001", "question": "What is present?", "answer": "granuloma"},  # differs before cleaning
    ]
    (base / "qas" / "test").mkdir(parents=True)
    (base / "qas" / "test" / "test_qa.pkl").write_bytes(pickle.dumps(recs))
    jpg(base / "images" / "test" / "test_0000.jpg")
    jpg(base / "images" / "test" / "test_0001.jpg")
    return base


def raw_pmc_vqa(root: Path) -> Path:
    base = root / "PMC-VQA"
    base.mkdir(parents=True)
    header = ["Figure_path", "Question", "Answer", "Choice A", "Choice B", "Choice C", "Choice D", "Answer_label"]
    with open(base / "test_clean.csv", "w", newline="") as fh:  # the 2,000 rows of the Hub copy
        w = csv.writer(fh)
        w.writerow(header)
        w.writerow(
            ["PMC1_fig1.jpg", "What imaging modality is used?", "MRI", " A:CT ", " B:MRI", " C:X-ray", " D:PET", "B"]
        )
        w.writerow(
            ["PMC2_fig3.jpg", "Which side is affected?", "Left", "A: Left", "B: Right", "C: Both", "D: None", "A"]
        )
    with open(base / "test_2.csv", "w", newline="") as fh:  # the version-2 test set: not the benchmark
        w = csv.writer(fh)
        w.writerow(header)
        w.writerow(["PMC9_fig9.jpg", "Version two?", "Yes", "A:Yes", "B:No", "C:Maybe", "D:Never", "A"])
    # images.zip and images_2.zip each unpack into figures/
    jpg(base / "images" / "figures" / "PMC1_fig1.jpg", (90, 10, 10))
    jpg(base / "images_2" / "figures" / "PMC1_fig1.jpg", (10, 90, 10))
    jpg(base / "images_2" / "figures" / "PMC2_fig3.jpg", (10, 10, 90))
    jpg(base / "images_2" / "figures" / "PMC9_fig9.jpg")
    return base


def raw_food101(root: Path) -> Path:
    base = root / "food-101"
    (base / "meta").mkdir(parents=True)
    (base / "meta" / "classes.txt").write_text("apple_pie\nbaby_back_ribs\nsushi\n")
    (base / "meta" / "labels.txt").write_text("Apple pie\nBaby back ribs\nSushi\n")
    (base / "meta" / "test.txt").write_text("apple_pie/1011328\nsushi/99\nbaby_back_ribs/5\n")
    (base / "meta" / "train.txt").write_text("apple_pie/1\n")
    for entry in ("apple_pie/1011328", "sushi/99", "baby_back_ribs/5"):
        jpg(base / "images" / f"{entry}.jpg")
    return base


def raw_foodseg103(root: Path) -> Path:
    import numpy as np
    from PIL import Image

    base = root / "FoodSeg103"
    base.mkdir(parents=True)
    names = (
        ["background", "candy", "egg tart", "french fries"]
        + [f"cat{i}" for i in range(4, 103)]
        + ["other ingredients"]
    )
    (base / "category_id.txt").write_text("".join(f"{i}\t{n}\n" for i, n in enumerate(names)))
    (base / "ImageSets").mkdir()
    (base / "ImageSets" / "test.txt").write_text("00000001.jpg\n00000002.jpg\n")
    masks = {"00000001": [0, 1, 3, 103], "00000002": [0, 2]}
    for image_id, ids in masks.items():
        jpg(base / "Images" / "img_dir" / "test" / f"{image_id}.jpg")
        arr = np.zeros((4, 4), dtype=np.uint8)
        for k, v in enumerate(ids):
            arr[k, :] = v
        path = base / "Images" / "ann_dir" / "test" / f"{image_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr, mode="L").save(path)
    return base


def raw_nutrition5k(root: Path) -> Path:
    base = root / "nutrition5k_dataset"
    (base / "metadata").mkdir(parents=True)
    # cafe1 as the files are distributed (no num_ingrs), cafe2 in the documented layout (with num_ingrs)
    (base / "metadata" / "dish_metadata_cafe1.csv").write_text(
        "dish_1561662216,300.79,193.0,12.38,28.21,18.63,ingr_0000000508,soy sauce,3.39,2.07,0.0,0.18,0.29,"
        "ingr_0000000122,rice,90.0,117.0,0.27,25.8,2.43\n"
        "dish_1561662054,100.0,50.0,1.0,2.0,3.0,ingr_0000000026,broccoli,50.0,17.0,0.2,3.5,1.4\n"
    )
    (base / "metadata" / "dish_metadata_cafe2.csv").write_text(
        "dish_1574359199,200.0,150.0,5.0,10.0,8.0,2,ingr_0000000122,rice,100.0,130.0,0.3,28.0,2.7,"
        "ingr_0000000300,chicken,50.0,80.0,2.0,0.0,15.0\n"
    )
    (base / "dish_ids" / "splits").mkdir(parents=True)
    # the overhead RGB-D test split (the benchmark's) and the side-angle video one, which differs
    (base / "dish_ids" / "splits" / "depth_test_ids.txt").write_text("dish_1561662216\ndish_1574359199\n")
    (base / "dish_ids" / "splits" / "rgb_test_ids.txt").write_text("dish_1561662054\ndish_1561662216\n")
    (base / "dish_ids" / "splits" / "rgb_train_ids.txt").write_text("dish_1561662054\n")
    for dish in ("dish_1561662216", "dish_1574359199", "dish_1561662054"):
        jpg(base / "imagery" / "realsense_overhead" / dish / "rgb.png")
    return base


def raw_recipe1m(root: Path) -> Path:
    base = root / "recipe1M"
    layer1 = [
        {"id": "000018c8a5", "title": "Worlds Best Mac and Cheese", "partition": "test", "url": "http://x",
         "ingredients": [{"text": "6 ounces penne"}, {"text": "2 cups milk"}],
         "instructions": [{"text": "Preheat the oven to 350 F."}, {"text": "Bake for 30 minutes."}]},
        {"id": "00003a70b1", "title": "Crunchy Onion Potato Bake", "partition": "train",
         "ingredients": [{"text": "potatoes"}], "instructions": [{"text": "Bake."}]},
        {"id": "000075604a", "title": "No image recipe", "partition": "test",
         "ingredients": [{"text": "water"}], "instructions": [{"text": "Boil."}]},
    ]  # fmt: skip
    layer2 = [
        {"id": "000018c8a5", "images": [{"id": "3e233001e2.jpg", "url": "http://y"}, {"id": "7f749987f9.jpg"}]},
        {"id": "00003a70b1", "images": [{"id": "aaaa000000.jpg"}]},
    ]
    write_json(base / "layer1.json", layer1)
    write_json(base / "layer2.json", layer2)
    jpg(base / "images" / "test" / "3" / "e" / "2" / "3" / "3e233001e2.jpg", (1, 2, 3))
    return base


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------
def _load(out: Path, config: str):
    from datasets import load_dataset

    return load_dataset(str(out), config, split="test")


def test_biomed_script_builds_the_eval_schema(tmp_path):
    from datasets import Image, Value
    from huggingface_hub import DatasetCard

    raw = tmp_path / "raw"
    args = ["--slake", raw_slake(raw), "--vqa-rad", raw_vqa_rad(raw), "--pathvqa", raw_pathvqa(raw),
            "--pmc-vqa", raw_pmc_vqa(raw), "--output", tmp_path / "biomed", "--no-progress"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(REPO / "dataset_scripts" / "build_biomed_benchmark.py"), *map(str, args)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "biomed"

    slake = _load(out, "SLAKE")
    assert slake.features["image"] == Image()
    assert slake.features["label"] == Value("string")
    assert set(slake.column_names) == {"id", "image", "input", "label", "answer_type"}
    assert slake["label"] == ["Liver", "Yes"]  # the Chinese question is left out
    assert slake["answer_type"] == ["OPEN", "CLOSED"]
    assert slake[0]["input"].startswith("Which organ is abnormal?\n")
    assert slake[0]["image"].convert("RGB").getpixel((0, 0)) == pytest.approx((10, 20, 30), abs=3)

    rad = _load(out, "VQA_RAD")
    assert rad["label"] == ["no", "2"]  # test phrase types only; numbers become text
    assert rad["answer_type"] == ["CLOSED", "OPEN"]  # "CLOSED " normalised

    path = _load(out, "PathVQA")  # as the Hub copy: duplicate records dropped, then lower-cased
    assert path["label"] == ["yes", "granuloma", "granuloma"]
    assert path["answer_type"] == ["CLOSED", "OPEN", "OPEN"]
    assert path[1]["input"].startswith("what is present?\n") and path[0]["input"].startswith("does this image")

    pmc = _load(out, "PMC-VQA")  # test_clean.csv, figures from images/figures then images_2/figures
    assert set(pmc.column_names) == {"id", "image", "input", "label", "A", "B", "C", "D"}
    assert pmc["label"] == ["B", "A"]
    assert [row["image"].convert("RGB").getpixel((0, 0)) for row in pmc] == [
        pytest.approx((90, 10, 10), abs=3),
        pytest.approx((10, 10, 90), abs=3),
    ]
    assert [pmc[0][k] for k in "ABCD"] == ["CT", "MRI", "X-ray", "PET"]
    assert "A. CT\nB. MRI\nC. X-ray\nD. PET" in pmc[0]["input"]
    assert pmc[1]["A"] == "Left"

    card = DatasetCard.load(out / "README.md").data.to_dict()
    assert [c["config_name"] for c in card["configs"]] == ["SLAKE", "VQA_RAD", "PathVQA", "PMC-VQA"]
    assert card["configs"][0]["data_files"] == [{"split": "test", "path": "SLAKE/test-*.parquet"}]
    assert {i["config_name"]: i["splits"][0]["num_examples"] for i in card["dataset_info"]} == {
        "SLAKE": 2, "VQA_RAD": 2, "PathVQA": 3, "PMC-VQA": 2,
    }  # fmt: skip
    assert "`PathVQA`: 1 (duplicate image-question-answer record)" in (out / "README.md").read_text()


def test_food_script_builds_the_eval_schema(tmp_path):
    from datasets import List, Value

    raw = tmp_path / "raw"
    args = ["--food101", raw_food101(raw), "--foodseg103", raw_foodseg103(raw), "--nutrition5k",
            raw_nutrition5k(raw), "--recipe1m", raw_recipe1m(raw), "--output", tmp_path / "food", "--no-progress"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(REPO / "dataset_scripts" / "build_food_benchmark.py"), *map(str, args)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "food"

    food = _load(out, "Food101")
    assert food["label"] == ["apple pie", "sushi", "baby back ribs"]
    assert "apple pie, baby back ribs, sushi" in food[0]["input"]
    assert json.loads((out / "Food101" / "vocabulary.json").read_text()) == ["apple pie", "baby back ribs", "sushi"]

    seg = _load(out, "FoodSeg103")
    assert seg.features["label"] == List(Value("string"))
    assert seg["label"] == [["candy", "french fries"], ["egg tart"]]  # background and other ingredients left out
    vocab = json.loads((out / "FoodSeg103" / "vocabulary.json").read_text())
    assert len(vocab) == 102 and "background" not in vocab and "other ingredients" not in vocab

    nut = _load(out, "Nutrition5K")
    assert nut["id"] == ["dish_1561662216", "dish_1574359199"]  # depth_test_ids.txt, not rgb_test_ids.txt
    assert nut["label"] == [["soy sauce", "rice"], ["rice", "chicken"]]
    assert json.loads((out / "Nutrition5K" / "vocabulary.json").read_text()) == [
        "broccoli",
        "chicken",
        "rice",
        "soy sauce",
    ]

    rec = _load(out, "Recipe1M")
    assert rec["id"] == ["000018c8a5"]  # train recipe and image-less test recipe are left out
    assert rec[0]["label"] == (
        "Worlds Best Mac and Cheese\nIngredients:\n- 6 ounces penne\n- 2 cups milk\nInstructions:\n"
        "1. Preheat the oven to 350 F.\n2. Bake for 30 minutes."
    )
    assert rec[0]["image"].convert("RGB").getpixel((0, 0)) == pytest.approx((1, 2, 3), abs=3)


def _perfect_answer(kind: str, label):
    """A model answer that states the label the way each metric parses it."""
    if kind == "letters":
        return f"({label})"
    if kind == "multilabel":
        return ", ".join(label)
    return label


def test_built_folders_score_with_the_evaluation_harness(tmp_path):
    """The harness loads every built task from --benchmark-dir and its metric scores labels-as-answers at 1."""
    from hub_tools.evaluation.benchmarks import build_benchmark
    from hub_tools.evaluation.raw_readers import BIOMED_READERS, FOOD_READERS

    tasks_mod = pytest.importorskip("hub_tools.evaluation.tasks")
    harness = pytest.importorskip("hub_tools.evaluation.harness")
    raw = tmp_path / "raw"
    biomed = [BIOMED_READERS["SLAKE"](raw_slake(raw)), BIOMED_READERS["VQA_RAD"](raw_vqa_rad(raw)),
              BIOMED_READERS["PathVQA"](raw_pathvqa(raw)), BIOMED_READERS["PMC-VQA"](raw_pmc_vqa(raw))]  # fmt: skip
    food = [FOOD_READERS["Recipe1M"](raw_recipe1m(raw)), FOOD_READERS["Food101"](raw_food101(raw)),
            FOOD_READERS["FoodSeg103"](raw_foodseg103(raw)), FOOD_READERS["Nutrition5K"](raw_nutrition5k(raw))]  # fmt: skip
    build_benchmark(biomed, tmp_path / "bench", domain="biomed", progress=False)
    build_benchmark(food, tmp_path / "food", domain="food", progress=False)
    for group, folder in (("biomed", "bench"), ("food", "food")):
        for task in tasks_mod.resolve_tasks(group):
            split = tasks_mod.load_split(task, benchmark_dir=tmp_path / folder)
            assert len(split) >= 1
            split.image(0)  # decodes
            metric = harness.load_metric(task.metric)

            scores = split.compute(metric, split.items, [_perfect_answer(task.kind, i.label) for i in split.items])
            for key in task.primary:
                if key == "closed_accuracy" and not any(
                    i.metric_args.get("answer_types") == "CLOSED" for i in split.items
                ):
                    continue
                if key == "open_recall" and not any(i.metric_args.get("answer_types") == "OPEN" for i in split.items):
                    continue
                assert scores[key] == pytest.approx(1.0), (task.name, scores)
            if task.kind == "multilabel":
                assert not split.vocabulary_source.startswith("labels-union")


def test_missing_images_fail_or_are_counted(tmp_path):
    from hub_tools.evaluation.benchmarks import build_benchmark
    from hub_tools.evaluation.raw_readers import read_food101
    from hub_tools.publish.dataset import BuildError

    base = raw_food101(tmp_path / "raw")
    (base / "images" / "sushi" / "99.jpg").unlink()
    with pytest.raises(BuildError, match=r"image not found: .*99\.jpg"):
        build_benchmark([read_food101(base)], tmp_path / "a", domain="food", progress=False)
    assert not [p for p in (tmp_path / "a").rglob("*") if p.is_file()]
    result = build_benchmark([read_food101(base)], tmp_path / "b", domain="food", skip_missing=True, progress=False)
    assert result.rows == {"Food101": 2}
    assert result.skipped == {"Food101": {"image not found": 1}}
    assert "1 (image not found)" in (tmp_path / "b" / "README.md").read_text()


def test_limit_and_shards(tmp_path):
    import pyarrow.parquet as pq

    from hub_tools.evaluation.benchmarks import build_benchmark
    from hub_tools.evaluation.raw_readers import read_food101

    base = raw_food101(tmp_path / "raw")
    result = build_benchmark([read_food101(base)], tmp_path / "a", domain="food", limit=2, progress=False)
    assert result.rows == {"Food101": 2}
    result = build_benchmark([read_food101(base)], tmp_path / "b", domain="food", max_shard_bytes=500, progress=False)
    assert len(result.shards["Food101"]) == 3
    assert sum(pq.ParquetFile(p).metadata.num_rows for p in result.shards["Food101"]) == 3
    assert len(_load(tmp_path / "b", "Food101")) == 3


def test_pickle_with_code_is_refused(tmp_path):
    from hub_tools.evaluation.benchmarks import build_benchmark
    from hub_tools.evaluation.raw_readers import read_pathvqa
    from hub_tools.publish.dataset import BuildError

    base = raw_pathvqa(tmp_path / "raw")
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    (base / "qas" / "test" / "test_qa.pkl").write_bytes(pickle.dumps([Evil()]))
    with pytest.raises(BuildError, match="only plain data"):
        build_benchmark([read_pathvqa(base)], tmp_path / "out", domain="biomed", progress=False)
    assert not marker.exists()


def test_pathvqa_from_the_parquet_release(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hub_tools.evaluation.benchmarks import build_benchmark
    from hub_tools.evaluation.raw_readers import read_pathvqa

    jpg(tmp_path / "x.jpg")
    data = (tmp_path / "x.jpg").read_bytes()
    table = pa.table({
        "image": [{"bytes": data, "path": "a.jpg"}, {"bytes": data, "path": "b.jpg"}],
        "question": ["Is it benign?", "What stain is used?"],
        "answer": ["no", "h&e"],
    })  # fmt: skip
    (tmp_path / "hf" / "data").mkdir(parents=True)
    pq.write_table(table, tmp_path / "hf" / "data" / "test-00000-of-00001.parquet")
    pq.write_table(table.slice(0, 1), tmp_path / "hf" / "data" / "train-00000-of-00001.parquet")
    result = build_benchmark([read_pathvqa(tmp_path / "hf")], tmp_path / "out", domain="biomed", progress=False)
    assert result.rows == {"PathVQA": 2}
    ds = _load(tmp_path / "out", "PathVQA")
    assert ds["answer_type"] == ["CLOSED", "OPEN"]
    assert ds[0]["image"].size == (12, 10)


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("bad_type", "neither OPEN nor CLOSED"),
        ("escape", "escapes"),
        ("no_answer", "'answer' is missing"),
    ],
)
def test_bad_raw_records_fail_clearly(tmp_path, breakage, message):
    from hub_tools.evaluation.benchmarks import build_benchmark
    from hub_tools.evaluation.raw_readers import read_slake
    from hub_tools.publish.dataset import BuildError

    base = raw_slake(tmp_path / "raw")
    recs = json.loads((base / "test.json").read_text())
    if breakage == "bad_type":
        recs[0]["answer_type"] = "MAYBE"
    elif breakage == "escape":
        recs[0]["img_name"] = "../../../etc/passwd"
    elif breakage == "no_answer":
        del recs[2]["answer"]
    (base / "test.json").write_text(json.dumps(recs))
    with pytest.raises(BuildError, match=message):
        build_benchmark([read_slake(base)], tmp_path / "out", domain="biomed", progress=False)


def test_script_requires_a_release(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(REPO / "dataset_scripts" / "build_food_benchmark.py"), "--output", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "no benchmark given" in proc.stderr


def raw_recipe1m_many(root: Path, n: int) -> tuple[Path, list[str]]:
    """A Recipe1M release with ``n`` test recipes, each with an image (plus one train recipe)."""
    base = root / "recipe1M"
    ids = [f"{k:06d}abcd" for k in range(n)]
    layer1 = [{"id": rid, "title": f"Dish {k}", "partition": "test", "ingredients": [{"text": f"item {k}"}],
               "instructions": [{"text": f"Cook {k}."}]} for k, rid in enumerate(ids)]  # fmt: skip
    layer1.insert(2, {"id": "ffffffffff", "title": "Train dish", "partition": "train",
                      "ingredients": [{"text": "x"}], "instructions": [{"text": "y"}]})  # fmt: skip
    layer2 = [{"id": rid, "images": [{"id": f"{rid[::-1]}.jpg"}]} for rid in ids + ["ffffffffff"]]
    write_json(base / "layer1.json", layer1)
    write_json(base / "layer2.json", layer2)
    for rid in ids:
        image_id = f"{rid[::-1]}.jpg"
        jpg(base / "images" / "test" / Path(*image_id[:4]) / image_id)
    return base, ids


def test_recipe1m_sample_is_seeded_in_file_order_and_counted(tmp_path):
    """The Hub's Recipe1M is 1,000 recipes; the builder draws that many (here --recipe1m-sample 3) with a
    seeded generator, keeps file order, and says in the card and on stdout how many it left out."""
    import random

    base, ids = raw_recipe1m_many(tmp_path / "raw", 8)

    def build(out: str, *extra: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "hub_tools", "build-benchmark", "food", "--recipe1m", str(base),
               "--output", str(tmp_path / out), "--no-progress", *extra]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, timeout=180)

    proc = build("a", "--recipe1m-sample", "3")
    assert proc.returncode == 0, proc.stderr
    assert "Recipe1M: 3 rows (5 skipped)" in proc.stdout
    expected = [ids[k] for k in sorted(random.Random(0).sample(range(8), 3))]
    assert _load(tmp_path / "a", "Recipe1M")["id"] == expected
    card = (tmp_path / "a" / "README.md").read_text()
    assert "`Recipe1M`: 5 (not in the seed-0 sample of 3)" in card and "3 drawn with seed 0" in card

    proc = build("b", "--recipe1m-sample", "3", "--recipe1m-seed", "5")
    assert proc.returncode == 0, proc.stderr
    assert _load(tmp_path / "b", "Recipe1M")["id"] == [ids[k] for k in sorted(random.Random(5).sample(range(8), 3))]

    proc = build("c", "--recipe1m-sample", "0")  # every test recipe with an image
    assert proc.returncode == 0, proc.stderr
    assert _load(tmp_path / "c", "Recipe1M")["id"] == ids


def test_pmc_vqa_without_test_clean_names_it(tmp_path):
    """The benchmark is test_clean.csv: a folder without it is refused naming it; a csv file given itself is read."""
    from hub_tools.evaluation.raw_readers import read_pmc_vqa
    from hub_tools.publish.dataset import BuildError

    base = raw_pmc_vqa(tmp_path / "raw")
    (base / "test_clean.csv").unlink()
    with pytest.raises(BuildError, match="test_clean.csv"):
        read_pmc_vqa(base)
    other = read_pmc_vqa(base / "test_2.csv")  # another csv of the release, named as the file itself
    rows = list(other.rows)
    assert [r.columns["label"] for r in rows] == ["A"] and other.source == "PMC-VQA `test_2.csv`"
    assert rows[0].image == (base / "images_2" / "figures" / "PMC9_fig9.jpg").resolve()
