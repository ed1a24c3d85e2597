"""Template pools for composing task turns: the :class:`Template` type, its shapes and its checks.

The pools themselves are data, in :mod:`hub_tools.compose.qa_templates` (``QA_POOL``, 79 templates) and
:mod:`hub_tools.compose.cot_templates` (``COT_POOL``, 210 templates): the released FLAN-style pools' size
and count of every shape (:data:`SHAPES`), in wording written for this project (none is copied from the
release). Every template is checked at import: its fields fit its declared shape, in the shape's order, no
field follows a comma (a question keeps its own capital letter), no literal braces, no ``<image>``, no
duplicates.

A shape says what the user turn is given and what the assistant must produce. Composition renders a
template with the triplet's question, the chosen answer and (chain of thought) the informative answer as
reasoning; the user turn (after the image) holds the template's user text, the assistant turn its
assistant text. Fields a shape does not use are left out (a ``question-only`` turn asks for a question
about the image and drops the answer; ``answer-dropping`` drops the final answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Formatter

_FIELDS = ("question", "answer", "reasoning")

SHAPES: dict[str, tuple[str, frozenset[str], tuple[str, ...]]] = {
    # shape: (kind, fields given in the user turn, fields the assistant produces, in this order)
    "direct": ("qa", frozenset({"question"}), ("answer",)),
    "answer->question": ("qa", frozenset({"answer"}), ("question",)),
    "question-only": ("qa", frozenset(), ("question",)),
    "forward": ("cot", frozenset({"question"}), ("reasoning", "answer")),
    "answer-first": ("cot", frozenset({"question"}), ("answer", "reasoning")),
    "answer-dropping": ("cot", frozenset({"question"}), ("reasoning",)),
    "question+answer->reasoning": ("cot", frozenset({"question", "answer"}), ("reasoning",)),
    "reasoning+answer->question": ("cot", frozenset({"reasoning", "answer"}), ("question",)),
    "reasoning->question+answer": ("cot", frozenset({"reasoning"}), ("question", "answer")),
    "answer->question+reasoning": ("cot", frozenset({"answer"}), ("question", "reasoning")),
}
"""Every template shape of the released pools (the QA kinds, then the chain-of-thought kinds)."""
_ASKED = frozenset({"direct", "forward", "answer-first", "answer-dropping"})  # the user asks the question

# what may come right before a field: start of text, a newline, "word: ", "x. ", "x? ", "x! ", or a plain
# space after a word (``The answer is {answer}``); never a comma. {question} and {reasoning} are whole
# sentences, so for them the plain-space case is not allowed (they keep their own capital letter).
_SENTENCE_START = re.compile(r"(?:^|\n|[:.?!] )$")
_AFTER_WORD = re.compile(r"[A-Za-z] $")
# what may come right after a field: end of text, a newline or a space (no glued punctuation)
_FIELD_END = re.compile(r"^(?:$|\n| )")


def _fields(template: str) -> list[str]:
    """Field names of ``template`` in order; rejects literal braces, specs, conversions, attributes."""
    names = []
    for literal, name, spec, conversion in Formatter().parse(template):
        if "{" in literal or "}" in literal:
            raise ValueError(f"literal brace in template {template!r}")
        if name is None:
            continue
        if name not in _FIELDS or spec or conversion:
            raise ValueError(f"unsupported field {name!r} in template {template!r}")
        names.append(name)
    return names


def _check_boundaries(template: str) -> None:
    for match in re.finditer(r"\{(\w+)\}", template):
        before, after = template[: match.start()], template[match.end() :]
        if before.endswith(","):
            raise ValueError(f"field after a comma in {template!r}")
        if not (_SENTENCE_START.search(before) or (match.group(1) == "answer" and _AFTER_WORD.search(before))):
            raise ValueError(f"field {match.group(0)} does not start a sentence or line in {template!r}")
        if not _FIELD_END.match(after):
            raise ValueError(f"punctuation glued after {match.group(0)} in {template!r}")


@dataclass(frozen=True)
class Template:
    """One (user, assistant) template pair of a declared ``shape`` (a key of :data:`SHAPES`)."""

    user: str
    assistant: str
    kind: str
    shape: str

    def __post_init__(self) -> None:
        if self.shape not in SHAPES or SHAPES[self.shape][0] != self.kind:
            raise ValueError(f"unknown shape {self.shape!r} for kind {self.kind!r}")
        _, given, produced = SHAPES[self.shape]
        user, assistant = _fields(self.user), _fields(self.assistant)
        if len(set(user)) != len(user) or len(set(assistant)) != len(assistant):
            raise ValueError(f"field repeated in {self!r}")
        if frozenset(user) != given or tuple(assistant) != produced:
            raise ValueError(f"fields {user} -> {assistant} do not fit shape {self.shape!r}")
        for text in (self.user, self.assistant):
            if "<image>" in text:
                raise ValueError(f"template holds <image>: {text!r}")
            _check_boundaries(text)
        if not self.user.strip():
            raise ValueError(f"empty user text in {self!r}")

    @property
    def inverted(self) -> bool:
        """Whether the user is not simply asked the question (the answer or reasoning is given instead)."""
        return self.shape not in _ASKED

    @property
    def answer_first(self) -> bool:
        """Whether the assistant states the answer before the reasoning."""
        return self.shape == "answer-first"

    @property
    def fields(self) -> frozenset[str]:
        """All fields the template needs."""
        return frozenset(_fields(self.user)) | frozenset(_fields(self.assistant))

    def render(self, **fields: str) -> tuple[str, str]:
        """``(user, assistant)`` text; takes only the fields it needs (extra ones are ignored).

        Field values are inserted verbatim (no stripping; braces in them are not re-interpreted).
        """
        missing = self.fields - fields.keys()
        if missing:
            raise KeyError(f"missing field(s) {sorted(missing)} for template {self.user!r}")
        values = {name: fields[name] for name in self.fields}
        return self.user.format_map(values), self.assistant.format_map(values)


def qa(user: str, assistant: str = "{answer}") -> Template:
    """A direct question-answer template (user asks, assistant answers)."""
    return Template(user, assistant, "qa", "direct")


def qa_inverted(user: str, assistant: str = "{question}") -> Template:
    """An answer -> question template (user gives the answer, assistant writes the question)."""
    return Template(user, assistant, "qa", "answer->question")


def qa_question_only(user: str, assistant: str = "{question}") -> Template:
    """A question-only template (user asks for a question about the image, assistant writes it)."""
    return Template(user, assistant, "qa", "question-only")


def cot(user: str, assistant: str) -> Template:
    """A chain-of-thought template, reasoning first (``forward``)."""
    return Template(user, assistant, "cot", "forward")


def cot_answer_first(user: str, assistant: str) -> Template:
    """A chain-of-thought template that states the answer before the reasoning."""
    return Template(user, assistant, "cot", "answer-first")


def cot_answer_dropping(user: str, assistant: str) -> Template:
    """A chain-of-thought template whose assistant gives the reasoning and no final answer."""
    return Template(user, assistant, "cot", "answer-dropping")


def cot_rationale(user: str, assistant: str) -> Template:
    """Question + answer -> reasoning (rationale generation)."""
    return Template(user, assistant, "cot", "question+answer->reasoning")


def cot_question(user: str, assistant: str) -> Template:
    """Reasoning + answer -> question (question generation)."""
    return Template(user, assistant, "cot", "reasoning+answer->question")


def cot_from_reasoning(user: str, assistant: str) -> Template:
    """Reasoning -> question + answer."""
    return Template(user, assistant, "cot", "reasoning->question+answer")


def cot_from_answer(user: str, assistant: str) -> Template:
    """Answer -> question + reasoning."""
    return Template(user, assistant, "cot", "answer->question+reasoning")


def check_pool(pool: tuple[Template, ...], name: str) -> tuple[Template, ...]:
    """Refuse a pool with a duplicate template or user text; returns the pool."""
    pairs = [(t.user, t.assistant) for t in pool]
    if len(set(pairs)) != len(pairs):
        raise ValueError(f"duplicate template in {name}")
    users = [t.user for t in pool]
    if len(set(users)) != len(users):
        raise ValueError(f"duplicate user text in {name}")
    return pool
