"""The miniature world: determinism, layouts, held-out combinations, benchmark schema, grounding checks."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from hub_tools.miniature import world as W

SMALL = {"seed_images": 24, "partial_seed_images": 6, "pairs": 12, "benchmark_per_task": 6}


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> Path:
    return W.build_world(tmp_path_factory.mktemp("world"), **SMALL)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(small_world, tmp_path):
    again = W.build_world(tmp_path / "again", **SMALL)
    first, second = _tree(small_world), _tree(again)
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    other = _tree(W.build_world(tmp_path / "other", seed=1, **SMALL))
    assert any(other.get(k) != v for k, v in first.items())


def test_images_are_small_pngs(small_world):
    from PIL import Image

    files = list((small_world / "seed" / W.SEED_IMAGE_DIR).glob("*.png"))
    assert len(files) == SMALL["seed_images"] + SMALL["partial_seed_images"]
    with Image.open(files[0]) as img:
        assert img.size == (112, 112) and img.mode == "RGB"


def test_seed_sets_have_the_published_layouts(small_world):
    seed = small_world / "seed"
    captions = json.loads((seed / "ALLaVA-Caption-VFLAN-4V.json").read_text())
    precise = json.loads((seed / "metadata.json").read_text())
    informative = json.loads((seed / "ALLaVA-Instruct-VFLAN-4V.json").read_text())
    for entry in captions + informative:
        assert set(entry) == {"id", "image", "conversations"}
        assert entry["image"].startswith("allava_vflan/images/images_191task_1k/")
        human, gpt = entry["conversations"]
        assert human["from"] == "human" and human["value"].startswith("<image>\n") and gpt["from"] == "gpt"
    for entry in precise:
        assert set(entry) == {"id", "task_name", "image", "conversations"}
        assert entry["task_name"].startswith("world_")
        assert [t["from"] for t in entry["conversations"]] == ["human", "gpt"]
    # every informative question is asked with the same wording in the precise set (the triplet link)
    precise_q = {(e["image"].rsplit("/", 1)[1], e["conversations"][0]["value"]) for e in precise}
    informative_q = {(e["image"].rsplit("/", 1)[1], e["conversations"][0]["value"]) for e in informative}
    assert len(precise_q & informative_q) >= SMALL["seed_images"]


def test_pairs_are_readable_and_heldout_combinations_are_unseen(small_world):
    from hub_tools.data import ImageCaptionPair, read_pairs

    records = list(read_pairs(small_world / "pairs.json"))
    assert len(records) == SMALL["pairs"] and all(isinstance(r, ImageCaptionPair) for r in records)
    meta = json.loads((small_world / "world.json").read_text())
    heldout = set(meta["heldout_combinations"])
    pairs = W.load_pairs(small_world / "pairs.json")
    held = W.load_pairs(small_world / "heldout_pairs.json")
    assert len(held) == round(SMALL["pairs"] * 0.5) == sum(p["heldout"] for p in pairs)
    for pair in pairs:
        combo = W.params_from_dict(pair["params"]).combo()
        assert (combo in heldout) == pair["heldout"]
    # seed captions name their ingredients / modality + organ: none is a held-out combination
    captions = json.loads((small_world / "seed" / "ALLaVA-Caption-VFLAN-4V.json").read_text())
    for entry in captions:
        text = entry["conversations"][1]["value"]
        ings = sorted(set(W._mentions(text, W._INGREDIENT_FORMS)))
        if ings:
            assert "food:" + "+".join(ings) not in heldout
        else:
            modality = W._mentions(text, W._MODALITY_FORMS)[0]
            organ = W._mentions(text, W._ORGAN_FORMS)[0]
            assert f"scan:{modality}+{organ}" not in heldout


def test_benchmark_loads_in_the_evaluation_harness(small_world):
    tasks = pytest.importorskip("hub_tools.evaluation.tasks")
    bench = small_world / "benchmark"
    for name in W.DEFAULT_TASK_NAMES.values():
        split = tasks.load_split(tasks.TASKS[name], bench)
        assert len(split) == SMALL["benchmark_per_task"]
        split.image(0)
    slake = tasks.load_split(tasks.TASKS["SLAKE"], bench)
    types = {item.metric_args["answer_types"] for item in slake.items}
    assert types == {"OPEN", "CLOSED"}
    assert {i.label for i in slake.items if i.metric_args["answer_types"] == "CLOSED"} <= {"yes", "no"}
    pmc = tasks.load_split(tasks.TASKS["PMC-VQA"], bench)
    for item in pmc.items:
        assert item.reference in "ABCD" and len(item.metric_args["options"]) == 4
    seg = tasks.load_split(tasks.TASKS["FoodSeg103"], bench)
    assert seg.shared_kwargs["vocabulary"] == sorted(W.INGREDIENTS)


def test_benchmark_answers_are_true_of_the_images(small_world):
    for line in (small_world / "benchmark" / "PMC-VQA" / "test.jsonl").read_text().splitlines():
        row = json.loads(line)
        params = W.params_from_dict(json.loads(row["params"]))
        question = row["input"].split("\n")[0]
        kind, truth = W.parse_question(question, params)
        assert W.answer_is_true(kind, truth, row[row["label"]], precise=True)
    for line in (small_world / "benchmark" / "FoodSeg103" / "test.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert row["label"] == sorted(W.params_from_dict(json.loads(row["params"])).names())


def test_task_names_are_configurable(tmp_path):
    out = W.build_world(tmp_path, task_names={"closed_open": "VQA_RAD", "multilabel": "Nutrition5K"}, **SMALL)
    assert sorted(p.name for p in (out / "benchmark").iterdir()) == ["Nutrition5K", "PMC-VQA", "VQA_RAD"]
    with pytest.raises(ValueError, match="unknown world benchmark"):
        W.build_world(tmp_path / "bad", task_names={"ocr": "X"}, **SMALL)


@pytest.mark.parametrize("seed", range(40))
def test_generated_answers_are_grounded_and_wrong_ones_are_not(seed):
    rng = random.Random(seed)
    params = W.sample_food(rng) if seed % 2 else W.sample_scan(rng)
    for qa in W.questions(params, rng):
        assert W.check_triplet(qa.question, qa.informative, qa.precise, params) is True, qa
        assert W.check_triplet(qa.question, qa.informative, qa.precise, W.params_to_dict(params)) is True
        kind, truth = W.parse_question(qa.question, params)
        wrong = {
            "number": str(truth + 1) if isinstance(truth, int) else None,
            "yesno": "no" if truth == "yes" else "yes",
            "set": "olive",
            "color": "blue",
            "side": "right" if truth == "left" else "left",
            "size": "large" if truth == "small" else "small",
            "organ": "kidneys" if truth != "kidneys" else "brain",
            "modality": "MRI" if truth != "MRI" else "CT",
        }[kind]
        if kind == "set" and truth == frozenset({"olive"}):
            wrong = "olive, tomato"
        assert W.check_triplet(qa.question, qa.informative, wrong, params) is False, (qa, wrong)
        assert W.check_triplet(qa.question, wrong + ".", qa.precise, params) is False, (qa, wrong)


def test_informative_answer_must_conclude_with_the_truth():
    params = W.Food([W.Item("tomato", 3)])
    q = "How many tomatoes are on the plate?"
    assert W.check_triplet(q, "I see three red tomatoes. So the answer is 3.", "3", params)
    assert not W.check_triplet(q, "I see three red tomatoes. So the answer is 2.", "3", params)
    assert not W.check_triplet(q, "There are tomatoes.", "3", params)


def test_unknown_or_unanswerable_questions_are_not_grounded():
    food = W.Food([W.Item("pea", 2)])
    scan = W.Scan("CT", "brain")
    assert W.parse_question("What color are the eggs?", food) is None  # no eggs on the plate
    assert W.parse_question("Describe the plate", food) is None  # not a question
    assert W.parse_question("What is the weather like?", food) is None
    assert W.parse_question("On which side of the image is the lesion?", scan) is None  # no lesion
    assert W.check_triplet("Who painted this?", "A painter.", "Picasso", food) is None
    assert W.parse_question("Is there a lesion in this image?", scan) == ("yesno", "no")


def test_world_corpus_covers_the_texts(small_world):
    corpus = W.world_corpus(small_world)
    assert any("How many" in line for line in corpus)
    assert not any("<image>" in line for line in corpus)


def test_command_line(tmp_path, capsys):
    from hub_tools.cli import main

    argv = ["world", str(tmp_path / "w"), "--seed-images", "5", "--pairs", "4", "--benchmark-per-task", "2"]
    assert main(argv) == 0
    meta = json.loads((tmp_path / "w" / "world.json").read_text())
    assert meta["seed"]["in_all_three"] == 5 and meta["pairs"]["pairs"] == 4
    assert capsys.readouterr().out.strip() == str(tmp_path / "w")
