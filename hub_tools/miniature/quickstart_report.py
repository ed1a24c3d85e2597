"""The quickstart's report: the per-stage table of seconds and steps, the budget lines, sample tasks and
``REPORT.md`` (:func:`write_report`); :mod:`hub_tools.miniature.quickstart` runs the stages."""

from __future__ import annotations

import json
from pathlib import Path

from hub_tools.miniature.world.aerial import AERIAL_TASK_NAMES
from hub_tools.miniature.world.params import DEFAULT_DOMAIN, REMOTE_SENSING

BENCHMARK_TASKS = ["SLAKE", "PMC-VQA", "FoodSeg103"]
REMOTE_SENSING_TASKS = list(AERIAL_TASK_NAMES.values())
"""The harness tasks the remote-sensing world's benchmark fills (CLRS, FloodNet, NWPU-Captions)."""


def benchmark_tasks(domain: str | None) -> list[str]:
    """The harness tasks of the miniature benchmark of ``domain`` (``remote-sensing`` or the default world's)."""
    return list(REMOTE_SENSING_TASKS if domain == REMOTE_SENSING else BENCHMARK_TASKS)


FULL_RUN_MINUTES = 10.0
"""What the default run is sized for: 10 minutes on a 2-core box half as fast as the development box."""


def _sft_steps(tuned: Path) -> int | None:
    state = tuned / "trainer_state.json"
    return json.loads(state.read_text()).get("global_step") if state.is_file() else None


def _stage_rows(timings: dict, total: float, cfg, tuning: dict, measured: dict, sft_steps, scores: dict) -> list[dict]:
    """One row per stage (the synthesizer's split into text pretraining, seed-set tuning and the rest)."""
    pre = tuning.get("text_pretraining") or {}
    pre_s, tune_s = pre.get("seconds") or 0.0, tuning.get("seconds") or 0.0
    items = cfg.benchmark_per_task * len(benchmark_tasks(getattr(cfg, "domain", None))) * len(scores)
    rows = [
        {"stage": "world", "seconds": timings["world"], "steps": None},
        {"stage": "synthesizer: text pretraining", "seconds": pre_s, "steps": pre.get("steps", 0)},
        {"stage": "synthesizer: seed-set tuning", "seconds": tune_s, "steps": tuning.get("steps")},
        {
            "stage": "synthesizer: tiny model, seed data, validation, saving",
            "seconds": timings["tune_synthesizer"] - pre_s - tune_s,
            "steps": None,
        },
        {"stage": "measure (held-out pairs)", "seconds": timings["measure"], "steps": None, "work": measured["pairs"]},
        {"stage": "synthesize -> filter -> compose", "seconds": timings["pipeline"], "steps": None, "work": cfg.pairs},
        {"stage": "dataset", "seconds": timings["dataset"], "steps": None},
        {"stage": "student SFT", "seconds": timings["sft"], "steps": sft_steps},
        {"stage": "evaluate base and tuned", "seconds": timings["evaluate"], "steps": None, "work": items},
        {"stage": "report", "seconds": timings["report"], "steps": None},
        {"stage": "total", "seconds": total, "steps": None},
    ]
    return [{**row, "seconds": round(row["seconds"], 1)} for row in rows]


def _budget_lines(cfg, tuning: dict) -> list[str]:
    """What limited the run besides its step budgets: a ``--budget-minutes`` scale-down, a time cap that was hit."""
    lines = []
    if cfg.budget_minutes is not None and cfg.full_steps:
        full = cfg.full_steps
        lines.append(
            f"Scaled to {cfg.budget_minutes:g} minute{'' if cfg.budget_minutes == 1 else 's'} (of the {FULL_RUN_MINUTES:g} the full run is sized for): "
            f"text pretraining {cfg.pretrain_steps} of {full['pretrain_steps']} steps, seed-set tuning "
            f"{cfg.tune_max_steps} of {full['tune_max_steps']} steps, student SFT {cfg.sft_epochs:g} of "
            f"{full['sft_epochs']:g} epochs; the figures are those of a smaller run."
        )
    if tuning.get("stopped_by_time_budget"):
        lines.append(
            f"The {cfg.tune_minutes:g}-minute time cap stopped seed-set tuning at step {tuning.get('steps')}"
            + (f" of {cfg.tune_max_steps}" if cfg.tune_max_steps > 0 else "")
            + ": the figures depend on this machine's speed."
        )
    elif cfg.tune_minutes:
        lines.append(f"A {cfg.tune_minutes:g}-minute time cap on seed-set tuning was set and not reached.")
    return lines


def _sample_tasks(run_dir: Path, n: int = 5) -> list[dict]:
    from hub_tools.rundir import iter_records

    samples = []
    for row in iter_records(run_dir / "synthesis"):
        if row.get("triplets"):
            samples.append({"caption": row["caption"], **row["triplets"][0]})
            if len(samples) >= n:
                break
    return samples


