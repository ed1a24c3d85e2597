"""Accounting: what each input pair became (``kept``, ``caption_only``, ``no_task``, ``rejected``) and stats."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from hub_tools.rundir.rows import VERDICT_LABELS
from hub_tools.rundir.shards import iter_records, update_stats


@dataclass
class Outcome:
    """What one input pair becomes: ``kept`` (with its triplet), ``caption_only``, ``no_task`` or ``rejected``."""

    row: dict
    status: str
    triplet: dict | None = None


def collect_outcomes(
    run_dir: str | os.PathLike, keep_captions_without_task: bool = False
) -> tuple[list[Outcome], dict]:
    """Join synthesis and filter rows into one :class:`Outcome` per input pair, plus the stats.

    A pair is ``kept`` when its first triplet (the one the released protocol keeps) was judged
    ``Yes``; another verdict makes it ``caption_only``; a synthesized pair without a complete triplet is
    ``no_task`` (dropped from the training data, as released) or, with ``keep_captions_without_task``,
    ``caption_only``. Raises ``ValueError`` naming the ids that synthesis produced but the filter has not judged.
    """
    run_dir = Path(run_dir)
    verdicts: dict[str, list[dict]] = {}
    for row in iter_records(run_dir / "filter"):
        verdicts[row["id"]] = row.get("verdicts") or []
    outcomes, seen, missing = [], set(), []
    counts = Counter()
    for row in iter_records(run_dir / "synthesis"):
        if row["id"] in seen:
            raise ValueError(
                f"synthesis has the pair id {row['id']!r} more than once: run `adamllm doctor {run_dir} --repair`"
            )
        seen.add(row["id"])
        if row.get("status") == "rejected":
            outcomes.append(Outcome(row, "rejected"))
            continue
        counts["synthesized"] += 1
        triplets = row.get("triplets") or []
        counts["triplets"] += len(triplets)
        if not triplets:
            outcomes.append(Outcome(row, "caption_only" if keep_captions_without_task else "no_task"))
            continue
        if row["id"] not in verdicts:
            missing.append(row["id"])
            continue
        judged = verdicts[row["id"]]
        for v in judged:
            counts[f"verdict:{v['label']}"] += 1
        kept = bool(judged) and judged[0]["label"] == "Yes"
        outcomes.append(Outcome(row, "kept" if kept else "caption_only", triplets[0] if kept else None))
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5])
        raise ValueError(
            f"{len(missing)} synthesized pair(s) have no consistency verdict yet (e.g. {shown}); "
            f"run `adamllm filter {run_dir}` first"
        )
    status = Counter(o.status for o in outcomes)
    stats = {
        "pairs_in": len(outcomes),
        "synthesized": counts["synthesized"],
        "triplets": counts["triplets"],
        "verdicts": {label: counts[f"verdict:{label}"] for label in VERDICT_LABELS},
        "kept": status["kept"],
        "caption_only": status["caption_only"],
        "no_task": status["no_task"],
        "rejected": status["rejected"],
    }
    return outcomes, stats


def write_stats(run_dir: str | os.PathLike, stats: dict) -> dict:
    """Merge ``stats`` into ``RUN_DIR/stats.json`` after checking in == kept + caption_only + no_task + rejected."""
    total = stats["kept"] + stats["caption_only"] + stats.get("no_task", 0) + stats["rejected"]
    if stats["pairs_in"] != total:
        raise AssertionError(f"stats do not add up: pairs_in={stats['pairs_in']} != {total}")
    return update_stats(run_dir, stats)
