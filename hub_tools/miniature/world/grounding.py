"""Grounding: is a synthesized question and its answers true of an image? Read against the image's parameters.

:func:`check_triplet` is ``None`` for a question it does not understand, so callers must count unknown questions
apart from false ones.
"""

from __future__ import annotations

import re
from typing import Any

from hub_tools.filtering.lexical import NUMBER_WORDS
from hub_tools.miniature.world.params import (
    AERIAL_OBJECTS,
    COLORS,
    INGREDIENTS,
    LAND_USES,
    SIDES,
    Aerial,
    Food,
    Params,
    as_params,
)

_WORD_NUM = {w: i for i, w in enumerate(NUMBER_WORDS)}
_NUM_RE = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r"|\d+)\b", re.IGNORECASE)


def _numbers(text: str) -> list[int]:
    return [int(t) if t.isdigit() else _WORD_NUM[t.lower()] for t in _NUM_RE.findall(text)]


def _mentions(text: str, words: dict[str, str]) -> list[str]:
    """Canonical values of ``words`` (surface form -> value) in order of appearance (longest form first)."""
    low = text.lower()
    found = []
    for form in sorted(words, key=len, reverse=True):
        for m in re.finditer(r"(?<![a-z-])" + re.escape(form.lower()) + r"(?![a-z])", low):
            found.append((m.start(), words[form]))
            low = low[: m.start()] + " " * len(form) + low[m.end() :]
    return [value for _, value in sorted(found)]


_INGREDIENT_FORMS = {f: i.name for i in INGREDIENTS.values() for f in (i.name, i.plural, "cheese cube")
                     if f != "cheese cube" or i.name == "cheese"}  # fmt: skip
_COLOR_FORMS = {c: c for c in COLORS}
_SIDE_FORMS = {s: s for s in SIDES}
_SIZE_FORMS = {"small": "small", "large": "large", "big": "large", "tiny": "small"}
_ORGAN_FORMS = {"brain": "brain", "lungs": "lungs", "lung": "lungs", "kidneys": "kidneys", "kidney": "kidneys"}
_MODALITY_FORMS = {"ct": "CT", "mri": "MRI", "x-ray": "X-ray", "xray": "X-ray", "radiograph": "X-ray"}
_YESNO = {"yes": "yes", "no": "no"}
_LAND_USE_FORMS = {u: u for u in LAND_USES} | {"farm land": "farmland", "farmlands": "farmland"}
_OBJECT_FORMS = {f: o.name for o in AERIAL_OBJECTS.values() for f in (o.name, o.plural)}
_OBJECT_FORMS |= {"plane": "airplane", "planes": "airplane", "storage tank": "tank", "storage tanks": "tank"}


def _parse_aerial(q: str, params: Aerial) -> tuple[str, Any] | None:
    """:func:`parse_question` for an aerial scene (``q`` lower-cased, ending in ``?``)."""
    if _mentions(q, _INGREDIENT_FORMS) or _mentions(q, _ORGAN_FORMS) or "lesion" in q:
        return None
    objs = _mentions(q, _OBJECT_FORMS)
    sides = _mentions(q, _SIDE_FORMS)
    if len(objs) > 1 or (len(set(sides)) > 1 and "left or" not in q):
        return None
    here = bool(objs) and objs[0] == params.obj
    if q.startswith("how many"):
        return ("number", params.count if here else 0) if objs else None
    if q.startswith(("is there", "are there")) and objs:
        return "yesno", "yes" if here else "no"
    if objs and ("which side" in q or "left or" in q or q.startswith("where")):
        return ("side", params.side) if here else None
    if q.startswith(("are the", "is the")) and objs and len(sides) == 1:
        return ("yesno", "yes" if sides[0] == params.side else "no") if here else None
    if objs:
        return None
    if "object" in q:
        return "object", params.obj
    if any(w in q for w in ("land", "area", "scene")):
        return "landuse", params.land_use
    return None


