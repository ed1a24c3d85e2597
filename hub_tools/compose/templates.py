"""Template pools for composing task turns: the :class:`Template` type and its checks.

The pools themselves are data, in :mod:`hub_tools.compose.qa_templates` (``QA_POOL``: 64 templates,
12 inverted, i.e. ~19%) and :mod:`hub_tools.compose.cot_templates` (``COT_POOL``: 160 templates, 69
inverted, ~43%; 12 of the other 91, ~13%, state the answer first) -- the proportions of the released
FLAN-style pools, in wording written for this project (none is copied from the release). Every template
is checked at import: its fields fit its kind and inversion, no field follows a comma (a question keeps its
own capital letter), no literal braces, no ``<image>``, no duplicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from string import Formatter

_FIELDS = ("question", "answer", "reasoning")

# (kind, inverted) -> the allowed (user fields, assistant fields) combinations
_SHAPES: dict[tuple[str, bool], tuple[tuple[frozenset[str], frozenset[str]], ...]] = {
    ("qa", False): ((frozenset({"question"}), frozenset({"answer"})),),
    ("qa", True): ((frozenset({"answer"}), frozenset({"question"})),),
    ("cot", False): ((frozenset({"question"}), frozenset({"reasoning", "answer"})),),
    ("cot", True): (
        (frozenset({"question", "answer"}), frozenset({"reasoning"})),  # rationale generation
        (frozenset({"reasoning", "answer"}), frozenset({"question"})),  # question generation
    ),
}

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
    """One (user, assistant) template pair.

    ``kind`` is ``"qa"`` or ``"cot"``; ``inverted`` marks templates that give the answer and ask for
    the question (qa, cot) or for the rationale (cot); ``answer_first`` marks non-inverted cot
    templates whose assistant text states the answer before the reasoning.
    """

    user: str
    assistant: str
    kind: str
    inverted: bool
    answer_first: bool = False

    def __post_init__(self) -> None:
        if (self.kind, self.inverted) not in _SHAPES:
            raise ValueError(f"unknown kind {self.kind!r}")
        user, assistant = _fields(self.user), _fields(self.assistant)
        if len(set(user)) != len(user) or len(set(assistant)) != len(assistant):
            raise ValueError(f"field repeated in {self!r}")
        if (frozenset(user), frozenset(assistant)) not in _SHAPES[(self.kind, self.inverted)]:
            raise ValueError(f"fields {user} -> {assistant} do not fit kind={self.kind} inverted={self.inverted}")
        if self.answer_first and (self.kind != "cot" or self.inverted):
            raise ValueError("answer_first only applies to non-inverted cot templates")
        if self.kind == "cot" and not self.inverted and self.answer_first != (assistant[0] == "answer"):
            raise ValueError(f"answer_first={self.answer_first} does not match the assistant order in {self!r}")
        for text in (self.user, self.assistant):
            if "<image>" in text:
                raise ValueError(f"template holds <image>: {text!r}")
            _check_boundaries(text)

    @property
    def target(self) -> str:
        """What the assistant produces: ``"answer"``, ``"question"`` or ``"reasoning"``."""
        if not self.inverted:
            return "answer"
        return "question" if "question" in _fields(self.assistant) else "reasoning"

    @property
    def fields(self) -> frozenset[str]:
        """All fields the template needs."""
        return frozenset(_fields(self.user)) | frozenset(_fields(self.assistant))

    def render(self, **fields: str) -> tuple[str, str]:
        """``(user, assistant)`` text; takes only the fields it needs (extra ones are ignored).

        Field values are inserted verbatim (braces in them are not re-interpreted).
        """
        missing = self.fields - fields.keys()
        if missing:
            raise KeyError(f"missing field(s) {sorted(missing)} for template {self.user!r}")
        values = {name: fields[name] for name in self.fields}
        return self.user.format_map(values), self.assistant.format_map(values)


def qa(user: str, assistant: str = "{answer}") -> Template:
    """A question-answer template (user asks, assistant answers)."""
    return Template(user, assistant, "qa", inverted=False)


def qa_inverted(user: str, assistant: str = "{question}") -> Template:
    """An inverted question-answer template (user gives the answer, assistant writes the question)."""
    return Template(user, assistant, "qa", inverted=True)


def cot(user: str, assistant: str) -> Template:
    """A chain-of-thought template, reasoning first."""
    return Template(user, assistant, "cot", inverted=False)


def cot_answer_first(user: str, assistant: str) -> Template:
    """A chain-of-thought template that states the answer before the reasoning."""
    return Template(user, assistant, "cot", inverted=False, answer_first=True)


def cot_inverted(user: str, assistant: str) -> Template:
    """An inverted chain-of-thought template (rationale or question generation)."""
    return Template(user, assistant, "cot", inverted=True)


def check_pool(pool: tuple[Template, ...], name: str) -> tuple[Template, ...]:
    """Refuse a pool with a duplicate template or user text; returns the pool."""
    pairs = [(t.user, t.assistant) for t in pool]
    if len(set(pairs)) != len(pairs):
        raise ValueError(f"duplicate template in {name}")
    users = [t.user for t in pool]
    if len(set(users)) != len(users):
        raise ValueError(f"duplicate user text in {name}")
    return pool
