"""The template pools (``hub_tools.compose.qa_templates`` / ``cot_templates``): the released shape, well-formed."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from hub_tools.compose.cot_templates import COT_POOL
from hub_tools.compose.qa_templates import QA_POOL
from hub_tools.compose.templates import Template

ALL = QA_POOL + COT_POOL
SAMPLE = {"question": "How many dogs are there?", "answer": "Two", "reasoning": "I can see two dogs on the grass."}
BRACED = {"question": "What does {x} mean?", "answer": "{0} and {answer}", "reasoning": "The sign says {{y}} and }{."}


def _fields(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def _share(items, pred) -> float:
    items = list(items)
    return sum(1 for t in items if pred(t)) / len(items)


# the released pools: how many templates of every shape (docs/protocol.md, "template pools")
RELEASED_QA = {"direct": 64, "answer->question": 10, "question-only": 5}
RELEASED_COT = {
    "forward": 104,
    "answer-first": 15,
    "answer-dropping": 1,
    "question+answer->reasoning": 23,
    "reasoning+answer->question": 22,
    "reasoning->question+answer": 23,
    "answer->question+reasoning": 22,
}


def test_qa_pool_has_the_released_count_of_every_shape():
    assert all(t.kind == "qa" for t in QA_POOL)
    assert Counter(t.shape for t in QA_POOL) == RELEASED_QA
    assert len(QA_POOL) == 79


def test_cot_pool_has_the_released_count_of_every_shape():
    assert all(t.kind == "cot" for t in COT_POOL)
    assert Counter(t.shape for t in COT_POOL) == RELEASED_COT
    assert len(COT_POOL) == 210
    assert sum(t.inverted for t in COT_POOL) == 90 and sum(t.answer_first for t in COT_POOL) == 15


# what each shape gives the user (field set) and asks of the assistant (fields in order)
EXPECTED_FIELDS = {
    "direct": ({"question"}, ["answer"]),
    "answer->question": ({"answer"}, ["question"]),
    "question-only": (set(), ["question"]),
    "forward": ({"question"}, ["reasoning", "answer"]),
    "answer-first": ({"question"}, ["answer", "reasoning"]),
    "answer-dropping": ({"question"}, ["reasoning"]),
    "question+answer->reasoning": ({"question", "answer"}, ["reasoning"]),
    "reasoning+answer->question": ({"reasoning", "answer"}, ["question"]),
    "reasoning->question+answer": ({"reasoning"}, ["question", "answer"]),
    "answer->question+reasoning": ({"answer"}, ["question", "reasoning"]),
}


@pytest.mark.parametrize("template", ALL, ids=lambda t: t.user[:40])
def test_field_usage(template: Template):
    user_fields, assistant_order = EXPECTED_FIELDS[template.shape]
    assert _fields(template.user) == user_fields
    assert re.findall(r"\{(\w+)\}", template.assistant) == assistant_order
    assert template.inverted == (template.shape not in ("direct", "forward", "answer-first", "answer-dropping"))
    for text in (template.user, template.assistant):
        for field in ("question", "answer", "reasoning"):
            assert text.count("{" + field + "}") <= 1


@pytest.mark.parametrize("shape", sorted(EXPECTED_FIELDS))
def test_every_shape_composes_a_well_formed_turn(shape):
    """A triplet rendered through a template of each shape: the user turn holds exactly what the shape
    gives, the assistant turn exactly what it asks for, and nothing else of the triplet."""
    template = next(t for t in ALL if t.shape == shape)
    values = {
        "question": "Which zebra is tallest?",
        "answer": "The left zebra",
        "reasoning": "Its ears reach highest.",
    }
    user, assistant = template.render(**values)
    given, produced = EXPECTED_FIELDS[shape]
    for name, value in values.items():
        assert (value in user) == (name in given), (shape, name)
        assert (value in assistant) == (name in produced), (shape, name)
    assert user.strip() and assistant.strip()
    order = [assistant.index(values[name]) for name in produced]
    assert order == sorted(order)


@pytest.mark.parametrize("template", ALL, ids=lambda t: t.user[:40])
def test_renders_without_leftover_braces(template: Template):
    user, assistant = template.render(**SAMPLE, extra="ignored")
    assert "{" not in user + assistant and "}" not in user + assistant
    assert user.strip() and assistant.strip()


@pytest.mark.parametrize("template", ALL, ids=lambda t: t.user[:40])
def test_field_values_are_not_reinterpreted(template: Template):
    user, assistant = template.render(**BRACED)
    expected_user, expected_assistant = template.user, template.assistant
    for name, value in BRACED.items():  # manual substitution: templates hold no literal braces
        expected_user = expected_user.replace("{" + name + "}", value)
        expected_assistant = expected_assistant.replace("{" + name + "}", value)
    assert (user, assistant) == (expected_user, expected_assistant)


def test_render_missing_field():
    with pytest.raises(KeyError):
        COT_POOL[0].render(question="Q?", answer="A")


@pytest.mark.parametrize("template", ALL, ids=lambda t: t.user[:40])
def test_no_comma_before_fields_and_no_image_tag(template: Template):
    for text in (template.user, template.assistant):
        assert "<image>" not in text
        for field in ("question", "answer", "reasoning"):
            assert ", {" + field + "}" not in text
            assert ",{" + field + "}" not in text
        for field in ("question", "reasoning"):  # whole sentences keep their own capital letter
            idx = text.find("{" + field + "}")
            if idx > 0:
                assert text[idx - 1] == "\n" or text[idx - 2 : idx] in (": ", ". ", "? ", "! "), text


def test_no_duplicates():
    for pool in (QA_POOL, COT_POOL):
        assert len({(t.user, t.assistant) for t in pool}) == len(pool)
        assert len({t.user for t in pool}) == len(pool)


def test_validation_rejects_bad_templates():
    with pytest.raises(ValueError):
        Template("{question}", "{question}", "qa", "direct")  # wrong assistant field
    with pytest.raises(ValueError):
        Template("Using the image, {question}", "{answer}", "qa", "direct")  # comma before field
    with pytest.raises(ValueError):
        Template("<image>\n{question}", "{answer}", "qa", "direct")
    with pytest.raises(ValueError):
        Template("{question}", "{reasoning}\n{answer}", "cot", "answer-first")  # wrong order
    with pytest.raises(ValueError):
        Template("{question}", "{reasoning}", "cot", "forward")  # the answer is missing: that is answer-dropping
    with pytest.raises(ValueError):
        Template("Ask a question.", "{answer}\n{question}", "qa", "question-only")  # question-only gives no answer
    with pytest.raises(ValueError):
        Template("{reasoning}", "{answer}\n{question}", "cot", "reasoning->question+answer")  # wrong order
    with pytest.raises(ValueError):
        Template("{question} {{x}}", "{answer}", "qa", "direct")  # literal brace
    with pytest.raises(ValueError):
        Template("{question}", "{answer}", "qa", "forward")  # a cot shape on a qa template
    with pytest.raises(ValueError):
        Template("{question}", "{answer}", "caption", "direct")
