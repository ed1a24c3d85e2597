"""The remote-sensing world: aerial scenes only when asked, grounded aerial triplets, held-out (land use, object) pairs
absent from the seed set, and a miniature CLRS / FloodNet / NWPU-Captions benchmark the harness reads."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from hub_tools.miniature import world as W

SMALL = {"seed_images": 24, "partial_seed_images": 6, "pairs": 12, "benchmark_per_task": 8}


@pytest.fixture(scope="module")
def aerial_world(tmp_path_factory) -> Path:
    return W.build_world(tmp_path_factory.mktemp("aerial"), domain="remote-sensing", **SMALL)


def _params_of_seed_images(world: Path) -> list[W.Aerial]:
    """The parameters of every seed image, read back from its caption (the seed sets store no parameters)."""
    from hub_tools.miniature.world.grounding import _LAND_USE_FORMS, _OBJECT_FORMS

    captions = json.loads((world / "seed" / "ALLaVA-Caption-VFLAN-4V.json").read_text())
    found = []
    for entry in captions:
        text = entry["conversations"][1]["value"]
        (use,) = set(W._mentions(text, _LAND_USE_FORMS))
        (obj,) = set(W._mentions(text, _OBJECT_FORMS))
        found.append((use, obj))
    return found


def test_aerial_scenes_only_when_asked(aerial_world, tmp_path):
    meta = json.loads((aerial_world / "world.json").read_text())
    assert meta["config"]["domain"] == "remote-sensing"
    assert all(c.startswith("aerial:") for c in meta["heldout_combinations"])
    assert {W.params_from_dict(p["params"]).kind for p in W.load_pairs(aerial_world / "pairs.json")} == {"aerial"}
    default = W.build_world(tmp_path / "default", seed_images=4, partial_seed_images=0, pairs=4, benchmark_per_task=1)
    default_meta = json.loads((default / "world.json").read_text())
    assert "domain" not in default_meta["config"]  # the default world's files do not name the setting
    assert not any(c.startswith("aerial:") for c in default_meta["heldout_combinations"])
    assert {W.params_from_dict(p["params"]).kind for p in W.load_pairs(default / "pairs.json")} <= {"food", "scan"}
    with pytest.raises(ValueError, match="unknown world domain"):
        W.build_world(tmp_path / "bad", domain="astronomy", **SMALL)


def test_heldout_pairs_are_absent_from_the_seed_set_and_every_value_is_seen(aerial_world):
    heldout = set(json.loads((aerial_world / "world.json").read_text())["heldout_combinations"])
    assert len(heldout) == 3
    seen = _params_of_seed_images(aerial_world)
    assert not [s for s in seen if f"aerial:{s[0]}+{s[1]}" in heldout]
    assert {u for u, _ in seen} == set(W.LAND_USES) and {o for _, o in seen} == set(W.AERIAL_OBJECTS)
    pairs = W.load_pairs(aerial_world / "pairs.json")
    for pair in pairs:
        assert (W.params_from_dict(pair["params"]).combo() in heldout) == pair["heldout"]
    assert any(p["heldout"] for p in pairs)


@pytest.mark.parametrize("seed", range(12))
def test_true_aerial_triplets_pass_and_false_ones_fail(seed):
    rng = random.Random(seed)
    params = W.sample_aerial(rng)
    for qa in W.questions(params, rng):
        assert W.check_triplet(qa.question, qa.informative, qa.precise, params) is True, qa
        assert W.check_triplet(qa.question, qa.informative, qa.precise, W.params_to_dict(params)) is True
    # a wrong count, land use or side is caught, in either answer
    count = f"How many {W.AERIAL_OBJECTS[params.obj].plural} are there?"
    wrong_n = params.count % 4 + 1
    assert W.check_triplet(count, f"I count {wrong_n}.", str(wrong_n), params) is False
    assert W.check_triplet(count, f"I count {wrong_n}. So the answer is {params.count}.", str(params.count), params)
    land = "What kind of land is shown in this aerial image?"
    other_use = next(u for u in W.LAND_USES if u != params.land_use)
    assert W.check_triplet(land, f"It shows {params.land_use}.", other_use, params) is False
    assert W.check_triplet(land, f"It shows {other_use}.", params.land_use, params) is False
    side = f"On which side of the image are the {W.AERIAL_OBJECTS[params.obj].plural}?"
    other_side = "right" if params.side == "left" else "left"
    assert W.check_triplet(side, f"They are on the {other_side} side.", params.side, params) is False
    check = f"Are the {W.AERIAL_OBJECTS[params.obj].plural} on the {other_side} side of the image?"
    assert W.check_triplet(check, f"Yes, they are on the {other_side} side.", "Yes", params) is False
    # questions the scene cannot answer, or about another world's facts, are unknown
    assert W.parse_question("How many tomatoes are on the plate?", params) is None
    assert W.parse_question("Is there a lesion in this image?", params) is None


def test_the_benchmark_loads_in_the_harness_and_its_labels_are_true(aerial_world):
    from hub_tools.evaluation.tasks import TASKS, load_split

    bench = aerial_world / "benchmark"
    assert sorted(p.name for p in bench.iterdir()) == ["CLRS", "FloodNet", "NWPU-Captions"]
    clrs = load_split(TASKS["CLRS"], bench)
    assert clrs.vocabulary_source.endswith("vocabulary.json") and set(clrs.options.values()) == set(W.LAND_USES)
    assert len(clrs) == SMALL["benchmark_per_task"]
    flood = load_split(TASKS["FloodNet"], bench)
    types = [item.metric_args["answer_types"] for item in flood.items]
    assert types.count("CLOSED") == types.count("OPEN")
    closed = [item.label for item in flood.items if item.metric_args["answer_types"] == "CLOSED"]
    assert closed.count("yes") == closed.count("no")
    assert len(load_split(TASKS["NWPU-Captions"], bench)) == SMALL["benchmark_per_task"]
    for task in ("CLRS", "FloodNet"):
        for line in (bench / task / "test.jsonl").read_text().splitlines():
            row = json.loads(line)
            params = W.params_from_dict(json.loads(row["params"]))
            if task == "CLRS":
                assert row["label"] == params.land_use
                continue
            kind, truth = W.parse_question(row["input"].split("\n")[0], params)
            assert W.answer_is_true(kind, truth, row["label"], precise=True), row


def test_task_diversity_is_counted_over_each_worlds_own_question_types():
    """An even spread over every answer type the aerial world's questions have is full diversity there, as an even
    spread over the scans-and-plates types is in the default world (each world is scored on its own scale)."""
    from hub_tools.miniature.ablate_data import QUESTION_TYPES, diversity, judge_task

    aerial = W.Aerial("forest", "building", 3, "left")
    asked = {
        judge_task(q, "There are three buildings on the left.", "three", aerial)["type"]
        for q in ("How many buildings are there?", "Are there any tanks?", "On which side are the buildings?",
                  "What kind of object is shown?", "What kind of land is this?")
    }  # fmt: skip
    assert asked == set(QUESTION_TYPES["remote-sensing"])
    assert diversity(sorted(asked), "remote-sensing") == 100.0
    assert diversity(list(QUESTION_TYPES["biomed+food"])) == 100.0
    assert diversity(["number", "number"], "remote-sensing") == 0.0
