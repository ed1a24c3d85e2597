"""The ablation run's statistics and report: bootstrap intervals, noise calls, ``ABLATIONS.md`` and its chart.

Intervals are 95% percentile bootstraps over items *and* seeds: each resample draws the seeds with replacement and
the benchmark items with replacement, recomputes every metric with the benchmark's own metric module for every
drawn seed, and averages over the drawn seeds. Differences between two conditions are bootstrapped on the same
resamples (paired); a difference whose interval holds 0 is *inside the noise*.
"""

from __future__ import annotations

import json
from pathlib import Path

PAPER_SCORES = {
    "single-stage": "58.3 / 42.0",
    "two-stage": "55.6 (biomed)",
    "caption-only": "26.7 / 25.6",
    "synthetic-only": "54.2 / 36.8",
    "no-filter-precise": "31.2 / 37.9",
    "no-filter-informative": "44.4 / 37.6",
    "seed-only": "49.8 / 36.0",
    "seed+captions": "55.3 / 38.6",
    "rule-based": "— (accuracy 98.7, diversity 23.5 vs 52.9)",
    "general": "—",
}
"""The paper's numbers (LLaVA-v1.6-8B, biomed / food domain averages) beside each condition."""
PAPER_SYNTHESIZER = {"image + caption + 10% blank": "85.5 / 71.3 (best)"}
PAPER_FILTER = {"agreement": "30-36 raw, 92-97 kept", "accuracy": "~61-77 raw, 75-84 kept"}

COMPARISONS = [
    ("single-stage", "two-stage", "pipeline: single-stage beat two-stage (58.3 vs 55.6 biomed)", 1),
    ("single-stage", "caption-only", "without synthetic tasks the paper lost 31.6 / 16.4 points", 1),
    ("single-stage", "synthetic-only", "without caption tasks the paper lost 4.1 / 5.2 points", 1),
    ("single-stage", "no-filter-precise", "without the filter, precise only: the paper lost 27.1 / 4.1", 1),
    ("single-stage", "no-filter-informative", "without the filter, informative only: the paper lost 13.9 / 4.4", 1),
    ("single-stage", "seed-only", "seed tasks only: the paper lost 8.5 / 6.0", 1),
    ("single-stage", "seed+captions", "seed tasks + captions: the paper lost 3.0 / 3.4", 1),
    ("single-stage", "rule-based", "the paper's rule tasks were accurate but narrow (scores not given)", 1),
    ("single-stage", "general", "post-training should move the general model", 1),
]
"""Fixed before any result: (a, b, the paper's finding, the sign of a - b the paper found)."""


def item_scores(eval_dir: Path, benchmark_dir: Path, names: list[str], seeds: int) -> dict:
    """Per-item scores from the stored predictions: ``{task: (metric key per item, {(name, seed): scores})}``.

    Scored one item at a time with the benchmark's own metric (:meth:`BenchmarkSplit.item_score`, whose
    multiple-choice fallback draw is seeded by the item, not its position), so resampled items keep their
    scores; every primary metric of these tasks is a mean of per-item scores (SLAKE's two over its closed and
    open items).
    """
    import numpy as np

    from hub_tools.evaluation.harness import load_metric, read_predictions
    from hub_tools.evaluation.tasks import load_split, resolve_tasks
    from hub_tools.miniature.quickstart import BENCHMARK_TASKS

    out = {}
    for task in resolve_tasks(BENCHMARK_TASKS):
        split, metric = load_split(task, benchmark_dir), load_metric(task.metric)
        if task.kind == "medical":
            keys = [
                "closed_accuracy" if item.metric_args["answer_types"].upper() == "CLOSED" else "open_recall"
                for item in split.items
            ]
        else:
            keys = [task.primary[0]] * len(split.items)
        scores = {}
        for name in names:
            for s in range(seeds):
                records = read_predictions(eval_dir / f"{name}-{s}" / "predictions" / f"{task.name}.jsonl")
                scores[(name, s)] = np.array(
                    [split.item_score(metric, item, records[item.id]["prediction"])["score"] for item in split.items]
                )
        out[task.name] = (np.array(keys), scores)
    return out


