"""The template pools (``hub_tools.compose.qa_templates`` / ``cot_templates``): the released shape, well-formed."""

from __future__ import annotations

import re

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


def test_qa_counts_and_inverted_share():
    assert len(QA_POOL) >= 60
    assert all(t.kind == "qa" for t in QA_POOL)
    assert 0.17 <= _share(QA_POOL, lambda t: t.inverted) <= 0.21
    assert not any(t.answer_first for t in QA_POOL)


def test_cot_counts_and_shares():
    assert len(COT_POOL) >= 150
    assert all(t.kind == "cot" for t in COT_POOL)
    assert 0.41 <= _share(COT_POOL, lambda t: t.inverted) <= 0.45
    direct = [t for t in COT_POOL if not t.inverted]
    assert 0.11 <= _share(direct, lambda t: t.answer_first) <= 0.15
    inverted = [t for t in COT_POOL if t.inverted]
    rationale = _share(inverted, lambda t: t.target == "reasoning")
    assert 0.4 <= rationale <= 0.6  # rationale vs question generation, roughly half each
    assert {t.target for t in inverted} == {"reasoning", "question"}


@pytest.mark.parametrize("template", ALL, ids=lambda t: t.user[:40])
def test_field_usage(template: Template):
    user, assistant = _fields(template.user), _fields(template.assistant)
    if template.kind == "qa" and not template.inverted:
        assert (user, assistant) == ({"question"}, {"answer"})
    elif template.kind == "qa":
        assert (user, assistant) == ({"answer"}, {"question"})
    elif not template.inverted:
        assert (user, assistant) == ({"question"}, {"reasoning", "answer"})
        first = min(("answer", "reasoning"), key=lambda f: template.assistant.index("{" + f + "}"))
        assert template.answer_first == (first == "answer")
    else:
        assert (user, assistant) in (({"question", "answer"}, {"reasoning"}), ({"reasoning", "answer"}, {"question"}))
        assert template.target == next(iter(assistant))
    for text in (template.user, template.assistant):
        for field in ("question", "answer", "reasoning"):
            assert text.count("{" + field + "}") <= 1


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
        Template("{question}", "{question}", "qa", inverted=False)  # wrong assistant field
    with pytest.raises(ValueError):
        Template("Using the image, {question}", "{answer}", "qa", inverted=False)  # comma before field
    with pytest.raises(ValueError):
        Template("<image>\n{question}", "{answer}", "qa", inverted=False)
    with pytest.raises(ValueError):
        Template("{question}", "{reasoning}\n{answer}", "cot", inverted=False, answer_first=True)  # wrong order
    with pytest.raises(ValueError):
        Template("{question} {{x}}", "{answer}", "qa", inverted=False)  # literal brace
    with pytest.raises(ValueError):
        Template("{question}", "{answer}", "caption", inverted=False)
