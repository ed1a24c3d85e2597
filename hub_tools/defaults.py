"""The one definition of each project default: caption prompt, model ids, tiny-model cache, progress bars.

Every other module imports these names; change a default here and nowhere else.
"""

from __future__ import annotations

import functools
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


# miniature world ---------------------------------------------------------------------------------

WORLD_SEED_IMAGES = 1000
"""Images in all three seed sets of the miniature world (``WorldConfig.seed_images``, ``adamllm world``)."""
WORLD_PAIRS = 120
"""Domain image-caption pairs of the miniature world (``WorldConfig.pairs``)."""
WORLD_BENCHMARK_PER_TASK = 30
"""Rows per miniature benchmark task (``WorldConfig.benchmark_per_task``)."""


# progress -------------------------------------------------------------------------------------

PROGRESS_INTERVAL_ENV = "ADAMLLM_PROGRESS_INTERVAL"
"""Seconds between the plain progress lines printed when stderr is not a terminal (default 5)."""

_progress = {"enabled": True}


def set_progress(enabled: bool, quiet_transformers: bool = False) -> None:
    """Turn our progress bars on or off for this process (``--no-progress``).

    ``quiet_transformers`` also silences transformers' own bars ("Loading weights", "Writing model
    shards") and datasets' ("Generating train split") inside our steps; Hub download bars and our bars stay.
    """
    _progress["enabled"] = bool(enabled)
    if quiet_transformers:
        import datasets
        from transformers.utils import logging as hf_logging

        hf_logging.set_tqdm_hook(lambda factory, args, kwargs: hf_logging.EmptyTqdm(*args, **kwargs))
        datasets.disable_progress_bars()  # "Generating train split", "Map": not stages of ours


def progress_bar(iterable=None, *, disable: bool | None = False, **kwargs):
    """A tqdm bar on a terminal; when stderr is not one (a log file, CI), a plain line every few seconds.

    Nothing is shown until the first item is done: a stage that fails on its input, or has nothing to do,
    prints no empty ``0it`` bar.

    Takes tqdm's arguments (``total``, ``desc``, ``unit``, ``initial``...). ``disable=True`` or
    :func:`set_progress` ``(False)`` hides it; ``disable=None`` is the same as ``False`` here (tqdm would
    hide a bar on a non-terminal, leaving logs without progress).
    """
    import sys

    from tqdm.auto import tqdm

    if disable or not _progress["enabled"]:
        return tqdm(iterable, disable=True, **kwargs)
    stream = kwargs.pop("file", None) or sys.stderr
    if getattr(stream, "isatty", lambda: False)():
        kwargs.setdefault("dynamic_ncols", True)
        return _terminal_progress_class()(iterable, file=stream, **kwargs)
    kwargs.pop("dynamic_ncols", None)
    kwargs.pop("ncols", None)
    try:
        interval = float(os.environ.get(PROGRESS_INTERVAL_ENV, "") or 5.0)
    except ValueError:
        interval = 5.0
    line_progress = _line_progress_class()
    return line_progress(iterable, file=_LineWriter(stream), ncols=0, mininterval=interval, miniters=1, **kwargs)


class _LineWriter:
    """A stream for :class:`_LineProgress`: no carriage returns, no blank lines."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").rstrip()
        if text:
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


@functools.cache
def _line_progress_class():
    """tqdm, imported on first use, printing whole lines."""
    from tqdm import tqdm

    class LineProgress(tqdm):
        """tqdm printing one whole line per refresh (at most every ``mininterval`` seconds, and at the end)."""

        def display(self, msg=None, pos=None):
            if msg == "" or not self.n:  # tqdm clearing the line, or nothing done yet: nothing to show
                return True
            self.fp.write(msg if msg is not None else self.__str__())
            self.fp.flush()
            return True

    return LineProgress


RECIPE1M_SAMPLE = 1000
"""How many Recipe1M test recipes a built benchmark holds by default: the Hub copy's count (its draw is unpublished)."""


@functools.cache
def _terminal_progress_class():
    """tqdm, imported on first use, that draws nothing before the first item is done."""
    from tqdm.auto import tqdm

    class TerminalProgress(tqdm):
        """tqdm that stays hidden while ``n`` is 0 (no bar before an input error, none for an empty stage)."""

        def display(self, msg=None, pos=None):
            if not self.n:
                return True
            return super().display(msg, pos)

    return TerminalProgress
