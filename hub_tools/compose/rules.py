"""Composition rules: the answer-cue branch that turns one triplet into one task turn.

:func:`answer_branch` decides, from the informative and precise answers, between the informative answer
alone, the two concatenated, or a chain of thought (informative answer as reasoning, precise answer as the
final answer). The default ``released`` rule is the released method's, quirks included (plain substring
tests: "also " holds "so ", "Therefore," holds no cue); ``words`` is our whole-word variant.
Every random choice for an example uses its own ``random.Random(f"{seed}-{id}")`` (:func:`example_rng`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from hub_tools.compose.cot_templates import COT_POOL
from hub_tools.compose.qa_templates import QA_POOL

CUE_RULES = ("released", "words")
RELEASED_CUES = ("could be ", "so ", "thus ", "therefore ", "final ", "answer ", "result ")
"""The released answer cues: substrings, each with its trailing space."""
CUE_PATTERN = re.compile(r"\b(?:so|thus|therefore|final(?:ly)?|answers?|results?|could\s+be)\b", re.IGNORECASE)
"""The ``words`` rule's cues, matched as whole words (so "also" or "resultant" do not count)."""
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def last_sentence(text: str) -> str:
    """The last non-empty sentence of ``text`` (split after ``.``, ``!`` or ``?`` + whitespace; ``words`` rule)."""
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip()) if p.strip()]
    return parts[-1] if parts else ""


def has_cue(text: str) -> bool:
    """Whether ``text`` holds an answer cue word of the ``words`` rule (see :data:`CUE_PATTERN`)."""
    return bool(CUE_PATTERN.search(text))


def has_released_cue(text: str) -> bool:
    """Whether lower-cased ``text`` contains any of :data:`RELEASED_CUES` as a substring (the released test)."""
    lowered = text.lower()
    return any(cue in lowered for cue in RELEASED_CUES)


def answer_branch(informative: str, precise: str, rule: str = "released") -> str:
    """Which answer the task turn uses: ``"informative"``, ``"concat"`` or ``"cot"``.

    ``released``: the last piece of the stripped, lower-cased informative answer split on ``". "`` has a cue ->
    ``informative``; else the whole lower-cased precise answer (as given) has a cue -> ``concat``; else ``cot``.
    The released rule itself, on any text (surrounding whitespace of the informative answer does not count).
    ``words``: the same order with whole-word cues and a sentence split on ``[.!?]`` + whitespace.
    """
    if rule == "released":
        if has_released_cue(informative.strip().lower().split(". ")[-1]):
            return "informative"
        return "concat" if has_released_cue(precise) else "cot"
    if rule == "words":
        if has_cue(last_sentence(informative)):
            return "informative"
        return "concat" if has_cue(precise) else "cot"
    raise ValueError(f"unknown cue rule {rule!r}; choose one of {CUE_RULES}")


@dataclass
class TaskTurn:
    """A composed task turn: the user text, the assistant text and which rule and template produced it."""

    user: str
    assistant: str
    branch: str  # "informative" | "concat" | "cot"
    template: int  # index in QA_POOL (branches informative / concat) or COT_POOL (cot)


def compose_task(
    question: str, informative: str, precise: str, rng: random.Random, cue_rule: str = "released"
) -> TaskTurn:
    """Compose one task turn from a triplet: :func:`answer_branch`, then a template drawn with ``rng``.

    The instruction and both answers go into the template as given, as released (the parser has already cut
    the hint and the surrounding whitespace of each turn).
    """
    branch = answer_branch(informative, precise, cue_rule)
    if branch == "cot":
        i = rng.randrange(len(COT_POOL))
        user, assistant = COT_POOL[i].render(question=question, reasoning=informative, answer=precise)
    else:
        answer = informative if branch == "informative" else f"{informative} {precise}"
        i = rng.randrange(len(QA_POOL))
        user, assistant = QA_POOL[i].render(question=question, answer=answer)
    return TaskTurn(user, assistant, branch, i)


def example_rng(seed: int, example_id: str) -> random.Random:
    """The per-example random generator: ``random.Random(f"{seed}-{example_id}")``."""
    return random.Random(f"{seed}-{example_id}")