def _values(items: dict, name: str, seeds: list[int], idx: dict | None) -> dict:
    """Every metric (0-100) and their ``average``, averaged over ``seeds`` (repeats allowed) on items ``idx``."""
    import numpy as np

    total: dict[str, float] = {}
    for task, (keys, scores) in items.items():
        pick = idx[task] if idx is not None else np.arange(len(keys))
        for key in sorted(set(keys.tolist())):
            chosen = pick[keys[pick] == key]
            if not len(chosen):
                total[f"{task}/{key}"] = float("nan")
                continue
            total[f"{task}/{key}"] = float(np.mean([100 * scores[(name, s)][chosen].mean() for s in seeds]))
    total["average"] = float(np.nanmean(list(total.values())))
    return total


def bootstrap_scores(eval_dir: Path, benchmark_dir: Path, names: list[str], seeds: int, resamples: int) -> dict:
    """Means, 95% intervals and paired differences of every metric and of their average, per condition.

    Reads ``eval_dir/<name>-<seed>/predictions/<task>.jsonl``. Returns ``{"conditions": {name: {key: {"mean",
    "low", "high"}}}, "differences": [{"a", "b", "key", "mean", "low", "high", "inside_noise", ...}]}``; ``key``
    is ``TASK/METRIC`` or ``average``.
    """
    import numpy as np

    items = item_scores(eval_dir, benchmark_dir, names, seeds)
    rng = np.random.default_rng(0)
    full = {name: _values(items, name, list(range(seeds)), None) for name in names}
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    for _ in range(resamples):
        drawn = rng.integers(0, seeds, size=seeds).tolist()
        idx = {task: rng.integers(0, len(keys), size=len(keys)) for task, (keys, _) in items.items()}
        for name in names:
            for key, value in _values(items, name, drawn, idx).items():
                samples[name].setdefault(key, []).append(value)

    def interval(values) -> tuple[float, float]:
        low, high = np.nanpercentile(np.array(values, dtype=float), [2.5, 97.5])
        return round(float(low), 1), round(float(high), 1)

    conditions = {}
    for name in names:
        conditions[name] = {}
        for key, mean in full[name].items():
            low, high = interval(samples[name][key])
            conditions[name][key] = {"mean": round(mean, 1), "low": low, "high": high}
    differences = []
    for a, b, finding, sign in COMPARISONS:
        if a not in names or b not in names:
            continue
        for key in full[a]:
            low, high = interval(np.array(samples[a][key]) - np.array(samples[b][key]))
            mean = full[a][key] - full[b][key]
            inside = bool(low <= 0 <= high)
            differences.append(
                {
                    "a": a,
                    "b": b,
                    "key": key,
                    "mean": round(mean, 1),
                    "low": low,
                    "high": high,
                    "inside_noise": inside,
                    "paper": finding,
                    "paper_direction_holds": (not inside) and (mean > 0) == (sign > 0),
                }
            )
    return {"conditions": conditions, "differences": differences}


# ---------------------------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------------------------
def _cell(block: dict | None) -> str:
    return "—" if not block else f"{block['mean']:.1f} [{block['low']:.1f}, {block['high']:.1f}]"


