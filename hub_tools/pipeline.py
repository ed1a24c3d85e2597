"""``adamllm pipeline``: synthesize -> filter -> compose in one command, resuming every stage.

Each stage is the same resumable code as its own command (``hub_tools.synthesis.runner``,
:func:`hub_tools.filtering.filter_run`, :func:`hub_tools.compose.compose_run`), so rerunning an
interrupted pipeline with the same arguments continues where it stopped. At the end a summary is
printed: pairs in, triplets, Yes / No / Open, kept tasks, caption-only, rejected, and the
question-type diversity of the kept tasks (leading wh-word / verb, answer length).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

WH_WORDS = ("what", "which", "who", "whom", "whose", "where", "when", "why", "how")
LENGTH_BUCKETS = ((1, "1 word"), (3, "2-3 words"), (10, "4-10 words"), (None, "11+ words"))
_WORD = re.compile(r"[A-Za-z]+")


def leading_word(question: str) -> str:
    """The question type: its first word lower-cased (``how`` + next word for how many/much/...).

    Wh-questions give ``what``, ``which``, ``how many`` ...; yes/no questions their verb (``is``,
    ``does``); imperatives their verb (``describe``, ``identify``).
    """
    from hub_tools.compose import clean_question

    words = [w.lower() for w in _WORD.findall(clean_question(question.replace("<image>", " ")))]
    if not words:
        return "(other)"
    if words[0] == "how" and len(words) > 1 and words[1] in ("many", "much", "long", "big", "old", "often", "far"):
        return f"how {words[1]}"
    return words[0]


def length_bucket(answer: str) -> str:
    """Bucket of an answer by word count (1 / 2-3 / 4-10 / 11+ words)."""
    n = len(answer.split())
    for limit, name in LENGTH_BUCKETS:
        if limit is None or n <= limit:
            return name
    raise AssertionError("unreachable")


def summarize(run_dir: str | Path, top: int = 12) -> dict:
    """Counts of a finished run plus question-type diversity of the kept tasks.

    ``question_types``: the ``top`` most common leading words (the rest as ``other``);
    ``precise_length`` / ``informative_length``: answer-length buckets.
    """
    from hub_tools.compose import collect_outcomes

    outcomes, stats = collect_outcomes(run_dir)
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
        f"verdicts        Yes {v['Yes']}  No {v['No']}  Open {v['Open']}",
        f"kept tasks      {summary['kept']}",
        f"caption-only    {summary['caption_only']}",
        f"check           {summary['kept']} + {summary['caption_only']} + {summary['rejected']} = "
        f"{summary['kept'] + summary['caption_only'] + summary['rejected']} (pairs in: {summary['pairs_in']})",
        f"question types  ({summary['distinct_question_types']} distinct among kept tasks)",
    ]
    lines += [f"  {name:<14}{n}" for name, n in summary["question_types"].items()]
    lines.append("precise answer length")
    lines += [f"  {name:<14}{n}" for name, n in summary["precise_length"].items()]
    lines.append("informative answer length")
    lines += [f"  {name:<14}{n}" for name, n in summary["informative_length"].items()]
    return "\n".join(lines)


def run_pipeline(args: argparse.Namespace, engine=None, checker=None) -> dict:
    """Run (or resume) synthesize -> filter -> compose for parsed ``args``; returns the summary.

    ``engine`` (a synthesis engine) and ``checker`` may be passed ready-made (tests); otherwise
    they are built from ``args`` like ``adamllm synthesize`` / ``adamllm filter`` do.
    """
    from hub_tools.commands.filter import make_checker
    from hub_tools.compose import compose_run
    from hub_tools.filtering import filter_run
    from hub_tools.synthesis.runner import synthesize

    run_dir = Path(args.output)
    synthesize(args, engine=engine)
    if checker is None:
        checker = make_checker(args, prefix="checker-")
    filter_run(run_dir, checker, batch_size=args.checker_batch_size, all_triplets=args.all_triplets)
    compose_run(run_dir, mode=args.mode, synthetic_only=args.synthetic_only, seed=args.seed, export=args.export)
    return summarize(run_dir)
