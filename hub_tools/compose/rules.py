"""Composition rules: the answer-cue branches that turn one triplet into one task turn.

1. the last sentence of the informative answer holds an answer cue (``so``, ``thus``,
   ``therefore``, ``final``, ``answer``, ``result``, ``could be``) -> the informative answer alone;
2. else the precise answer holds a cue -> informative and precise answers concatenated;
3. else a chain-of-thought template: the informative answer as reasoning, the precise answer as the
   final answer.

Every random choice for an example uses its own ``random.Random(f"{seed}-{id}")`` (:func:`example_rng`),
so the output does not depend on order, batching or restarts.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from hub_tools.compose.templates import COT_TEMPLATES, QA_TEMPLATES
from hub_tools.synthesis.parse import clean_question  # the hint rule lives next to the parser

CUE_PATTERN = re.compile(r"\b(?:so|thus|therefore|final(?:ly)?|answers?|results?|could\s+be)\b", re.IGNORECASE)
"""Answer cues, matched as whole words (so "also" or "resultant" do not count)."""
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def last_sentence(text: str) -> str:
    """The last non-empty sentence of ``text`` (split after ``.``, ``!`` or ``?`` + whitespace)."""
    parts = [p.strip() for p in _SENTENCE_END.split(text.strip()) if p.strip()]
    return parts[-1] if parts else ""


def has_cue(text: str) -> bool:
    """Whether ``text`` holds an answer cue word (see :data:`CUE_PATTERN`)."""
    return bool(CUE_PATTERN.search(text))


@dataclass
class TaskTurn:
    """A composed task turn: the user text, the assistant text and which rule produced it."""

    user: str
    assistant: str
    branch: str  # "informative" | "concat" | "cot"
    template: int  # index in QA_TEMPLATES (branches 1-2) or COT_TEMPLATES (branch 3)


def compose_task(question: str, informative: str, precise: str, rng: random.Random) -> TaskTurn:
    """Compose one task turn from a triplet with the answer-cue rules; ``rng`` picks the template."""
    question, informative, precise = clean_question(question), informative.strip(), precise.strip()
    if has_cue(last_sentence(informative)):
        i = rng.randrange(len(QA_TEMPLATES))
        return TaskTurn(QA_TEMPLATES[i].format(question=question), informative, "informative", i)
    if has_cue(precise):
        i = rng.randrange(len(QA_TEMPLATES))
        return TaskTurn(QA_TEMPLATES[i].format(question=question), f"{informative} {precise}", "concat", i)
    i = rng.randrange(len(COT_TEMPLATES))
    user, assistant = COT_TEMPLATES[i]
    return TaskTurn(user.format(question=question), assistant.format(reasoning=informative, answer=precise), "cot", i)


def example_rng(seed: int, example_id: str) -> random.Random:
    """The per-example random generator: ``random.Random(f"{seed}-{example_id}")``."""
    return random.Random(f"{seed}-{example_id}")