def _num(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def chart(result: dict, path: Path) -> Path | None:
    """A bar chart of every condition's average score with its 95% interval."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # the chart is optional; the tables carry the numbers
        return None
    names = [n for n, c in result["conditions"].items() if c.get("summary")]
    means = [result["conditions"][n]["summary"]["average"]["mean"] for n in names]
    lows = [m - result["conditions"][n]["summary"]["average"]["low"] for n, m in zip(names, means)]
    highs = [result["conditions"][n]["summary"]["average"]["high"] - m for n, m in zip(names, means)]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.bar(names, means, yerr=[lows, highs], capsize=3, color="#4a7bb7")
    ax.set_ylabel("average score (0-100)")
    ax.set_title("Ablations in miniature: mean over seeds, 95% bootstrap interval")
    ax.tick_params(axis="x", rotation=35)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def score_table(result: dict) -> list[str]:
    """The conditions' table: every metric and the average, mean [95% interval], with the paper's number."""
    conditions = result["conditions"]
    keys = next((list(c["summary"]) for c in conditions.values() if c.get("summary")), [])
    lines = [
        "| condition | training rows | " + " | ".join(keys) + " | paper (biomed / food) |",
        "| --- | ---: | " + " | ".join("---:" for _ in keys) + " | --- |",
    ]
    for name, c in conditions.items():
        rows = c["data"].get("rows", 0) if c.get("trained") else "— (not trained)" if name != "general" else "—"
        cells = " | ".join(_cell(c.get("summary", {}).get(k)) for k in keys)
        lines.append(f"| {name} | {rows} | {cells} | {PAPER_SCORES.get(name, '—')} |")
    return lines


def _gt(a, b) -> str:
    if a is None or b is None:
        return "cannot tell (a value is missing)"
    return "holds" if a > b else "does not hold"


def direction_checks(result: dict) -> list[str]:
    """The paper's non-score directions (filter, task source, synthesizer inputs), each marked holds or not.

    These are point values of one run (no interval): a small gap is not evidence either way.
    """
    filt, src, inputs = result["filter"], result["task_sources"], result["synthesizer_inputs"]
    lines = [
        f"Kept tasks agree more often than all tasks (paper 92-97 vs 30-36): {filt['with']['agreement']} vs "
        f"{filt['without']['agreement']}: {_gt(filt['with']['agreement'], filt['without']['agreement'])}.",
        f"Kept tasks are more accurate than all tasks (paper 75-84 vs ~61-77): {filt['with']['accuracy']} vs "
        f"{filt['without']['accuracy']}: {_gt(filt['with']['accuracy'], filt['without']['accuracy'])}.",
        f"Rule tasks are more accurate than synthetic ones (paper 98.7): {src['rule-based']['accuracy']} vs "
        f"{src['synthesizer']['accuracy']}: {_gt(src['rule-based']['accuracy'], src['synthesizer']['accuracy'])}.",
        f"Rule tasks are less diverse (paper 23.5 vs 52.9): {src['rule-based']['diversity']} vs "
        f"{src['synthesizer']['diversity']}: {_gt(src['synthesizer']['diversity'], src['rule-based']['diversity'])}.",
    ]
    best = "image + caption + 10% blank"
    if inputs.get(best):
        for measure in ("diversity", "accuracy"):
            others = [v[measure] for k, v in inputs.items() if k != best and v.get(measure) is not None]
            mine = inputs[best][measure]
            verdict = (
                "cannot tell"
                if mine is None or not others
                else _gt(mine, max(others)).replace(
                    "does not hold", "does not hold (another variant is as high or higher)"
                )
            )
            lines.append(f"Image + caption + 10% blank is the best synthesizer input on {measure}: {verdict}.")
    return lines


def write_report(path: Path, result: dict, chart_path: Path) -> Path:
    """Write ``ABLATIONS.md``: tables in the paper's shape, the chart, and what agrees with the paper's direction."""
    cfg = result["config"]
    filt, checker = result["filter"], result["filter"]["checker"]
    drawn = chart(result, chart_path)
    lines = [
        "# The paper's ablations in miniature",
        "",
        f"Seeds per condition: {cfg['seeds']}. Scores are 0-100 on the mini benchmark, mean over seeds with a",
        "95% bootstrap interval over items and seeds in brackets. The models are tiny and trained for minutes",
        "on a procedurally drawn world: what follows is what this run measured, not the paper's results.",
        f"The starting (general) student: {result['general_student']}.",
        "",
        "## Conditions (the paper's component and pipeline tables)",
        "",
        *score_table(result),
        "",
        *([f"![average score per condition]({drawn.name})", ""] if drawn else []),
        "## Differences against the paper's direction (paired bootstrap, average score)",
        "",
        "| a - b | difference [95% interval] | inside the noise | the paper | paper's direction holds |",
        "| --- | ---: | --- | --- | --- |",
    ]
    for d in result["differences"]:
        if d["key"] != "average":
            continue
        lines.append(
            f"| {d['a']} - {d['b']} | {d['mean']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}] | "
            f"{'yes' if d['inside_noise'] else 'no'} | {d['paper']} | {'yes' if d['paper_direction_holds'] else 'no'} |"
        )
    inside = [f"{d['a']} vs {d['b']}" for d in result["differences"] if d["key"] == "average" and d["inside_noise"]]
    lines += [
        "",
        "Inside the noise (the interval of the difference holds 0): " + (", ".join(inside) or "none") + ".",
        "Per-metric differences are in `ablations.json` (`differences`).",
        "",
        "## The consistency filter (lexical checker), tasks judged against the world's truth",
        "",
        "| tasks | count | agreement | accuracy | diversity | paper |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        f"| all (no filter) | {filt['without']['tasks']} | {_num(filt['without']['agreement'])} | "
        f"{_num(filt['without']['accuracy'])} | {_num(filt['without']['diversity'])} | agreement 30-36, accuracy ~61-77 |",
        f"| kept | {filt['with']['tasks']} | {_num(filt['with']['agreement'])} | {_num(filt['with']['accuracy'])} | "
        f"{_num(filt['with']['diversity'])} | agreement 92-97, accuracy 75-84 |",
        "",
        f"The checker at keeping grounded tasks: precision {_num(checker['precision'])}, recall "
        f"{_num(checker['recall'])} ({checker['kept']} kept of {checker['judged']} judged).",
        *(
            [
                "",
                "**Finding: the checker kept every task.** It does not discriminate here, so the filter conditions",
                "test composition, not filtering; a checker that discriminates is needed before they can say more.",
            ]
            if checker["keeps_everything"]
            else []
        ),
        "",
        "Agreement: the precise answer's value equals the informative answer's conclusion (over questions the",
        "world can judge); accuracy: both answers true of the image; diversity: entropy of question types.",
        "",
        "## Task source: the synthesizer against rules",
        "",
        "| source | tasks | accuracy | diversity | paper (accuracy / diversity) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    paper_src = {"rule-based": "98.7 / 23.5", "synthesizer": "— / 52.9"}
    for name, b in result["task_sources"].items():
        lines.append(f"| {name} | {b['tasks']} | {_num(b['accuracy'])} | {_num(b['diversity'])} | {paper_src[name]} |")
    lines += ["", "## Synthesizer inputs (held-out pairs)", ""]
    if result["synthesizer_inputs"]:
        lines += [
            f"Each tuned variant had the same reduced budget ({cfg['variant_steps']} steps from the same start; the",
            f"main synthesizer had {cfg['pretrain_steps']} + {cfg['tune_steps']}); *untuned* is that start.",
            "",
            "| input | triplets | diversity | accuracy | paper (diversity, accuracy) |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for name, b in result["synthesizer_inputs"].items():
            lines.append(
                f"| {name} | {b['triplets']} | {_num(b['diversity'])} | {_num(b['accuracy'])} | "
                f"{PAPER_SYNTHESIZER.get(name, '—')} |"
            )
    else:
        lines.append("_Not run (`--no-synthesizer-inputs`)._")
    lines += [
        "",
        "## Training data per condition",
        "",
        "| condition | rows | kinds | sha256 (first 12) |",
        "| --- | ---: | --- | --- |",
    ]
    for name, c in result["conditions"].items():
        d = c["data"]
        if "sha256" in d:
            lines.append(f"| {name} | {d['rows']} | {json.dumps(d['kinds'])} | {d['sha256'][:12]} |")
    lines += ["", "## The other directions the paper found, checked here", ""]
    lines += [f"- {line}" for line in direction_checks(result)]
    lines += ["", "## Time per stage (seconds)", "", "| stage | seconds |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in result["timings_s"].items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
