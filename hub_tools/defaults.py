"""The one definition of each project default: caption prompt, model ids, tiny-model cache.

Every other module imports these names; change a default here and nowhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

CAPTION_PROMPT = "Describe the image."
"""The caption turn's user text when a pair brings no prompt of its own (and the synthesizer's caption hint)."""

DEFAULT_SYNTHESIZER = "AdaptLLM/visual-instruction-synthesizer"
"""The released visual-instruction synthesizer (Hub id)."""

DEFAULT_CHECKER = "meta-llama/Meta-Llama-3-8B"
"""The consistency-checker LLM of the paper (Hub id)."""

TINY_CACHE_ENV = "ADAMLLM_TINY_CACHE"
"""Environment variable naming the folder where the offline tiny models are cached."""


def default_tiny_cache_dir() -> Path:
    """Where tiny models are cached: ``$ADAMLLM_TINY_CACHE`` or ``~/.cache/adamllm-hub/tiny``."""
    env = os.environ.get(TINY_CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "adamllm-hub" / "tiny"
