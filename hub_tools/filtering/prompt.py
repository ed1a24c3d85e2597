"""The consistency checker's few-shot prompt (written for this project).

The prompt is a fixed **prefix** (instruction + six worked examples, two per label, mixed domains)
followed by one **item suffix** ending in ``Verdict:``, where the checker generates the label.
Because the prefix is identical for every item, its KV cache is computed once and reused (see
:mod:`hub_tools.filtering.llm`).

A user-supplied template (:class:`PromptTemplate`, ``--checker-prompt FILE``) uses the released
placeholders ``{Q}``, ``{informative_A}`` and ``{precise_A}`` and ends where the label is generated;
its shared prefix is everything before the first placeholder. Values are substituted literally, as the
release inserts them; ``clip=True`` (``adamllm filter --clip-fields``) cuts them to :data:`MAX_FIELD_CHARS`
and collapses whitespace instead (our earlier default). A prompt longer than the checker's context is not run
(see :class:`hub_tools.filtering.llm.LLMChecker`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

LABELS = ("Yes", "No", "Open")

INSTRUCTION = """\
You review question-answer pairs written about images. Each item has a question, an informative \
answer (a detailed response) and a precise answer (a short response) to the same question. Decide \
whether the precise answer can be inferred from the informative answer.
- Yes: the informative answer states or clearly implies the precise answer.
- No: the informative answer does not support the precise answer: it says something different, \
contradicts it, or never reaches it.
- Open: the question is open-ended, so there is no single short answer to check: it asks for a \
description or caption of the image, an opinion or story, or background knowledge beyond the image.
Reply with one word: Yes, No or Open."""

# (question, informative, precise, label): two per label, biomedicine / food / general images.
EXAMPLES: tuple[tuple[str, str, str, str], ...] = (
    (
        "Which side of the chest shows the opacity?",
        "The frontal radiograph shows a patchy area of increased density in the lower zone of the right "
        "lung, while the left lung field is clear. The opacity is therefore on the right side.",
        "Right",
        "Yes",
    ),
    (
        "What is the main ingredient of the sauce on the pasta?",
        "The spaghetti is covered with a bright red sauce with visible chunks of tomato and a few basil "
        "leaves, which points to a tomato-based sauce.",
        "Cream",
        "No",
    ),
    (
        "Describe the scene in the photograph.",
        "The photograph shows a quiet harbour at sunset with small fishing boats moored along a wooden "
        "pier and gulls flying over the water.",
        "A harbour with boats.",
        "Open",
    ),
    (
        "How many slices of bread are on the plate?",
        "On the white plate there are three slices of toasted bread arranged in a fan next to a small dish of butter.",
        "3",
        "Yes",
    ),
    (
        "What staining technique was used for this tissue section?",
        "The section shows glands lined by columnar cells. The nuclei appear dark purple and the "
        "cytoplasm pink, but the image does not say how the slide was prepared.",
        "Immunohistochemistry",
        "No",
    ),
    (
        "What health benefits are associated with the vegetables in this salad?",
        "The salad contains spinach, carrots and red peppers. Leafy greens and brightly coloured "
        "vegetables are generally rich in vitamins and fibre.",
        "They are good for health.",
        "Open",
    ),
)

MAX_FIELD_CHARS = {"question": 1000, "informative": 4000, "precise": 1000}
"""With ``clip`` (a named option, not the default), longer fields are cut to these lengths before prompting."""


@dataclass(frozen=True)
class Item:
    """One triplet to judge."""

    question: str
    informative: str
    precise: str


def _clip(text: str, field: str) -> str:
    text = " ".join(str(text).split())
    limit = MAX_FIELD_CHARS[field]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def item_values(item: Item, clip: bool = False) -> dict[str, str]:
    """The placeholder values of ``item``: as given (the release), or clipped and whitespace-collapsed (``clip``)."""
    if clip:
        return {
            "Q": _clip(item.question, "question"),
            "informative_A": _clip(item.informative, "informative"),
            "precise_A": _clip(item.precise, "precise"),
        }
    return {"Q": item.question, "informative_A": item.informative, "precise_A": item.precise}


def item_text(item: Item, clip: bool = False) -> str:
    """The item suffix: question, both answers (as given, or clipped with ``clip``) and the open ``Verdict:`` line."""
    values = item_values(item, clip)
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], ITEM_TEMPLATE)


def prefix_text(extra_examples: tuple[tuple[str, str, str, str], ...] = ()) -> str:
    """The shared prefix: instruction and worked examples, each ending in `` <label>``, blank-line separated.

    ``extra_examples`` are appended after the six built-in ones (the benchmark uses this to reach
    a long prompt).
    """
    parts = [INSTRUCTION]
    for q, inf, prec, label in EXAMPLES + tuple(extra_examples):
        if label not in LABELS:
            raise ValueError(f"example label {label!r} is not one of {LABELS}")
        parts.append(item_text(Item(q, inf, prec)) + f" {label}")
    return "\n\n".join(parts) + "\n\n"


def full_prompt(item: Item) -> str:
    """Prefix + item suffix as one string (for reading; the checker tokenizes the two parts apart)."""
    return prefix_text() + item_text(item)


PLACEHOLDERS = ("{Q}", "{informative_A}", "{precise_A}")
"""The released template placeholders: question, informative answer, precise answer."""
_PLACEHOLDER = re.compile(r"\{(Q|informative_A|precise_A)\}")

ITEM_TEMPLATE = "Question: {Q}\nInformative answer: {informative_A}\nPrecise answer: {precise_A}\nVerdict:"
"""Our item suffix as a template (:func:`item_text` fills it)."""


class PromptError(ValueError):
    """A checker prompt template that cannot be used (one line, naming the file)."""


@dataclass(frozen=True)
class PromptTemplate:
    """A few-shot checker prompt with ``{Q}`` / ``{informative_A}`` / ``{precise_A}``, ending at the label.

    ``source`` names where it came from (``"default"`` or a file path). Values go in as they are, as
    released; ``clip`` cuts and whitespace-normalises them first (:func:`item_values`, a named option).
    """

    text: str
    source: str = "default"
    clip: bool = False

    def __post_init__(self):
        missing = [p for p in PLACEHOLDERS if p not in self.text]
        if missing:
            raise PromptError(f"checker prompt {self.source}: missing placeholder {missing[0]}")

    @classmethod
    def default(cls, prefix: str | None = None, clip: bool = False) -> PromptTemplate:
        """Our prompt: :func:`prefix_text` (or ``prefix``) followed by :data:`ITEM_TEMPLATE`."""
        return cls((prefix_text() if prefix is None else prefix) + ITEM_TEMPLATE, "default", clip=clip)

    def clipped(self, clip: bool = True) -> PromptTemplate:
        """This template with field clipping on (or off)."""
        return dataclasses.replace(self, clip=clip)

    @classmethod
    def from_file(cls, path: str | Path) -> PromptTemplate:
        """Read a UTF-8 template; one final newline (as editors add) is dropped. Raises :class:`PromptError`."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise PromptError(f"checker prompt {path}: cannot read it ({err})") from None
        if text.endswith("\r\n"):
            text = text[:-2]
        elif text.endswith("\n"):
            text = text[:-1]
        return cls(text, str(path))

    @property
    def prefix(self) -> str:
        """Everything before the first placeholder (the same for every item)."""
        return self.text[: _PLACEHOLDER.search(self.text).start()]

    def render(self, item: Item) -> str:
        """The whole prompt for ``item``; values are inserted literally (``{x}`` in a value stays as is)."""
        values = item_values(item, self.clip)
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.text)
