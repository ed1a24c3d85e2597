"""The consistency checker's few-shot prompt (written for this project).

The prompt is a fixed **prefix** (instruction + six worked examples, two per label, mixed domains)
followed by one **item suffix** ending in ``Verdict:``; the checker reads the next-token logits of
the three label words. Because the prefix is identical for every item, its KV cache is computed
once and reused (see :mod:`hub_tools.filtering.llm`).
"""

from __future__ import annotations

from dataclasses import dataclass

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
"""Longer fields are cut to these lengths before prompting (documented, so items stay bounded)."""


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


def item_text(item: Item) -> str:
    """The item suffix: question, both answers and the open ``Verdict:`` line."""
    return (
        f"Question: {_clip(item.question, 'question')}\n"
        f"Informative answer: {_clip(item.informative, 'informative')}\n"
        f"Precise answer: {_clip(item.precise, 'precise')}\n"
        "Verdict:"
    )


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
