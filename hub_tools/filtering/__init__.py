"""Consistency filter: does the precise answer follow from the informative one? (Yes / No / Open)

- :mod:`~hub_tools.filtering.prompt`: our few-shot prompt (instruction + six worked examples) and
  :class:`PromptTemplate` for a user-supplied one (``{Q}``, ``{informative_A}``, ``{precise_A}``).
- :mod:`~hub_tools.filtering.llm`: :class:`LLMChecker` (default checker ``meta-llama/Meta-Llama-3-8B``)
  with a shared-prefix KV cache; by default the released decision (greedy 2-token generation, kept
  iff the text is ``yes``), or ``decision="label-logits"`` (argmax of the Yes / No / Open logits).
- :mod:`~hub_tools.filtering.lexical`: :class:`LexicalChecker`, an offline heuristic.
- :mod:`~hub_tools.filtering.runner`: :func:`filter_run` over a run directory (resumable).

Heavy libraries are imported inside functions, so importing this package is instant.
"""

from hub_tools.filtering.lexical import LexicalChecker, lexical_verdict, normalise
from hub_tools.filtering.llm import DECISIONS, LLMChecker, label_token_ids, load_checker, released_verdict
from hub_tools.filtering.prompt import LABELS, Item, PromptError, PromptTemplate, item_text, prefix_text
from hub_tools.filtering.runner import filter_run

__all__ = [
    "DECISIONS",
    "LABELS",
    "Item",
    "LLMChecker",
    "LexicalChecker",
    "PromptError",
    "PromptTemplate",
    "filter_run",
    "item_text",
    "label_token_ids",
    "lexical_verdict",
    "load_checker",
    "normalise",
    "prefix_text",
    "released_verdict",
]
