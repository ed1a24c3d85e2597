"""The ablation run's statistics and report: bootstrap intervals, noise calls, ``ABLATIONS.md`` and its chart.

Scores are likelihood-scored accuracies (0-100) on the ablation's benchmark (:mod:`hub_tools.miniature.ablate_world`).
Intervals are 95% percentile bootstraps over items *and* seeds: each resample draws the seeds with replacement and
every task's items with replacement and averages over the drawn seeds. Differences between two conditions are
bootstrapped on the same resamples (paired); the paper's comparisons on the average score are one family, Holm
corrected: a difference is called (``holds`` / ``the other way``) only when its adjusted p is below 0.05, and
reads ``cannot tell`` otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

from hub_tools.miniature.world.params import DEFAULT_DOMAIN

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


ALPHA = 0.05
POWER = 0.8


def _values(hits: dict, name: str, seeds: list[int], idx: dict | None) -> dict:
    """Accuracy (0-100) per task and their ``average``, averaged over ``seeds`` (repeats allowed) on items ``idx``."""
    import numpy as np

    total: dict[str, float] = {}
    for task in hits[(name, 0)]:
        per_seed = []
        for s in seeds:
            row = hits[(name, s)][task]
            per_seed.append(100 * (row[idx[task]] if idx is not None else row).mean())
        total[f"{task}/accuracy"] = float(np.mean(per_seed))
    total["average"] = float(np.mean(list(total.values())))
    return total


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values (step-down), in the input order."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    m, adjusted, running = len(p_values), [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def verdict(p_holm: float, mean: float, sign: int) -> str:
    """``holds`` / ``the other way`` when the Holm-adjusted p is below :data:`ALPHA`, else ``cannot tell``."""
    if p_holm >= ALPHA:
        return "cannot tell"
    return "holds" if (mean > 0) == (sign > 0) else "the other way"


def bootstrap_scores(hits: dict, names: list[str], seeds: int, resamples: int) -> dict:
    """Means, 95% intervals, paired differences with Holm-corrected verdicts, and the run's power.

    ``hits[(name, seed)][task]``: per-item 0/1 scores (the same items for every model). Each resample draws the
    seeds with replacement and every task's items with replacement; differences are taken on the same resamples
    (paired). The paper's comparisons on the average score form one family: their two-sided bootstrap p-values
    are Holm-adjusted and a difference is called only when the adjusted p is below 0.05. The minimum detectable
    difference is ``(z(1 - alpha / 2m) + z(power)) x`` the median bootstrap standard error of those differences.
    """
    from statistics import NormalDist

    import numpy as np

    arrays = {key: {t: np.asarray(v, dtype=float) for t, v in per.items()} for key, per in hits.items()}
    rng = np.random.default_rng(0)
    full = {name: _values(arrays, name, list(range(seeds)), None) for name in names}
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in names}
    sizes = {t: len(v) for t, v in arrays[(names[0], 0)].items()}
    for _ in range(resamples):
        drawn = rng.integers(0, seeds, size=seeds).tolist()
        idx = {task: rng.integers(0, n, size=n) for task, n in sizes.items()}
        for name in names:
            for key, value in _values(arrays, name, drawn, idx).items():
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
    differences, family = [], []
    for a, b, finding, sign in COMPARISONS:
        if a not in names or b not in names:
            continue
        for key in full[a]:
            diffs = np.array(samples[a][key]) - np.array(samples[b][key])
            low, high = interval(diffs)
            mean = full[a][key] - full[b][key]
            p = min(1.0, 2 * min(float(np.mean(diffs <= 0)), float(np.mean(diffs >= 0))))
            entry = {
                "a": a, "b": b, "key": key, "mean": round(mean, 1), "low": low, "high": high,
                "se": round(float(np.std(diffs)), 2), "p_value": round(max(p, 1 / resamples), 4),
                "paper": finding, "sign": sign,
            }  # fmt: skip
            differences.append(entry)
            if key == "average":
                family.append(entry)
    for entry, adjusted in zip(family, holm([e["p_value"] for e in family])):
        entry["p_holm"] = round(adjusted, 4)
    for entry in differences:
        p_used = entry.get("p_holm", entry["p_value"])
        entry["verdict"] = verdict(p_used, entry["mean"], entry["sign"])
        entry["inside_noise"] = entry["verdict"] == "cannot tell"
        entry["paper_direction_holds"] = {"holds": True, "the other way": False}.get(entry["verdict"])
    m = max(1, len(family))
    z = NormalDist().inv_cdf(1 - ALPHA / (2 * m)) + NormalDist().inv_cdf(POWER)
    ses = sorted(e["se"] for e in family)
    se = ses[len(ses) // 2] if ses else float("nan")
    if not se > 0 and names:  # no spread between paired conditions: bound it by one condition's spread, unpaired
        se = float(np.std(samples[names[0]]["average"])) * 2**0.5
    power = {
        "min_detectable_difference": round(z * se, 1),
        "se_of_a_difference": round(se, 2),
        "alpha": ALPHA,
        "power": POWER,
        "comparisons": m,
        "rule": "(z(1 - alpha/2m) + z(power)) x median paired-bootstrap SE of the average-score differences "
        "(Holm's first step; seeds and items resampled)",
    }
    return {"conditions": conditions, "differences": differences, "power": power}


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
    return "as the paper (a point value, no interval)" if a > b else "not as the paper (a point value, no interval)"


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
                    "not as the paper", "not as the paper (another variant is as high or higher)"
                )
            )
            lines.append(f"Image + caption + 10% blank is the best synthesizer input on {measure}: {verdict}.")
    return lines


def generated_table(result: dict) -> list[str]:
    """The secondary metric: greedy answers scored with the released metrics, mean over seeds (no interval)."""
    conditions = result["conditions"]
    keys = next((list(c["generated"]) for c in conditions.values() if c.get("generated")), [])
    if not keys:
        return []
    n = result["config"].get("generated_items")
    lines = [
        "## Secondary metric: generated answers, scored with the released metrics",
        "",
        f"Greedy answers (at most 6 tokens) to the first {n} items of each task, scored by the released SLAKE",
        "(closed: exact yes/no; open: recall) and PMC-VQA (option letter, seeded draw when none) metrics; mean over",
        "seeds, no interval. The primary metric is the likelihood score above.",
        "",
        "| condition | " + " | ".join(keys) + " |",
        "| --- | " + " | ".join("---:" for _ in keys) + " |",
    ]
    for name, c in conditions.items():
        cells = " | ".join(f"{sum(c['generated'][k]) / len(c['generated'][k]):.1f}" for k in keys)
        lines.append(f"| {name} | {cells} |")
    return lines + [""]


REAL_RUN = "adamllm ablate --output outputs/ablate"
"""The command of the real (default) run, printed by the smoke test."""


def head_lines(result: dict) -> list[str]:
    """The report's first lines: smoke-test label, the gate's figures, retention, and the run's power."""
    gate = result["gate"]
    lines = ["# The paper's ablations in miniature", ""]
    if result.get("smoke_test"):
        lines = [
            "# SMOKE TEST (`--small`): the paper's ablations in miniature, a run that cannot speak to the paper",
            "",
            "**This smoke test cannot speak to the paper.** Its sizes only exercise every stage",
            f"(a few steps, a few dozen items); its numbers are not findings. The real run: `{REAL_RUN}`",
            "(about 23 minutes on 2 cores; see `adamllm ablate --help`).",
            "",
        ]
    if result.get("domain") not in (None, DEFAULT_DOMAIN):
        lines += [
            f"Domain: **{result['domain']}** (aerial scenes: the synthesizer's world, the domain pairs and the "
            "benchmark); the paper's columns below are its biomed / food figures, shown for direction only.",
            "",
        ]
    chance = ", ".join(f"{k} {v:.1f}" for k, v in gate["chance"].items())
    need = gate["question_only_prior"] + gate["required"]["over_prior"]
    per_seed = ", ".join(f"{g['dev_accuracy']:.1f}/{g['gray_image_accuracy']:.1f}" for g in gate["per_seed"])
    if not gate["passed"]:
        lines += [
            "**The feasibility gate FAILED: the general student does not read images, so the comparisons below "
            "cannot speak** (they measure question priors, not the method)."
            + ("" if result.get("conditions") else " The run stopped here (`--allow-failed-gate` writes them)."),
            "",
        ]
    lines += [
        f"- **Gate ({'passed' if gate['passed'] else 'failed'})**: general dev accuracy {gate['dev_accuracy']:.1f} "
        f"(needs >= {need:.1f}: the question-only prior {gate['question_only_prior']:.1f} + "
        f"{gate['required']['over_prior']:g}); with gray images {gate['gray_image_accuracy']:.1f} (needs within "
        f"{gate['required']['gray_within']:g} of the prior); chance: {chance}. "
        f"Per seed (dev/gray): {per_seed}."
    ]
    if result.get("registered"):
        reg = result["registered"]
        lines.append(
            f"- **Registered before scoring** (chosen on the general dev split): post-training lr {reg['lr']:g}, "
            f"at most {reg['epochs']} epoch{'s' if reg['epochs'] != 1 else ''}, early stopping on 10% of each condition's own rows."
        )
    if result.get("conditions"):
        kept = ", ".join(
            f"{n} {c['retention']['general_dev_accuracy']:.1f}"
            for n, c in result["conditions"].items()
            if c.get("retention")
        )
        lines.append(f"- **General-dev retention** (accuracy on the general dev split after post-training): {kept}.")
    if result.get("power"):
        pw = result["power"]
        items = ", ".join(f"{k} {v}" for k, v in pw["items"].items())
        lines.append(
            f"- **Power**: the smallest difference in the average score this run can detect is "
            f"**{pw['min_detectable_difference']:.1f} points** (80% power, alpha 0.05 Holm-corrected over "
            f"{pw['comparisons']} comparisons; paired SE {pw['se_of_a_difference']:.2f} from its own {pw['seeds']} "
            f'seeds and items: {items}). Smaller true differences read "cannot tell".'
        )
    return lines + [""]


