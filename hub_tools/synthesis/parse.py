"""Turn a synthesizer's raw generation into task triplets (instruction, informative, precise).

What a reader must know: element 0 of :func:`parse_triplets` is what the released protocol keeps
(the exact rule is in its docstring), and the parser only cuts text, it never rewrites it or raises.
Other chat formats are mapped onto the Llama-3 markers first (:meth:`TurnFormat.to_llama3`). Also here:
the question-type rule (:func:`clean_question`, :func:`leading_word`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

USER_HEADER = "<|start_header_id|>user<|end_header_id|>\n\n"
ASSISTANT_HEADER = "<|start_header_id|>assistant<|end_header_id|>\n\n"
EOT = "<|eot_id|>"
QA_SEPARATOR = EOT + ASSISTANT_HEADER
PRECISE_HINT = "Answer with a precise response.\n"
INFORMATIVE_HINT = "Answer with an informative response.\n"
_HINTS = re.compile(r"^\s*answer with an? (?:precise|informative) response\.?\s*", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z]+")
_HOW_PAIRS = ("many", "much", "long", "big", "old", "often", "far")


@dataclass(frozen=True)
class TaskTriplet:
    """One synthesized task: the instruction and its two answers."""

    question: str
    informative: str
    precise: str

    def to_dict(self) -> dict:
        """``{"question", "informative", "precise"}`` (the run-directory row format)."""
        return asdict(self)


@dataclass(frozen=True)
class TurnFormat:
    """The turn markers of a chat format, as they appear in generated text.

    ``user_open`` / ``assistant_open`` start a turn (Qwen: ``<|im_start|>user\\n``); ``user_end`` /
    ``assistant_end`` are what the template writes after a user / assistant turn's content up to
    the next turn's opening (Qwen: ``<|im_end|>\\n``; Llama-3: ``<|eot_id|>`` for both).
    """

    user_open: str
    assistant_open: str
    user_end: str
    assistant_end: str

    @property
    def turn_end(self) -> str:
        """The token that closes an assistant turn (``assistant_end`` without trailing whitespace)."""
        return self.assistant_end.rstrip()

    def to_llama3(self, text: str) -> str:
        """Rewrite ``text`` from this format's markers into the Llama-3 header form.

        Only the markers are replaced; turn contents are untouched, so triplets parsed from the
        result are still substrings of ``text``. An output that ends with the assistant turn end
        (plus optional whitespace) ends with ``<|eot_id|>`` after conversion.
        """
        if self == LLAMA3:
            return text
        text = text.replace(self.user_end + self.assistant_open, QA_SEPARATOR)
        text = text.replace(self.assistant_end + self.user_open, EOT + USER_HEADER)
        stripped = text.rstrip()
        if self.turn_end and stripped.endswith(self.turn_end):
            text = stripped[: -len(self.turn_end)] + EOT
        return text


LLAMA3 = TurnFormat(user_open=USER_HEADER, assistant_open=ASSISTANT_HEADER, user_end=EOT, assistant_end=EOT)
"""The released synthesizer's format (parsed natively)."""


def split_turns(generated: str) -> list[tuple[str, str]]:
    """Return the complete ``(question, answer)`` turns of a Llama-3-format generation (rule 1)."""
    pieces = generated.split(USER_HEADER)
    if not generated.endswith(EOT):
        pieces.pop()
    turns = []
    cut = len(EOT)
    for piece in pieces:
        parts = piece.split(QA_SEPARATOR)
        if len(parts) != 2:
            continue
        question = parts[0].strip()
        answer = parts[1][:-cut].strip()
        if question and answer:
            turns.append((question, answer))
    return turns


