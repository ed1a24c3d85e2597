"""The ablation's world: domain knowledge only in the domain, and a balanced benchmark from held-out combinations."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from hub_tools.miniature import ablate_world as AW
from hub_tools.miniature import world as W


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("ablate_world")
    general = AW.write_general(out, 240, 0, "train") + AW.write_general(out, 60, 0, "dev")
    pairs = json.loads(AW.write_domain_pairs(out, 120, 0).read_text())
    return general, pairs


@pytest.fixture(scope="module")
def aerial_pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp("ablate_world_aerial")
    return json.loads(AW.write_domain_pairs(out, 60, 0, domain="remote-sensing").read_text())


def test_domain_words_are_in_domain_captions_and_never_in_general_rows(generated, aerial_pairs):
    general, pairs = generated
    pairs = pairs + aerial_pairs  # both domains: plates and scans, aerial scenes
    for item in general:
        row = AW.item_row(item)
        texts = [p["text"] for m in row["messages"] for p in m["content"] if p.get("type") == "text"]
        assert AW.domain_word_hits(" ".join(texts)) == [], (item["id"], texts)
    # every domain caption names a domain fact (an ingredient, an organ, a modality)
    for pair in pairs:
        assert AW.domain_word_hits(pair["messages"][1]["content"]), pair["messages"][1]["content"]
    # and the checker of the words would see them: a general-looking text with a domain word is caught
    assert AW.domain_word_hits("Three red tomatoes.") == ["tomatoes"]
    assert AW.domain_word_hits("Two red buildings on farmland.") == ["farmland", "buildings"]


def test_general_rows_cover_every_answer_format_of_the_benchmark(generated):
    general, _ = generated
    answers = {i["answer"] for i in general if i["candidates"]}
    assert {"Yes", "No"} <= answers  # closed
    assert set(AW.LETTERS) <= answers  # choice
    assert set(AW.COUNTS) <= answers  # open: numbers
    assert answers & set(AW.GENERAL_COLORS)  # open: short class names
    kinds = Counter(i["kind"] for i in general)
    assert {"caption", "color", "count", "yesno", "mc_color", "mc_count"} == set(kinds)


@pytest.mark.parametrize("domain", ["biomed+food", "remote-sensing"])
def test_benchmark_is_balanced_per_question_string_and_drawn_from_heldout_combinations(
    generated, aerial_pairs, domain
):
    aerial = domain == "remote-sensing"
    pairs = aerial_pairs if aerial else generated[1]
    items = AW.benchmark_items(200, 0, domain)
    combos = AW.benchmark_combos(0, domain)
    held = set(sum(combos.values(), []))
    assert set(items) == set(AW.TASKS)
    for task, task_items in items.items():
        assert len(task_items) >= 200, task
        by_string: dict[str, Counter] = {}
        for item in task_items:
            assert item["answer"] in item["candidates"]
            assert W.params_from_dict(item["params"]).combo() in held, item
            by_string.setdefault(AW.question_key(item["question"]), Counter())[item["answer"]] += 1
        for question, counts in by_string.items():
            candidates = (
                AW.LETTERS
                if task == "choice"
                else next(i["candidates"] for i in task_items if AW.question_key(i["question"]) == question)
            )
            # every answer of the string equally often: any fixed answer scores chance
            assert set(counts) == set(candidates) and len(set(counts.values())) == 1, (task, question, counts)
        prior = AW.question_prior(task_items)  # even fitted on the benchmark itself
        assert AW.prior_accuracy(prior, task_items) == pytest.approx(AW.chance(task_items))
    # no domain pair shows a benchmark combination
    assert not [p for p in pairs if W.params_from_dict(p["params"]).combo() in held]
    # but every modality, organ and ingredient is seen in the domain
    seen = " ".join(p["messages"][1]["content"] for p in pairs)
    words = [*W.LAND_USES, *(o.plural for o in W.AERIAL_OBJECTS.values())] if aerial else [*W.MODALITIES, *W.ORGANS]
    for word in words:
        assert word in seen, word
    if aerial:  # every land use and object is asked about, each in a combination the domain never shows
        asked = {W.params_from_dict(i["params"]).combo() for task in items.values() for i in task}
        assert asked == held and {c.split(":")[1].split("+")[0] for c in held} == set(W.LAND_USES)