def _training_line(training: dict) -> str:
    pre = training.get("text_pretraining") or {}
    text = (
        f"Text pretraining: {pre['steps']} steps on caption paraphrases ({pre['seconds']} s, loss "
        f"{pre['first_loss']:.2f} -> {pre['last_loss']:.2f}). "
        if pre
        else "No text pretraining. "
    )
    capped = " (stopped by the time cap)" if training.get("stopped_by_time_budget") else ""
    return text + (
        f"Seed-set tuning: {training.get('steps')} steps in {training.get('seconds')} s{capped}, "
        f"validation loss {training.get('eval_loss') or float('nan'):.3f}."
    )


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def write_report(path: Path, report: dict, tasks: list[dict], generations: list[dict], chart: Path) -> Path:
    """Write the markdown report of a quickstart run."""
    syn = report["synthesizer"]
    stats = report["stats"]
    verdicts = stats.get("verdicts", {})
    domain_lines = []
    if report.get("domain") not in (None, DEFAULT_DOMAIN):
        domain_lines = [
            f"Domain: **{report['domain']}** (the miniature world's aerial scenes; benchmark tasks "
            f"{', '.join(report.get('benchmark_tasks', []))}).",
            "",
        ]
    lines = [
        "# adamllm-hub quickstart report",
        "",
        *domain_lines,
        "The whole method in miniature on CPU, offline, with tiny models trained from scratch for minutes.",
        "Numbers are as measured in this run; they show the machinery working end to end and prove nothing",
        "about the paper's results.",
        "",
        "## Counts",
        "",
        "| stage | count |",
        "| --- | ---: |",
        f"| seed-set images in all three seed sets (joined) | {report['world']['seed'].get('in_all_three')} |",
        f"| domain pairs in | {stats.get('pairs_in')} |",
        f"| rejected (bad input) | {stats.get('rejected')} |",
        f"| synthesized | {stats.get('synthesized')} |",
        f"| triplets parsed | {stats.get('triplets')} |",
        f"| verdicts Yes / No / Open | {verdicts.get('Yes', 0)} / {verdicts.get('No', 0)} / {verdicts.get('Open', 0)} |",
        f"| kept tasks (caption + task rows) | {stats.get('kept')} |",
        f"| caption-only rows | {stats.get('caption_only')} |",
        "",
        "## The tuned tiny synthesizer on held-out pairs",
        "",
        _training_line(report.get("synthesizer_training") or {}),
        "",
        "Held-out pairs use parameter combinations absent from the seed set. *Strict*: the question is a",
        "question, no answer repeats a hint or a turn marker, the two answers differ. *Grounded*: strict",
        "and true of the image, checked against the world's parameters.",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| held-out pairs | {syn.get('pairs')} |",
        f"| pairs with at least one strict triplet | {_pct(syn.get('strict_share'))}% |",
        f"| pairs with at least one grounded triplet | {_pct(syn.get('grounded_share'))}% |",
        f"| pairs whose kept (first) triplet is grounded | {_pct(syn.get('first_grounded_share'))}% |",
        f"| grounded share of all parsed triplets | {_pct(syn.get('triplet_grounded_share'))}% |",
        "",
        "Parsed triplets by the kind of answer their question asks for (`unknown`: a question the world's",
        "checker cannot judge, e.g. about something absent from the image):",
        "",
        "| question type | triplets | grounded |",
        "| --- | ---: | ---: |",
        *(
            f"| {kind} | {n.get('triplets', 0)} | {n.get('grounded', 0)} |"
            for kind, n in syn.get("by_question_type", {}).items()
        ),
        "",
        "## A sample of synthesized tasks (first triplet per pair)",
        "",
    ]
    if not tasks:
        lines.append("_No triplet was parsed from the domain pairs in this run._")
    for t in tasks:
        lines += [
            f"- **caption**: {t['caption']}",
            f"  - **instruction**: {t['question']}",
            f"  - **informative**: {t['informative']}",
            f"  - **precise**: {t['precise']}",
        ]
    lines += [
        "",
        "## Base vs post-trained student on the miniature benchmark",
        "",
        *(
            ["_No task was kept in this run: the student was post-trained on the image-caption pairs only._", ""]
            if report.get("student_dataset_config") == "image_caption_pairs"
            else []
        ),
        "| task | metric | base | tuned | Δ (points) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in report["scores"]:
        delta = "—" if row["delta"] is None else f"{row['delta']:+.1f}"
        lines.append(f"| {row['task']} | {row['metric']} | {_pct(row['a'])} | {_pct(row['b'])} | {delta} |")
    moved = [r for r in report["scores"] if r["delta"]]
    fallbacks = report.get("random_fallbacks", {})
    lines += [
        "",
        f"![base vs tuned]({chart.name})",
        "",
        "Multiple-choice answers that name no option get the metric's seeded random choice (chance level);",
        f"such fallbacks per run: {json.dumps(fallbacks)}.",
        "",
        (
            f"Post-training moved {len(moved)} of {len(report['scores'])} scores (largest change "
            f"{max((abs(r['delta']) for r in moved), default=0):.1f} points)."
            if moved
            else "Post-training did not move any score in this run."
        ),
        "",
        "## Time per stage",
        "",
        "Training runs for a set number of steps, so only the seconds depend on the machine"
        + (" and its load." if not report.get("budget") else "; see below."),
        "",
        *(f"**{line}**" for line in report.get("budget", [])),
        *([""] if report.get("budget") else []),
        "| stage | seconds | steps |",
        "| --- | ---: | ---: |",
    ]
    for row in report.get("stages", []):
        steps = row["steps"] if row.get("steps") is not None else (f"{row['work']} items" if row.get("work") else "—")
        lines.append(f"| {row['stage']} | {row['seconds']} | {steps} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
