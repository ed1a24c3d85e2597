"""Consistency filter: does the precise answer follow from the informative one? (Yes / No / Open)

- :mod:`~hub_tools.filtering.prompt`: our few-shot prompt (instruction + six worked examples).
- :mod:`~hub_tools.filtering.llm`: :class:`LLMChecker`, verdicts from next-token label logits with a
  shared-prefix KV cache (default checker ``meta-llama/Meta-Llama-3-8B``).
- :mod:`~hub_tools.filtering.lexical`: :class:`LexicalChecker`, an offline heuristic.
- :mod:`~hub_tools.filtering.runner`: :func:`filter_run` over a run directory (resumable).

Heavy libraries are imported inside functions, so importing this package is instant.
"""

from hub_tools.filtering.lexical import LexicalChecker, lexical_verdict, normalise
from hub_tools.filtering.llm import DEFAULT_CHECKER, LLMChecker, label_token_ids, load_checker
from hub_tools.filtering.prompt import LABELS, Item, item_text, prefix_text
from hub_tools.filtering.runner import filter_run

__all__ = [
    "DEFAULT_CHECKER",
    "LABELS",
    "Item",
    "LLMChecker",
    "LexicalChecker",
    "filter_run",
    "item_text",
    "label_token_ids",
    "lexical_verdict",
    "load_checker",
    "normalise",
    "prefix_text",
]
