"""Task-triplet parsing: worked examples, the released protocol as an oracle, property tests."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hub_tools.synthesis import LLAMA3, TaskTriplet, TurnFormat, parse_triplets, split_turns

U = "<|start_header_id|>user<|end_header_id|>\n\n"
A = "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
E = "<|eot_id|>"
P = "Answer with a precise response.\n"
I = "Answer with an informative response.\n"  # noqa: E741


def turns(*qa: tuple[str, str], complete: bool = True) -> str:
    """A generation as the synthesizer writes it: starts right after the open user header."""
    text = U.join(f"{q}{A}{a}{E}" for q, a in qa)
    return text if complete else text[: -len(E)]


# ---------------------------------------------------------------------------------------------
# an independent literal reading of the released protocol (first triplet only), as the oracle
# ---------------------------------------------------------------------------------------------
def released_first(pred: str):
    chunks = pred.split(U)
    if not pred.endswith(E):
        chunks = chunks[:-1]
    qa = []
    for chunk in chunks:
        parts = chunk.split(A)
        if len(parts) != 2:
            continue
        q, a = parts[0].strip(), parts[1][: -len(E)].strip()
        if len(q) > 0 and len(a) > 0:
            qa.append((q, a))
    precise, informative = {}, {}
    for q, a in qa:
        if q.startswith(P):
            key = q[len(P) :]
            if key in informative:
                return (key, informative[key], a)
            precise[key] = a
        elif q.startswith(I):
            key = q[len(I) :]
            if key in precise:
                return (key, a, precise[key])
            informative[key] = a
    return None


def as_tuple(t: TaskTriplet):
    return (t.question, t.informative, t.precise)


# ---------------------------------------------------------------------------------------------
# worked examples
# ---------------------------------------------------------------------------------------------
def test_well_formed_output():
    text = turns(
        (P + "What organ is shown?", "Kidney."),
        (I + "What organ is shown?", "The scan shows the abdomen; the organ is the kidney."),
        (I + "Is there a lesion?", "Yes, a round lesion in the left kidney."),
        (P + "Is there a lesion?", "Yes."),
    )
    got = parse_triplets(text)
    assert [as_tuple(t) for t in got] == [
        ("What organ is shown?", "The scan shows the abdomen; the organ is the kidney.", "Kidney."),
        ("Is there a lesion?", "Yes, a round lesion in the left kidney.", "Yes."),
    ]
    assert got[0].to_dict() == {
        "question": "What organ is shown?",
        "informative": got[0].informative,
        "precise": "Kidney.",
    }


def test_order_is_order_of_completion_not_of_first_question():
    text = turns(
        (P + "Q1?", "p1"),
        (P + "Q2?", "p2"),
        (I + "Q2?", "i2"),  # Q2 completes first
        (I + "Q1?", "i1"),
    )
    assert [t.question for t in parse_triplets(text)] == ["Q2?", "Q1?"]
    assert as_tuple(parse_triplets(text)[0]) == released_first(text)


def test_incomplete_last_turn_is_dropped():
    text = turns((P + "Q?", "yes"), (I + "Q?", "It is yes because"), complete=False)
    assert parse_triplets(text) == []
    # cut inside the next user header: the complete pair before it still counts? No: the release
    # drops the last piece only, and the text no longer ends with <|eot_id|>.
    text = turns((P + "Q?", "yes"), (I + "Q?", "Informative.")) + U + "Answer with a pre"
    assert [as_tuple(t) for t in parse_triplets(text)] == [("Q?", "Informative.", "yes")]


def test_latest_answer_wins_and_each_question_once():
    text = turns((P + "Q?", "first"), (P + "Q?", "second"), (I + "Q?", "info"), (P + "Q?", "third"), (I + "Q?", "x"))
    assert [as_tuple(t) for t in parse_triplets(text)] == [("Q?", "info", "second")]


def test_turns_without_hint_and_malformed_pieces_are_ignored():
    text = turns((P + "Q?", "p"), ("Describe it.", "A plate."), (I + "Q?", "i"))
    text = "garbage" + A + "x" + A + "y" + E + U + text  # a piece with two separators
    assert [as_tuple(t) for t in parse_triplets(text)] == [("Q?", "i", "p")]


def test_hint_must_be_followed_by_newline_and_question_is_kept_verbatim():
    text = turns((P.strip() + " Q?", "p"), (I.strip() + " Q?", "i"))
    assert parse_triplets(text) == []
    text = turns((P + "  Q?\nmore", "p"), (I + "  Q?\nmore", "i"))
    assert parse_triplets(text)[0].question == "  Q?\nmore"


def test_full_prompt_echo_is_tolerated():
    head = (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nsys" + E + U + "<image>\nDescribe the image."
        f"{A}A caption.{E}{U}"
    )
    text = head + turns((I + "Q?", "i"), (P + "Q?", "p"))
    assert [as_tuple(t) for t in parse_triplets(text)] == [("Q?", "i", "p")]


def test_split_turns_strips_and_cuts_eot():
    assert split_turns(turns(("  q ", " a  "))) == [("q", "a")]
    assert split_turns("") == []


def test_non_string_input():
    assert parse_triplets(None) == []  # type: ignore[arg-type]
    assert parse_triplets(b"bytes") == []  # type: ignore[arg-type]


def test_chat_format_conversion_qwen_style():
    fmt = TurnFormat(
        user_open="<|im_start|>user\n",
        assistant_open="<|im_start|>assistant\n",
        user_end="<|im_end|>\n",
        assistant_end="<|im_end|>\n",
    )
    text = (
        f"{P}Q?<|im_end|>\n<|im_start|>assistant\np<|im_end|>\n<|im_start|>user\n"
        f"{I}Q?<|im_end|>\n<|im_start|>assistant\ni<|im_end|>\n"
    )
    assert [as_tuple(t) for t in parse_triplets(text, turn_format=fmt)] == [("Q?", "i", "p")]
    assert parse_triplets(text) == []  # not the Llama-3 markers
    truncated = text[: -len("<|im_end|>\n")]
    assert parse_triplets(truncated, turn_format=fmt) == []
    assert LLAMA3.to_llama3(text) is text


# ---------------------------------------------------------------------------------------------
# property tests
# ---------------------------------------------------------------------------------------------
QUESTIONS = ["What is shown?", "Is it normal?", "Q", " spaced ", "Which side?\nExplain."]
ANSWERS = ["Yes.", "The left kidney.", " ", "", "a<|eot_id|>", "x" * 12]
fragments = st.one_of(
    st.sampled_from([U, A, E, P, I, "\n", " ", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id"]),
    st.sampled_from(QUESTIONS + ANSWERS),
    st.text(max_size=12),
)
garbled = st.lists(fragments, max_size=40).map("".join)


@st.composite
def plausible(draw):
    """Mostly well-formed outputs with repeats, empty fields, truncation and stray markers."""
    n = draw(st.integers(0, 8))
    parts = []
    for _ in range(n):
        hint = draw(st.sampled_from([P, I, P, I, "", "Answer with a precise response."]))
        q = draw(st.sampled_from(QUESTIONS))
        a = draw(st.sampled_from(ANSWERS) | st.text(max_size=8))
        parts.append(f"{hint}{q}{A}{a}{E}")
        if draw(st.booleans()) and draw(st.booleans()):
            parts.append(draw(garbled))
    text = U.join(parts)
    cut = draw(st.integers(0, len(text)))
    return text[:cut] if draw(st.booleans()) else text


def check_invariants(text: str):
    got = parse_triplets(text)
    for t in got:
        for field in (t.question, t.informative, t.precise):
            assert isinstance(field, str) and field
            assert field in text  # never invents text
    assert len({t.question for t in got}) == len(got)
    first = released_first(text)
    assert (as_tuple(got[0]) if got else None) == first
    return got


@settings(max_examples=300, deadline=None)
@given(plausible())
def test_property_plausible_outputs(text):
    check_invariants(text)


@settings(max_examples=300, deadline=None)
@given(garbled)
def test_property_garbled_outputs(text):
    check_invariants(text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_property_any_text_never_raises(text):
    check_invariants(text)


@settings(max_examples=100, deadline=None)
@given(plausible())
def test_property_chat_format_roundtrip(text):
    fmt = TurnFormat("<|im_start|>user\n", "<|im_start|>assistant\n", "<|im_end|>\n", "<|im_end|>\n")
    # Re-encode a Llama-3 output in the chat format: the same triplets come back.
    chat = text.replace(A, fmt.user_end + fmt.assistant_open).replace(E + U, fmt.assistant_end + fmt.user_open)
    if chat.endswith(E):
        chat = chat[: -len(E)] + fmt.assistant_end
    if any(m in chat for m in (U, A, E)) or any(m in text for m in ("<|im_start|>", "<|im_end|>")):
        return  # stray Llama-3 markers left over: not a clean re-encoding
    assert parse_triplets(chat, turn_format=fmt) == parse_triplets(text)
    for t in parse_triplets(chat, turn_format=fmt):
        assert t.question in chat and t.informative in chat and t.precise in chat
