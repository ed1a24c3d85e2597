"""Small phrasing pieces every kind of world text shares: the :class:`QA` record, numbers as words or digits, the
answer-cue endings of informative answers. Apart so that :mod:`~hub_tools.miniature.world.text` (plates, scans) and
:mod:`~hub_tools.miniature.world.aerial` (aerial scenes) both use them without importing each other."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hub_tools.filtering.lexical import NUMBER_WORDS


@dataclass
class QA:
    """A question about an image with its precise and informative answers and its task type."""

    task: str
    question: str
    precise: str
    informative: str


def _num(rng: random.Random, n: int) -> str:
    return NUMBER_WORDS[n] if rng.random() < 0.6 else str(n)


def _cue_end(rng: random.Random, value: str) -> str:
    return rng.choice([f" So the answer is {value}.", f" Therefore, the answer is {value}.", f" Thus it is {value}."])
