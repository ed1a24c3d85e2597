"""Which models the demo uses (``ADAMLLM_SYNTHESIZER`` / ``ADAMLLM_CHECKER``, else released or tiny ones), loading
them once, and the banner that names them."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub_tools.defaults import DEFAULT_CHECKER, DEFAULT_SYNTHESIZER, TINY_CACHE_ENV, default_tiny_cache_dir
from hub_tools.demo.inputs import DEFAULT_MAX_NEW_TOKENS, LEXICAL
from hub_tools.redaction import strip_credentials


@dataclass(frozen=True)
class Models:
    """Which synthesizer and checker the demo uses and why; ``smoke_test`` when either is a tiny model."""

    synthesizer: str
    checker: str
    smoke_test: bool
    reason: str


def is_tiny(model: str) -> bool:
    """Whether ``model`` is a tiny offline model folder (built by :mod:`hub_tools.miniature.tiny_models`, stamped ``tiny.json``)."""
    return (Path(model) / "tiny.json").is_file()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def choose_models(env: dict | None = None, gpu: bool | None = None) -> Models:
    """Pick the models from ``env`` (default ``os.environ``) without loading anything.

    ``ADAMLLM_SYNTHESIZER`` / ``ADAMLLM_CHECKER`` win when set. Otherwise: the released models when a
    GPU is available (``gpu``, default ``torch.cuda.is_available()``) and the Hub is reachable
    (``HF_HUB_OFFLINE`` unset); else the briefly tuned tiny ``synthesizer`` and ``checker`` in
    ``ADAMLLM_TINY_CACHE`` or :func:`hub_tools.defaults.default_tiny_cache_dir` (built on first use by the
    caller's ``prepare``).
    """
    env = os.environ if env is None else env
    offline = _truthy(env.get("HF_HUB_OFFLINE"))
    if gpu is None:
        import torch

        gpu = torch.cuda.is_available()
    released = gpu and not offline
    tiny_dir = Path(env[TINY_CACHE_ENV]) if env.get(TINY_CACHE_ENV) else default_tiny_cache_dir()
    if released:
        why = "a GPU is available and the Hub is reachable"
    else:
        why = "offline (HF_HUB_OFFLINE=1)" if offline else "no GPU available"
    synthesizer = env.get("ADAMLLM_SYNTHESIZER") or (
        DEFAULT_SYNTHESIZER if released else str(tiny_dir / "synthesizer")
    )
    checker = env.get("ADAMLLM_CHECKER") or (DEFAULT_CHECKER if released else str(tiny_dir / "checker"))
    if checker.strip().lower() == LEXICAL:
        checker = LEXICAL
    defaults = [k for k in ("ADAMLLM_SYNTHESIZER", "ADAMLLM_CHECKER") if not env.get(k)]
    reason = (
        "set by ADAMLLM_SYNTHESIZER / ADAMLLM_CHECKER" if not defaults else f"{' and '.join(defaults)} unset; {why}"
    )
    tiny_default = not released and bool(defaults)
    smoke = tiny_default or is_tiny(synthesizer) or (checker != LEXICAL and is_tiny(checker))
    return Models(synthesizer, checker, smoke, reason)


def default_checker_choice(models: Models) -> str:
    """The UI's default checker: ``"lexical"`` when ``ADAMLLM_CHECKER=lexical`` configures it, else ``"LLM"``."""
    return LEXICAL if models.checker == LEXICAL else "LLM"


def resolve_checker(choice: str, models: Models) -> tuple[str, str | None]:
    """The checker a run uses for the UI ``choice``, and a note for the summary when it is not the one chosen.

    With ``ADAMLLM_CHECKER=lexical`` no LLM checker is configured, so ``"LLM"`` falls back to the lexical
    checker (the note says so) instead of loading a model nobody named (which may be gated or unreachable).
    """
    if choice == "LLM" and models.checker == LEXICAL:
        return LEXICAL, (
            "**Checker:** no LLM checker is configured (`ADAMLLM_CHECKER=lexical`), so the lexical checker "
            "judged the triplets. Set `ADAMLLM_CHECKER` to a causal LM (e.g. "
            f"`{DEFAULT_CHECKER}`) to use the LLM checker."
        )
    return choice, None


_LOAD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=2)
def _load_synthesizer(model: str):
    from hub_tools.synthesis import TransformersEngine
    from hub_tools.synthesis.served import served_synthesizer_from_env

    served = served_synthesizer_from_env(model, DEFAULT_MAX_NEW_TOKENS)  # $ADAMLLM_SYNTHESIZER_ENDPOINT: no weights
    return served or TransformersEngine(model, batch_size=1, max_new_tokens=DEFAULT_MAX_NEW_TOKENS)


@functools.lru_cache(maxsize=2)
def _load_llm_checker(model: str):
    from hub_tools.filtering import LLMChecker

    return LLMChecker(model)


def load_synthesizer(model: str, prepare: Callable[[str], None] | None = None):
    """The synthesizer engine for ``model``, loaded once (thread-safe) and cached.

    ``prepare(model)`` runs first (under the lock) when given, e.g. to build a tiny model not built yet.
    """
    with _LOAD_LOCK:
        if prepare is not None:
            prepare(model)
        return _load_synthesizer(model)


def load_checker(kind: str, model: str, prepare: Callable[[str], None] | None = None):
    """The checker: ``"lexical"`` -> the heuristic; ``"LLM"`` -> :class:`LLMChecker` of ``model`` (cached).

    ``prepare(model)`` runs before an LLM checker is returned, as in :func:`load_synthesizer`. A ``model`` of
    ``"lexical"`` (``ADAMLLM_CHECKER=lexical``) names no LLM: the heuristic is returned for either kind.
    """
    if kind == LEXICAL or model == LEXICAL:
        from hub_tools.filtering import LexicalChecker

        return LexicalChecker()
    with _LOAD_LOCK:
        if prepare is not None:
            prepare(model)
        return _load_llm_checker(model)


def model_banner(models: Models) -> str:
    """Markdown naming the models; a clear smoke-test warning when tiny models are in use."""
    checker = (
        "Checker: lexical word-overlap heuristic (`ADAMLLM_CHECKER=lexical`; no LLM checker)"
        if models.checker == LEXICAL
        else f"Checker (LLM): `{models.checker}`"
    )
    text = strip_credentials(f"Synthesizer: `{models.synthesizer}` · {checker} ({models.reason}).")  # a public page
    if models.smoke_test:
        return (
            "⚠️ **Smoke-test models.** This demo is running tiny models built offline "
            "(`hub_tools.miniature.tiny_models`): **their text is meaningless** as content. The default tiny "
            "synthesizer was tuned for a minute to write the task format (its answers are rarely true of the image) "
            "and the tiny checker to answer Yes / No / Open (not accurately); the random-weight ones usually write "
            "no complete task triplet. They only show that every stage runs. Set `ADAMLLM_SYNTHESIZER` / "
            "`ADAMLLM_CHECKER`, or run on a GPU with Hub access, for the released models.\n\n" + text
        )
    return text
