"""Reports of evaluation runs: the markdown score table and the comparison of two runs (deltas + bar chart).

Scores are stored as fractions in ``scores.json`` and shown as percentages (points), as the paper
reports them. A row is one (task, metric) pair from each task's ``primary`` metrics: medical VQA
tasks have two (OPEN recall, CLOSED accuracy), the others one. A score against an approximate vocabulary
(Nutrition5K without its ingredient list) is labelled ``(approximate)`` with a note, never shown as the
benchmark's.
"""

from __future__ import annotations

import json
from pathlib import Path

from hub_tools.evaluation.vocab import APPROXIMATE_NOTE, is_approximate

METRIC_LABELS = {
    "open_recall": "OPEN recall",
    "closed_accuracy": "CLOSED accuracy",
    "accuracy": "accuracy",
    "f1": "F1",
    "recall": "recall",
    "rouge_l": "ROUGE-L",
}


def score_rows(scores: dict) -> list[tuple[str, str, float, int]]:
    """``(task, metric, value, n)`` for every primary metric of every task in a ``scores.json`` dict."""
    rows = []
    for task, entry in scores.get("tasks", {}).items():
        for key in entry.get("primary", []):
            count = entry.get("num_items", 0)
            if key == "open_recall":
                count = entry["results"].get("num_open", count)
            elif key == "closed_accuracy":
                count = entry["results"].get("num_closed", count)
            rows.append((task, key, float(entry["results"][key]), int(count)))
    return rows


def approximate_tasks(scores: dict) -> set[str]:
    """The tasks of a ``scores.json`` dict scored against an approximate vocabulary (:func:`is_approximate`)."""
    return {task for task, entry in scores.get("tasks", {}).items() if is_approximate(entry)}


def scores_markdown(scores: dict) -> str:
    """A markdown table of a run's scores (percent), with the model named above it; approximate scores labelled."""
    lines = [
        f"# Scores: `{scores.get('model', '?')}`",
        "",
        "| Task | Metric | Score (%) | N |",
        "|---|---|---:|---:|",
    ]
    approximate = approximate_tasks(scores)
    for task, key, value, count in score_rows(scores):
        name = f"{task} (approximate)" if task in approximate else task
        lines.append(f"| {name} | {METRIC_LABELS.get(key, key)} | {100 * value:.2f} | {count} |")
    if approximate:
        lines += ["", f"(approximate) {APPROXIMATE_NOTE}."]
    return "\n".join(lines) + "\n"


def write_scores(scores: dict, path: str | Path) -> Path:
    """Write :func:`scores_markdown` to ``path``."""
    path = Path(path)
    path.write_text(scores_markdown(scores), encoding="utf-8")
    return path


def load_scores(run_dir: str | Path) -> dict:
    """Read ``RUN_DIR/scores.json`` (an ``adamllm evaluate`` output folder)."""
    path = Path(run_dir) / "scores.json"
    if not path.is_file():
        raise FileNotFoundError(f"no scores.json in {str(run_dir)!r}; is it an `adamllm evaluate` output folder?")
    return json.loads(path.read_text(encoding="utf-8"))


def compare(
    dir_a: str | Path,
    dir_b: str | Path,
    out_png: str | Path | None = "compare.png",
    labels: tuple[str, str] | None = None,
    echo: bool = True,
    domain: str | None = None,
) -> list[dict]:
    """Compare two evaluation runs: print per-task deltas (B - A, points) and save a grouped bar chart.

    Rows cover every (task, metric) either run has; a value missing on one side is ``None`` and has
    no delta. ``labels`` name the runs in the chart (default: the folder names). ``domain`` (``biomed``,
    ``food``, ``remote-sensing``) keeps that domain's tasks only. Returns the rows.
    """
    scores_a, scores_b = load_scores(dir_a), load_scores(dir_b)
    name_a, name_b = labels or (Path(dir_a).name or str(dir_a), Path(dir_b).name or str(dir_b))
    if name_a == name_b:
        name_a, name_b = f"A: {name_a}", f"B: {name_b}"
    values_a = {(t, k): v for t, k, v, _ in score_rows(scores_a)}
    values_b = {(t, k): v for t, k, v, _ in score_rows(scores_b)}
    approx_a, approx_b = approximate_tasks(scores_a), approximate_tasks(scores_b)
    keys = list(values_a) + [k for k in values_b if k not in values_a]
    if domain is not None:
        from hub_tools.evaluation.tasks import resolve_tasks

        wanted = {task.name for task in resolve_tasks(domain)}
        keys = [key for key in keys if key[0] in wanted]
    rows = []
    for task, metric in keys:
        a, b = values_a.get((task, metric)), values_b.get((task, metric))
        delta = None if a is None or b is None else 100 * (b - a)
        approximate = [side for side, found in (("a", approx_a), ("b", approx_b)) if task in found]
        rows.append({"task": task, "metric": metric, "a": a, "b": b, "delta": delta, "approximate": approximate})
    if echo:
        print(comparison_table(rows, name_a, name_b))
    if out_png is not None:
        plot_comparison(rows, name_a, name_b, out_png)
        if echo:
            print(f"chart: {out_png}")
    return rows


def comparison_table(rows: list[dict], name_a: str, name_b: str) -> str:
    """A plain-text (markdown) table of :func:`compare` rows."""

    def pct(value):
        return "—" if value is None else f"{100 * value:.2f}"

    lines = [f"| Task | Metric | {name_a} | {name_b} | Δ (points) |", "|---|---|---:|---:|---:|"]
    for row in rows:
        delta = "—" if row["delta"] is None else f"{row['delta']:+.2f}"
        label = METRIC_LABELS.get(row["metric"], row["metric"])
        lines.append(f"| {_task_label(row, name_a, name_b)} | {label} | {pct(row['a'])} | {pct(row['b'])} | {delta} |")
    if any(row.get("approximate") for row in rows):
        lines += ["", f"(approximate) {APPROXIMATE_NOTE}."]
    return "\n".join(lines)


def _task_label(row: dict, name_a: str, name_b: str) -> str:
    """The task name, marked ``(approximate)`` (naming the run when only one side is) where a score is."""
    sides = row.get("approximate") or []
    if not sides:
        return row["task"]
    if len(sides) == 2:
        return f"{row['task']} (approximate)"
    return f"{row['task']} (approximate in {name_a if sides == ['a'] else name_b})"


def plot_comparison(rows: list[dict], name_a: str, name_b: str, out_png: str | Path) -> Path:
    """Save a grouped bar chart (one group per task/metric, one bar per run) with matplotlib's Agg backend."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    labels = [
        f"{r['task']}{' (approx.)' if r.get('approximate') else ''}\n{METRIC_LABELS.get(r['metric'], r['metric'])}"
        for r in rows
    ]
    width = 0.38
    xs = list(range(len(rows)))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) + 2), 4.5))
    for offset, key, name in ((-width / 2, "a", name_a), (width / 2, "b", name_b)):
        heights = [100 * r[key] if r[key] is not None else 0.0 for r in rows]
        bars = ax.bar([x + offset for x in xs], heights, width, label=name)
        for bar, row in zip(bars, rows):
            if row[key] is not None:
                ax.annotate(
                    f"{100 * row[key]:.1f}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 105)
    ax.set_title(f"{name_b} vs {name_a}")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return out_png
