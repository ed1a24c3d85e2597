"""The pair record (:class:`ImageCaptionPair` / :class:`Rejection`), ids, and the checks of a pair's text."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from hub_tools.errors import BadInput

IMAGE_MARKER = "<image>"
MAX_CAPTION_CHARS = 20_000
CHAT_TOKEN = re.compile(r"<\|[^|<>]{1,40}\|>|<image>")
"""A chat special token written out (``<|im_end|>``, ``<|start_header_id|>``, ``<|image_pad|>``, ...) or
LLaVA's ``<image>`` placeholder: in a caption it would open or close turns of the prompt or training row."""


@dataclass
class ImageCaptionPair:
    """One image-caption pair.

    ``image`` is a path (str, absolute or as given), raw bytes, or a decoded ``PIL.Image``.
    ``caption_prompt`` is the user text of the caption turn (without the image marker), when
    the source had one. ``source`` records provenance (reader, file, index, original id).
    """

    id: str
    caption: str
    image: Any
    caption_prompt: str | None = None
    source: dict = field(default_factory=dict)


@dataclass
class Rejection:
    """An input record that was not accepted, with the reason and where it came from."""

    id: str
    reason: str
    source: dict = field(default_factory=dict)


Record = ImageCaptionPair | Rejection

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'" + r'|"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"""(['"])[A-Za-z_]\w*\1""")


def reason_kind(reason: Any) -> str:
    """A rejection reason without its specifics, for counting: quoted values (paths, text) dropped, quoted
    names (``'images'``) kept, then cut at the first colon. ``image path 'C:\\x.png' is absolute; ...`` ->
    ``image path is absolute; ...`` (a colon inside quotes never cuts)."""
    text = _QUOTED.sub(lambda m: m.group() if _NAME.fullmatch(m.group()) else "", str(reason or "unknown"))
    return re.sub(r"\s+", " ", text.split(":")[0]).strip()[:80] or "unknown"


_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


def make_id(*parts: Any) -> str:
    """A stable, filesystem-safe id built from provenance parts (a readable stem + short hash)."""
    raw = "|".join(str(p) for p in parts)
    stem = _SAFE_ID.sub("-", str(parts[-1]) if parts else "pair").strip("-.")[:48] or "pair"
    # surrogatepass: a part that is not valid UTF-8 (a lone surrogate) still gets an id (its record is rejected)
    return f"{stem}-{hashlib.sha1(raw.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def json_kind(value: Any) -> str:
    """``value``'s JSON type in words, for reasons ("a number", "an object", ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def utf8_problem(text: str) -> str | None:
    """``None`` when ``text`` encodes as UTF-8, else where it does not (a lone surrogate such as ``"\\ud800"``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"lone surrogate U+{ord(text[err.start]):04X} at character {err.start}"
    return None


def _has_visible(text: str) -> bool:
    """True when ``text`` holds a character that is not whitespace, a control or a zero-width (format) character."""
    return any(not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf") for ch in text)


def check_chat_tokens(text: str, what: str = "caption") -> None:
    """Raise :class:`BadInput` when ``text`` holds a :data:`CHAT_TOKEN`: it would open or close turns of the
    synthesizer's and checker's prompts and of the training rows built from it."""
    found = CHAT_TOKEN.search(text)
    if found:
        raise BadInput(f"{what} holds the chat special token {found.group()!r} (it would inject a chat turn)")


def check_caption(caption: Any) -> str:
    """Return the caption as given (the release uses it so) or raise :class:`BadInput` (missing, not text, not
    UTF-8, empty, too long, holding a chat special token: :func:`check_chat_tokens`).

    A caption is empty when nothing is left after removing whitespace, control and zero-width characters
    (newlines and tabs inside a caption are ordinary whitespace and stay). Surrounding whitespace is kept: it
    goes into the synthesizer prompt and the caption turn as it is.
    """
    if caption is None:
        raise BadInput("caption is missing")
    if not isinstance(caption, str):
        raise BadInput(f"caption is {json_kind(caption)}, not text")
    problem = utf8_problem(caption)
    if problem:
        raise BadInput(f"caption is not valid UTF-8 text: {problem}")
    check_chat_tokens(caption)
    if not caption.strip():
        raise BadInput("caption is empty")
    if not _has_visible(caption):
        raise BadInput("caption is empty after removing zero-width and control characters")
    if len(caption) > MAX_CAPTION_CHARS:
        raise BadInput(f"caption is too long ({len(caption)} characters > {MAX_CAPTION_CHARS})")
    return caption


def check_text(pair: ImageCaptionPair) -> str:
    """Check the caption (:func:`check_caption`) and the caption prompt; return the caption as given."""
    caption = check_caption(pair.caption)
    if pair.caption_prompt is not None:
        if not isinstance(pair.caption_prompt, str):
            raise BadInput(f"caption prompt is {json_kind(pair.caption_prompt)}, not text")
        problem = utf8_problem(pair.caption_prompt)
        if problem:
            raise BadInput(f"caption prompt is not valid UTF-8 text: {problem}")
        check_chat_tokens(pair.caption_prompt, "caption prompt")
    return caption
