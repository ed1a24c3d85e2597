"""Synthesizer prompts: the released LLaVA-NeXT / Llama-3 format and a generic chat-template path.

Both end with an *open user turn*: the synthesizer continues by writing the first question.

- **released** (``AdaptLLM/visual-instruction-synthesizer``): :func:`build_released_prompt` gives
  the exact string of the release's ``llava_llama_3`` conversation. It is tokenized by the
  synthesizer's own processor with special tokens on, so the tokenizer puts its BOS in front of
  the prompt's ``<|begin_of_text|>``: two BOS, as the release ran (and was trained).
- **chat** (any VLM with a chat template, e.g. a Qwen2-VL synthesizer): the caption exchange is
  rendered with ``processor.apply_chat_template`` and the template's own user-turn opening, derived
  by :func:`chat_turn_format`, is appended.

:func:`pick_prompt_format` chooses: ``released`` when the tokenizer has ``<|start_header_id|>``,
else ``chat``.
"""

from __future__ import annotations

from typing import Any

from hub_tools.defaults import CAPTION_PROMPT
from hub_tools.synthesis.parse import LLAMA3, TurnFormat

SYSTEM_PROMPT = (
    "You are a helpful language and vision assistant. You are able to understand the visual content that the "
    "user provides, and assist the user with a variety of tasks using natural language."
)
BOT = "<|begin_of_text|>"
_HEADER = "<|start_header_id|>{role}<|end_header_id|>\n\n"
_EOT = "<|eot_id|>"


LLAVA_TYPES = ("llava_next", "llava")
"""Model types that take the released ``llava_llama_3`` conversation when their tokenizer is Llama-3's."""


def render_llava_llama_3(
    messages: list[dict], add_generation_prompt: bool = False, image_token: str = "<image>"
) -> str:
    """``messages`` in the released ``llava_llama_3`` conversation (the LLaVA codebase's, as AdaMLLM trained and
    evaluated LLaVA-NeXT-Llama3).

    BOT, then the system turn (a leading system message's text, else :data:`SYSTEM_PROMPT`), then every turn as
    ``<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>``; an image part is written as
    ``{image_token}\n``, text parts as given. ``add_generation_prompt`` opens an assistant turn. ``messages`` are
    normalized (``content`` a list of ``image`` / ``text`` parts). The string carries one BOS; tokenize it with
    special tokens on (the tokenizer's BOS in front: two, as released).
    """
    system = SYSTEM_PROMPT
    if messages and messages[0]["role"] == "system":
        system = "".join(p.get("text", "") for p in messages[0]["content"] if p["type"] == "text")
        messages = messages[1:]
    text = BOT + _HEADER.format(role="system") + system + _EOT
    for message in messages:
        content = "".join(
            f"{image_token}\n" if part["type"] == "image" else part.get("text", "") for part in message["content"]
        )
        text += _HEADER.format(role=message["role"]) + content + _EOT
    return text + (_HEADER.format(role="assistant") if add_generation_prompt else "")


def llava_llama_3_opening(user_text: str, image_token: str = "<image>") -> str:
    """The ``llava_llama_3`` conversation up to an open assistant header: BOT, the system prompt, one user turn
    ``{image_token}\n{user_text}``. The released synthesizer prompt and the released evaluation prompt start so."""
    user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": user_text}]}
    return render_llava_llama_3([user], add_generation_prompt=True, image_token=image_token)


def prompt_style(model_type: str, processor: Any, prompt_format: str = "released") -> str:
    """``"llava_llama_3"`` for a LLaVA model (:data:`LLAVA_TYPES`) with a Llama-3 tokenizer under
    ``prompt_format="released"``, else ``"chat_template"``. Training (``adamllm train``) and evaluation
    (``adamllm evaluate``) decide with this one function, so a model is trained in the format it is evaluated in."""
    if prompt_format not in ("released", "chat"):
        raise ValueError(f"unknown prompt format {prompt_format!r}; expected 'released' or 'chat'")
    llava_llama3 = model_type in LLAVA_TYPES and pick_prompt_format(processor) == "released"
    return "llava_llama_3" if prompt_format == "released" and llava_llama3 else "chat_template"


def build_released_prompt(caption: str, image_token: str = "<image>") -> str:
    """The released synthesizer's prompt string for ``caption`` (see DESIGN.md), ending in an open user header."""
    return llava_llama_3_opening(CAPTION_PROMPT, image_token) + caption + _EOT + _HEADER.format(role="user")


def _tokenizer_of(processor: Any):
    return getattr(processor, "tokenizer", processor)


def pick_prompt_format(processor: Any) -> str:
    """``"released"`` when the tokenizer knows ``<|start_header_id|>`` (the Llama-3 format), else ``"chat"``."""
    tok = _tokenizer_of(processor)
    try:
        vocab = tok.get_vocab()
    except Exception:  # a tokenizer without get_vocab: use the chat template
        return "chat"
    return "released" if "<|start_header_id|>" in vocab else "chat"