def write_report(path: Path, result: dict, chart_path: Path) -> Path:
    """Write ``ABLATIONS.md``: the gate and power first, tables in the paper's shape, the chart, the verdicts."""
    cfg = result["config"]
    lines = head_lines(result)
    if not result.get("conditions"):
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path
    filt, checker = result["filter"], result["filter"]["checker"]
    drawn = chart(result, chart_path)
    lines += [
        f"Seeds per condition: {cfg['seeds']} (paired: every condition starts from the same general student of each",
        "seed). Scores are likelihood-scored accuracies (0-100) on the ablation's benchmark (held-out combinations",
        "of the domain's facts), mean over seeds with a 95% bootstrap interval over items and seeds in brackets. The",
        "models are tiny and trained for minutes on a procedurally drawn world: what follows is what this run",
        "measured, not the paper's results.",
        f"The starting (general) student: {result['general_student']}.",
        "",
        "## Conditions (the paper's component and pipeline tables)",
        "",
        *score_table(result),
        "",
        *([f"![average score per condition]({drawn.name})", ""] if drawn else []),
        "## Differences against the paper's direction (paired bootstrap, average score, Holm-corrected)",
        "",
        "| a - b | difference [95% interval] | p (Holm) | the paper | verdict |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for d in result["differences"]:
        if d["key"] != "average":
            continue
        lines.append(
            f"| {d['a']} - {d['b']} | {d['mean']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}] | {d['p_holm']:.3f} | "
            f"{d['paper']} | {d['verdict']} |"
        )
    lines += [
        "",
        "Verdicts: *holds* / *the other way* only when the Holm-adjusted p is below 0.05; otherwise *cannot tell*",
        '(a difference this run cannot resolve is never read as "no"). Per-task differences: `ablations.json`.',
        "",
        *generated_table(result),
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
