"""The whole data side in one call: synthesize -> filter -> compose, each stage resuming, then a summary.

Typed: :func:`run_pipeline` takes a :class:`~hub_tools.synthesis.runner.SynthesisConfig`, a checker and
:class:`~hub_tools.compose.ComposeOptions`; ``adamllm pipeline`` (``hub_tools.commands.pipeline``) builds them.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub_tools.synthesis.parse import leading_word

if TYPE_CHECKING:
    from hub_tools.compose.runner import ComposeOptions
    from hub_tools.synthesis.runner import SynthesisConfig

__all__ = ["format_summary", "length_bucket", "run_pipeline", "summarize"]

LENGTH_BUCKETS = ((1, "1 word"), (3, "2-3 words"), (10, "4-10 words"), (None, "11+ words"))


def length_bucket(answer: str) -> str:
    """Bucket of an answer by word count (1 / 2-3 / 4-10 / 11+ words)."""
    n = len(answer.split())
    for limit, name in LENGTH_BUCKETS:
        if limit is None or n <= limit:
            return name
    raise AssertionError("unreachable")


def summarize(run_dir: str | Path, top: int = 12, keep_captions_without_task: bool = False) -> dict:
    """Counts of a finished run plus question-type diversity of the kept tasks.

    ``question_types``: the ``top`` most common leading words (the rest as ``other``);
    ``precise_length`` / ``informative_length``: answer-length buckets.
    """
    from hub_tools.rundir import collect_outcomes

    outcomes, stats = collect_outcomes(run_dir, keep_captions_without_task=keep_captions_without_task)
    kept = [o.triplet for o in outcomes if o.status == "kept"]
    types = Counter(leading_word(t["question"]) for t in kept)
    shown = dict(types.most_common(top))
    other = sum(types.values()) - sum(shown.values())
    if other:
        shown["other"] = other
    order = [name for _, name in LENGTH_BUCKETS]

    def buckets(key):
        c = Counter(length_bucket(t[key]) for t in kept)
        return {name: c[name] for name in order}

    return {
        **stats,
        "question_types": shown,
        "distinct_question_types": len(types),
        "precise_length": buckets("precise"),
        "informative_length": buckets("informative"),
    }


def format_summary(summary: dict) -> str:
    """The summary as a short text report."""
    v = summary["verdicts"]
    lines = [
        f"pairs in        {summary['pairs_in']}",
        f"  rejected      {summary['rejected']}",
        f"  synthesized   {summary['synthesized']}  ({summary['triplets']} triplets)",
        f"verdicts        Yes {v.get('Yes', 0)}  No {v.get('No', 0)}  Open {v.get('Open', 0)}  Other {v.get('Other', 0)}",
        f"kept tasks      {summary['kept']}",
        f"caption-only    {summary['caption_only']}",
        f"no task         {summary['no_task']}  (no complete triplet: not in the training data)",
        f"check           {summary['kept']} + {summary['caption_only']} + {summary['no_task']} + {summary['rejected']} = "
        f"{summary['kept'] + summary['caption_only'] + summary['no_task'] + summary['rejected']} "
        f"(pairs in: {summary['pairs_in']})",
        f"question types  ({summary['distinct_question_types']} distinct among kept tasks)",
    ]
    lines += [f"  {name:<14}{n}" for name, n in summary["question_types"].items()]
    lines.append("precise answer length")
    lines += [f"  {name:<14}{n}" for name, n in summary["precise_length"].items()]
    lines.append("informative answer length")
    lines += [f"  {name:<14}{n}" for name, n in summary["informative_length"].items()]
    return "\n".join(lines)


def run_pipeline(
    synthesis: SynthesisConfig,
    checker: Any,
    *,
    checker_batch_size: int = 8,
    all_triplets: bool = False,
    compose: ComposeOptions | None = None,
    engine: Any = None,
) -> dict:
    """Run (or resume) synthesize -> filter -> compose into ``synthesis.output``; returns :func:`summarize`.

    ``checker`` is a checker (``.name`` + ``.judge``) or a zero-argument callable that builds one; a
    callable is called only after synthesis, so the synthesizer and the checker are never loaded
    together. ``compose`` defaults to ``ComposeOptions()`` (the CLI passes ``seed=synthesis.seed``).
    ``engine`` may be a ready-made synthesis engine (tests); otherwise it is built from ``synthesis``.
    The pairs source and the synthesizer are checked before anything is written (:func:`~hub_tools.synthesis.
    runner.preflight`). The run directory stays locked (:func:`~hub_tools.rundir.lock_run_dir`) across all three stages;
    :class:`~hub_tools.rundir.RunDirBusy` if another process holds it.
    """
    from hub_tools.compose import ComposeOptions, compose_run
    from hub_tools.filtering import filter_run
    from hub_tools.rundir import lock_run_dir
    from hub_tools.synthesis.runner import preflight, synthesize

    compose = compose or ComposeOptions()
    run_dir = Path(synthesis.output)
    preflight(synthesis, engine)  # before the lock creates RUN_DIR: a mistake leaves nothing behind
    with lock_run_dir(run_dir, "adamllm pipeline"):
        synthesize(synthesis, engine=engine)
        if not hasattr(checker, "judge") and callable(checker):
            checker = checker()
        batch_size = max(checker_batch_size, getattr(checker, "batch_size", 0))  # a served checker fills its replicas
        try:
            filter_run(run_dir, checker, batch_size=batch_size, all_triplets=all_triplets)
        finally:
            if hasattr(checker, "close"):
                checker.close()
        compose_run(
            run_dir,
            mode=compose.mode,
            synthetic_only=compose.synthetic_only,
            seed=compose.seed,
            export=compose.export,
            cue_rule=compose.cue_rule,
            keep_captions_without_task=compose.keep_captions_without_task,
        )
        return summarize(run_dir, keep_captions_without_task=compose.keep_captions_without_task)
