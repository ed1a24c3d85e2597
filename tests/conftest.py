"""Shared fixtures: offline environment and the tiny models (built once per session, cached)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """``{"qwen2_vl": dir, "llava_next": dir, "llama": dir}``: the offline tiny models.

    Cached in ``$ADAMLLM_TINY_CACHE`` when set (the Makefile sets it to ``.cache/tiny``), else built
    into a per-session temp folder.
    """
    from hub_tools.miniature.tiny_models import build_tiny_models

    cache = os.environ.get("ADAMLLM_TINY_CACHE")
    out = Path(cache) if cache else tmp_path_factory.mktemp("tiny")
    return build_tiny_models(out)


@pytest.fixture(scope="session")
def tuned_tiny_models(tiny_models) -> dict[str, Path]:
    """:func:`tiny_models` plus the briefly tuned ``synthesizer`` and ``checker`` (trained once per cache: minutes)."""
    from hub_tools.miniature.tiny_tuned import build_all_tiny_models

    return build_all_tiny_models(Path(tiny_models["qwen2_vl"]).parent)


@pytest.fixture(scope="module")
def app(tiny_models):
    """The Space module (spaces/synthesizer/app.py), loaded with the random tiny models named through
    ADAMLLM_SYNTHESIZER / ADAMLLM_CHECKER (the Space's unit and browser tests share it)."""
    import sys

    from hub_tools import demo as core

    mp = pytest.MonkeyPatch()
    mp.setenv("ADAMLLM_SYNTHESIZER", str(tiny_models["llava_next"]))
    mp.setenv("ADAMLLM_CHECKER", str(tiny_models["llama"]))
    try:
        yield core.load_app()
    finally:
        mp.undo()
        sys.modules.pop(core.APP_MODULE, None)


@pytest.fixture(scope="session")
def sample_pairs(tmp_path_factory) -> Path:
    """The bundled sample pairs written as a ShareGPT JSON file (+ images); returns the JSON path."""
    from hub_tools.miniature.samples import write_sample_pairs

    out = tmp_path_factory.mktemp("samples")
    return write_sample_pairs(out)


@pytest.fixture(autouse=True)
def isolated_datasets_cache(tmp_path, monkeypatch):
    """A fresh ``datasets`` cache per test: datasets 5 keys local folders by name, not by content.

    Set both in-process and in the environment, so subprocesses (accelerate launch, the CLI) get it too.
    """
    import datasets

    cache = tmp_path / "hf_datasets_cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
