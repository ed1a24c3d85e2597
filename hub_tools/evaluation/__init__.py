"""Domain benchmark evaluation: the AdaMLLM tasks, a batched VLM harness and run comparisons.

- :mod:`hub_tools.evaluation.tasks`: task definitions (Hub config or local folder, prompt, budget,
  metric), task groups ``biomed`` / ``food`` / ``remote-sensing`` (:mod:`hub_tools.evaluation.remote_sensing`);
- :mod:`hub_tools.evaluation.harness`: :func:`evaluate_model` and :func:`metrics_dir`;
- :mod:`hub_tools.evaluation.report`: score tables and :func:`compare`.
- :mod:`hub_tools.evaluation.raw_readers` -> :mod:`hub_tools.evaluation.benchmarks`: raw benchmark releases
  to the evaluation schema (``adamllm build-benchmark``).

Names are imported lazily so that ``import hub_tools.evaluation`` stays cheap.
"""

from __future__ import annotations

__all__ = ["GROUPS", "TASKS", "compare", "evaluate_model", "metrics_dir", "resolve_tasks"]


def __getattr__(name: str):
    if name in ("evaluate_model", "metrics_dir"):
        from hub_tools.evaluation import harness

        return getattr(harness, name)
    if name == "compare":
        from hub_tools.evaluation.report import compare

        return compare
    if name in ("GROUPS", "TASKS", "resolve_tasks"):
        from hub_tools.evaluation import tasks

        return getattr(tasks, name)
    raise AttributeError(f"module 'hub_tools.evaluation' has no attribute {name!r}")
