"""What the in-process and the served evaluated models share: model families, prompt formats, stop tokens."""

from __future__ import annotations

from hub_tools.synthesis.prompts import llava_llama_3_opening

QWEN_VL_TYPES = ("qwen2_vl", "qwen2_5_vl")
PROMPT_FORMATS = ("released", "chat")
EXTRA_STOP_TOKENS = ("<|eot_id|>", "<|end_of_text|>", "<|im_end|>")


def released_llava_prompt(question: str, image_token: str = "<image>") -> str:
    """The release's ``llava_llama_3`` evaluation prompt for one question, ending in an open assistant header.

    The synthesizer's system prompt and Llama-3 headers (:mod:`hub_tools.synthesis.prompts`), then one
    user turn ``{image_token}\\n{question}``. Tokenize with special tokens on: the tokenizer's BOS goes
    in front of the string's ``<|begin_of_text|>``, as released.
    """
    return llava_llama_3_opening(question, image_token)


def check_prompt_format(prompt_format: str) -> str:
    """Return ``prompt_format`` if it is one of :data:`PROMPT_FORMATS`, else raise ``ValueError``."""
    if prompt_format not in PROMPT_FORMATS:
        raise ValueError(f"unknown prompt format {prompt_format!r}; expected one of {list(PROMPT_FORMATS)}")
    return prompt_format