def parse_triplets(generated: str, turn_format: TurnFormat | None = None) -> list[TaskTriplet]:
    """Every complete task triplet in ``generated``, in order of completion.

    ``turn_format`` names the chat format of ``generated`` when it is not the released Llama-3
    one. Never raises for a string input; returns ``[]`` for anything else.

    The released synthesizer continues a prompt that ends with an open Llama-3 user header, so its
    output starts with the first question's text and then alternates turns::

        Answer with a precise response.\\nQ1<|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\nA1<|eot_id|>
        <|start_header_id|>user<|end_header_id|>\\n\\nAnswer with an informative response.\\nQ1<|eot_id|>...

    (no line break between the pieces; shown split here). The exact rule, chosen so that element 0
    equals what the released protocol keeps:

    1. **Turns.** Split the text on the user header ``<|start_header_id|>user<|end_header_id|>\\n\\n``.
       When the text does not end with ``<|eot_id|>`` the last piece is an unfinished turn and is
       dropped. A piece is a question-answer turn only when it contains the separator
       ``<|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\n`` exactly once; the question is
       the stripped text before it, the answer the text after it minus its last ``len("<|eot_id|>")``
       characters, stripped (the release cuts those characters without checking them; in
       well-formed output they are the ``<|eot_id|>``). Pieces with an empty question or answer, or
       with zero or several separators, are skipped.
    2. **Hints.** A question starting with ``Answer with a precise response.\\n`` is a precise turn, one
       starting with ``Answer with an informative response.\\n`` an informative turn; the hint is cut
       off and the rest, unchanged, is the instruction. Other turns are ignored.
    3. **Pairing, in order of completion.** Walking the turns in order, each hint keeps the latest
       answer seen per instruction (a repeated question under the same hint overwrites the answer).
       A turn *completes* a triplet when its instruction is already waiting under the other hint: the
       triplet is (instruction, informative answer, precise answer) from the two latest answers.
       Each instruction completes at most once; later turns with that instruction are ignored.
       Triplets are returned in the order their completing turn appears, so element 0 is the
       release's (it stops at the first completion).

    Every field of every triplet is a substring of the input (text is only cut, never rewritten),
    and the parser never raises on any string.

    Synthesizers prompted through another chat template (:mod:`hub_tools.synthesis.prompts`) produce
    that template's turn markers; :meth:`TurnFormat.to_llama3` maps them onto the Llama-3 markers
    first (``parse_triplets(text, turn_format=fmt)`` does this), so one rule serves every format.
    """
    if not isinstance(generated, str):
        return []
    if turn_format is not None:
        generated = turn_format.to_llama3(generated)
    waiting = ({}, {})  # 0: precise answers by instruction, 1: informative answers by instruction
    done: set[str] = set()
    triplets = []
    for question, answer in split_turns(generated):
        if question.startswith(PRECISE_HINT):
            side, instruction = 0, question[len(PRECISE_HINT) :]
        elif question.startswith(INFORMATIVE_HINT):
            side, instruction = 1, question[len(INFORMATIVE_HINT) :]
        else:
            continue
        if instruction in done:
            continue
        other = waiting[1 - side]
        if instruction in other:
            informative, precise = (other[instruction], answer) if side == 0 else (answer, other[instruction])
            triplets.append(TaskTriplet(instruction, informative, precise))
            done.add(instruction)
            other.pop(instruction)
            waiting[side].pop(instruction, None)
        else:
            waiting[side][instruction] = answer
    return triplets


def clean_question(question: str) -> str:
    """Strip a leading synthesizer hint ("Answer with a precise response.") from a question."""
    return _HINTS.sub("", question).strip()


def leading_word(question: str) -> str:
    """The question type: its first word lower-cased (``how`` + next word for how many/much/...).

    Wh-questions give ``what``, ``which``, ``how many`` ...; yes/no questions their verb (``is``,
    ``does``); imperatives their verb (``describe``, ``identify``).
    """
    words = [w.lower() for w in _WORD.findall(clean_question(question.replace("<image>", " ")))]
    if not words:
        return "(other)"
    if words[0] == "how" and len(words) > 1 and words[1] in _HOW_PAIRS:
        return f"how {words[1]}"
    return words[0]


def special_tokens_of(tokenizer: object) -> list[str]:
    """Every special token string of ``tokenizer`` (its named special tokens and added tokens marked special),
    longest first."""
    tokens = set(getattr(tokenizer, "all_special_tokens", None) or [])
    for added in (getattr(tokenizer, "added_tokens_decoder", None) or {}).values():
        if getattr(added, "special", False):
            tokens.add(str(getattr(added, "content", added)))
    return sorted((t for t in tokens if t), key=len, reverse=True)


def foreign_special_token(
    generated: str, special_tokens: list[str], turn_format: TurnFormat | None = None
) -> str | None:
    """The first special token in ``generated`` that is not part of one of the format's turn markers, or ``None``.

    The protocol's own markers (``turn_format``'s user / assistant openings and turn ends; Llama-3 by default) are
    removed first, and so is the text after the last complete turn end (an incomplete last turn, cut by
    ``max_new_tokens``, is dropped by :func:`parse_triplets` anyway). Anything special left (``<|image_pad|>``,
    ``<|begin_of_text|>``, a ``system`` header) would flow into the training data: the record is rejected, with the
    same rule for in-process and served engines.
    """
    fmt = turn_format or LLAMA3
    end = fmt.turn_end
    text = generated[: generated.rfind(end) + len(end)] if end and end in generated else generated
    for marker in sorted({fmt.user_open, fmt.assistant_open, fmt.user_end, fmt.assistant_end, end}, key=len)[::-1]:
        if marker:
            text = text.replace(marker, "\x00")
    for token in special_tokens:
        if token in text:
            return token
    return None