def image_token_of(processor: Any) -> str:
    """The processor's image placeholder token (``processor.image_token``), ``<image>`` by default."""
    return (
        getattr(processor, "image_token", None) or getattr(_tokenizer_of(processor), "image_token", None) or "<image>"
    )


def released_inputs(processor: Any, image: Any, caption: str) -> dict:
    """Processor inputs (``input_ids`` with two BOS, ``pixel_values``, ...) of the released prompt for one pair."""
    prompt = build_released_prompt(caption, image_token_of(processor))
    return processor(text=[prompt], images=[image], return_tensors="pt")


# ---------------------------------------------------------------------------------------------
# generic chat-template path
# ---------------------------------------------------------------------------------------------
_U, _A, _V = "\x00U-MARK\x00", "\x00A-MARK\x00", "\x00V-MARK\x00"


def _render(processor: Any, messages: list[dict], add_generation_prompt: bool = False) -> str:
    return processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def _text(role: str, text: str) -> dict:
    return {"role": role, "content": [{"type": "text", "text": text}]}


def chat_turn_format(processor: Any) -> TurnFormat:
    """Derive the chat template's turn markers.

    ``add_generation_prompt`` can only open an *assistant* turn, so the user opening is derived from
    the template itself: render ``[user U, assistant A]`` and ``[user U, assistant A, user V]`` with
    marker strings U, A, V; the second rendering extends the first, and the text of the extension
    before V is the user opening (Qwen: ``<|im_start|>user\\n``); the text after V is the user-turn
    end. The text after A in the first rendering is the assistant-turn end, and ``[user U]`` rendered
    with and without ``add_generation_prompt`` differ by the assistant opening. These markers form the
    :class:`~hub_tools.synthesis.parse.TurnFormat` that maps generated turns onto the Llama-3 markers
    before parsing (``parse_triplets(text, turn_format=...)``).

    Raises ``ValueError`` naming the problem when the template does not render turns as
    extensions of each other (e.g. it has no user/assistant roles).
    """
    one = _render(processor, [_text("user", _U)])
    with_prompt = _render(processor, [_text("user", _U)], add_generation_prompt=True)
    two = _render(processor, [_text("user", _U), _text("assistant", _A)])
    three = _render(processor, [_text("user", _U), _text("assistant", _A), _text("user", _V)])
    if not (three.startswith(two) and with_prompt.startswith(one) and _V in three and _A in two and _U in one):
        raise ValueError(
            "cannot derive turn markers: the chat template does not render [user, assistant, user] as extensions "
            "of each other (needed to open a user turn after the caption)"
        )
    tail = three[len(two) :]
    user_open = tail[: tail.index(_V)]
    user_end = tail[tail.index(_V) + len(_V) :]
    assistant_open = with_prompt[len(one) :]
    assistant_end = two[two.index(_A) + len(_A) :]
    fmt = TurnFormat(
        user_open=user_open, assistant_open=assistant_open, user_end=user_end, assistant_end=assistant_end
    )
    if not (user_open and assistant_open and user_end.strip() and assistant_end.strip()):
        raise ValueError(f"could not derive turn markers from the chat template: {fmt}")
    return fmt


def build_chat_prompt(
    processor: Any, caption: str, caption_prompt: str | None = None, turn_format: TurnFormat | None = None
) -> str:
    """Render ``[user: image + caption prompt, assistant: caption]`` and open the next user turn.

    ``turn_format`` (from :func:`chat_turn_format`) saves re-deriving the markers per call.
    """
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": caption_prompt or CAPTION_PROMPT}]},
        _text("assistant", caption),
    ]
    return _render(processor, messages) + (turn_format or chat_turn_format(processor)).user_open


def chat_inputs(processor: Any, image: Any, caption: str, caption_prompt: str | None = None) -> dict:
    """Processor inputs of the chat-template prompt for one pair (no extra special tokens: the template has them)."""
    prompt = build_chat_prompt(processor, caption, caption_prompt)
    return processor(text=[prompt], images=[image], return_tensors="pt", add_special_tokens=False)


def prompt_text(
    processor: Any, fmt: str, caption: str, caption_prompt: str | None = None, turn_format: TurnFormat | None = None
) -> str:
    """The prompt string of ``fmt`` (``"released"`` or ``"chat"``) for one pair."""
    if fmt == "released":
        return build_released_prompt(caption, image_token_of(processor))
    if fmt == "chat":
        return build_chat_prompt(processor, caption, caption_prompt, turn_format)
    raise ValueError(f"unknown prompt format {fmt!r}; expected 'released' or 'chat'")


def turn_format_for(processor: Any, fmt: str) -> TurnFormat:
    """The :class:`TurnFormat` that generations in prompt format ``fmt`` use."""
    return LLAMA3 if fmt == "released" else chat_turn_format(processor)