def parse_question(question: str, params: Params) -> tuple[str, Any] | None:
    """What ``question`` asks and its true answer for ``params``: ``(answer type, truth)``; ``None`` if unknown.

    Answer types: ``yesno`` (truth ``"yes"``/``"no"``), ``number`` (int), ``color``, ``side``, ``size``,
    ``organ``, ``modality``, ``landuse``, ``object`` (a canonical word) and ``set`` (a frozenset of ingredient names). A
    question about something the image does not hold (the colour of absent eggs, the side of a
    lesion in a normal scan) has no true answer and also gives ``None``.
    """
    q = question.strip().lower()
    if not q.endswith("?"):
        return None
    if isinstance(params, Aerial):
        return _parse_aerial(q, params)
    ings = _mentions(q, _INGREDIENT_FORMS)
    if isinstance(params, Food):
        if q.startswith("how many"):
            if len(ings) == 1:
                return "number", params.count(ings[0])
            if not ings and any(w in q for w in ("total", "items", "pieces")):
                return "number", sum(i.count for i in params.items)
            return None
        if q.startswith(("is there", "are there")) and len(ings) == 1:
            return "yesno", "yes" if params.count(ings[0]) else "no"
        if "color" in q and len(ings) == 1:
            return ("color", INGREDIENTS[ings[0]].color) if params.count(ings[0]) else None
        if "ingredient" in q and not ings:
            return "set", frozenset(params.names())
        return None
    if ings:
        return None
    sides = _mentions(q, _SIDE_FORMS)
    if "lesion" in q:
        if q.startswith(("is the lesion on the", "is the lesion in the")) and len(sides) == 1:
            return ("yesno", "yes" if sides[0] == params.side else "no") if params.lesion else None
        if "small or large" in q or "how big" in q or "how large" in q or "size" in q:
            return ("size", params.size) if params.lesion else None
        if "which side" in q or "left or right" in q or q.startswith("where"):
            return ("side", params.side) if params.lesion else None
        if q.startswith(("is there", "does", "do ", "are there")):
            return "yesno", "yes" if params.lesion else "no"
        return None
    if "organ" in q:
        return "organ", params.organ
    if "modality" in q or "kind of scan" in q or "type of scan" in q:
        return "modality", params.modality
    return None


_FORMS = {
    "color": _COLOR_FORMS,
    "side": _SIDE_FORMS,
    "size": _SIZE_FORMS,
    "organ": _ORGAN_FORMS,
    "modality": _MODALITY_FORMS,
    "yesno": _YESNO,
    "landuse": _LAND_USE_FORMS,
    "object": _OBJECT_FORMS,
}


def answer_is_true(kind: str, truth: Any, answer: str, precise: bool) -> bool:
    """Whether ``answer`` states ``truth`` (see :func:`parse_question` for kinds).

    A precise answer must state it first (``"3"``, ``"Yes"``, ``"left"``); an informative answer must
    mention it and end on it (its last mention of that kind of value is the truth), so an answer
    that names the right value on the way but concludes otherwise is false. Yes/no answers are
    judged by their first yes or no. Ingredient sets must match exactly.
    """
    if kind == "number":
        found = _numbers(answer)
        return bool(found) and (found[0] == truth if precise else found[-1] == truth)
    if kind == "set":
        return set(_mentions(answer, _INGREDIENT_FORMS)) == set(truth)
    found = _mentions(answer, _FORMS[kind])
    if not found:
        return False
    if kind == "yesno":
        return found[0] == truth
    return found[0] == truth if precise else found[-1] == truth


def check_triplet(question: str, informative: str, precise: str, params: Params | dict) -> bool | None:
    """``True`` when both answers are true of the image, ``False`` when one is not, ``None`` if the question is unknown.

    The question must be one :func:`parse_question` understands (a question about the world's
    parameters with a true answer for this image).
    """
    params = as_params(params)
    parsed = parse_question(question, params)
    if parsed is None:
        return None
    kind, truth = parsed
    return answer_is_true(kind, truth, precise, True) and answer_is_true(kind, truth, informative, False)
