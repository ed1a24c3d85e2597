"""The ``lexical`` consistency checker: a fast, offline heuristic (no model).

Rules, in order:

1. **Yes** if every normalised token of the precise answer occurs in the informative answer
   (lower-cased, punctuation removed, articles dropped, number words mapped to digits);
2. **Open** if the question asks for a description or caption of the image;
3. **No** otherwise.

This is a heuristic, not the published protocol (which uses an LLM judge): it misses paraphrases
("right lung" vs "right-sided") and yes/no answers whose word is not repeated in the informative
answer, so it keeps fewer tasks than the LLM checker. Use it for tests, CPU runs and quick looks.
Its verdicts carry ``generated: null`` and ``probs: null``; its rows record ``decision: "lexical"``.
"""

from __future__ import annotations

import re

from hub_tools.filtering.prompt import Item

_WORD = re.compile(r"[a-z0-9]+")
_ARTICLES = {"a", "an", "the"}
NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
"""Number words by value (``NUMBER_WORDS[3] == "three"``), zero to twenty."""
_NUMBERS = {w: str(i) for i, w in enumerate(NUMBER_WORDS)}
OPEN_QUESTION = re.compile(
    r"\b(describe|description|caption|summari[sz]e|overview|tell me about|what is (?:happening|going on))\b",
    re.IGNORECASE,
)


def normalise(text: str) -> list[str]:
    """Lower-cased word tokens without punctuation or articles; number words become digits."""
    return [_NUMBERS.get(w, w) for w in _WORD.findall(text.lower()) if w not in _ARTICLES]


def lexical_verdict(item: Item) -> str:
    """``Yes`` / ``Open`` / ``No`` for one item by the rules in the module docstring."""
    precise = normalise(item.precise)
    if precise and set(precise) <= set(normalise(item.informative)):
        return "Yes"
    if OPEN_QUESTION.search(item.question):
        return "Open"
    return "No"


class LexicalChecker:
    """Checker interface over :func:`lexical_verdict` (``name == "lexical"``)."""

    name = "lexical"
    decision = "lexical"

    def judge(self, items: list[Item]) -> list[dict]:
        """Verdicts ``{"label", "generated": None, "probs": None}`` for ``items``, in order."""
        return [{"label": lexical_verdict(it), "generated": None, "probs": None} for it in items]
