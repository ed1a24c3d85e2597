"""Domain benchmarks written in the evaluation schema (parquet + card); the raw readers are in ``raw_readers.py``.

Output (the schema :mod:`hub_tools.evaluation.tasks` reads): ``OUT/<Config>/test-*.parquet`` with
``id``, ``image`` (bytes embedded), ``input`` (the prompt, from the templates of ``raw_readers.py`` — our
own wording), ``label`` and per-task columns (``answer_type``; ``A``-``D``), ``vocabulary.json`` for the
food label sets, and a ``README.md`` card with one config per task. A row whose image is missing
fails the build, or with ``skip_missing`` is left out and counted in the card.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.evaluation.raw_readers import SPLIT, TaskSource
from hub_tools.publish.dataset import BuildError
from hub_tools.publish.parquet import DEFAULT_MAX_SHARD_BYTES, ShardedParquetWriter, dataset_info_yaml, image_cell

DOMAIN_TITLES = {"biomed": "Biomedical", "food": "Food", "remote-sensing": "Remote sensing"}


def task_features(kind: str):
    """The ``datasets`` features of a task kind (``image``, ``input``, ``label`` + per-kind columns)."""
    from datasets import Features, Image, List, Value

    cols: dict[str, Any] = {"id": Value("string"), "image": Image(), "input": Value("string")}
    if kind == "multilabel":
        cols["label"] = List(Value("string"))
    else:
        cols["label"] = Value("string")
    if kind == "medical":
        cols["answer_type"] = Value("string")
    if kind == "letters":
        for key in "ABCD":
            cols[key] = Value("string")
    return Features(cols)


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
@dataclass
class BenchmarkResult:
    """What a benchmark build wrote: rows and skipped rows per task, shard paths, the card."""

    output: Path
    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    shards: dict[str, list[Path]] = field(default_factory=dict)
    card: Path | None = None


BENCHMARK_WRITER = "adamllm build-benchmark"
"""The writer a benchmark folder's ownership marker records (:mod:`hub_tools.rundir.ownership`)."""


def build_benchmark(
    tasks: list[TaskSource],
    output: str | os.PathLike,
    *,
    domain: str,
    limit: int | None = None,
    skip_missing: bool = False,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    overwrite: bool = False,
    repo_id: str | None = None,
    progress: bool = True,
) -> BenchmarkResult:
    """Write each task's test split as ``OUTPUT/<Config>/test-*.parquet`` (+ ``vocabulary.json``) and a card."""
    from hub_tools.defaults import progress_bar
    from hub_tools.publish.dataset import BUILD_TMP, prepare_output, replace_outputs
    from hub_tools.rundir.ownership import release

    if not tasks:
        raise BuildError("no benchmark given; pass at least one raw release folder")
    if limit is not None and limit < 1:
        raise BuildError(f"--limit must be positive, got {limit}")
    output = Path(output)
    fresh = prepare_output(output, overwrite, BENCHMARK_WRITER, tuple(task.name for task in tasks))
    tmp = output / BUILD_TMP
    shutil.rmtree(tmp, ignore_errors=True)
    result = BenchmarkResult(output)
    info = []
    try:
        for task in tasks:
            features = task_features(task.kind)
            writer = ShardedParquetWriter(tmp / task.name, SPLIT, features, max_shard_bytes)
            try:
                for row in progress_bar(task.rows, desc=f"writing {task.name}", unit="row", disable=not progress):
                    if limit is not None and writer.rows >= limit:
                        break
                    if isinstance(row.image, tuple):
                        data, name = row.image
                    else:
                        if not row.image.is_file():
                            if skip_missing:
                                task.skipped["image not found"] += 1
                                continue
                            raise BuildError(f"{task.name} row {row.id!r}: image not found: {str(row.image)!r}")
                        data, name = row.image.read_bytes(), row.image.name
                    if not data:
                        raise BuildError(f"{task.name} row {row.id!r}: the image is empty")
                    out = {"id": row.id, "image": image_cell(data, name), **row.columns}
                    size = len(data) + sum(len(str(v)) for v in row.columns.values())
                    writer.add(out, size)
                if writer.rows == 0:
                    raise BuildError(f"{task.name}: no test rows found in {task.source}")
                result.rows[task.name] = writer.rows
                result.skipped[task.name] = dict(task.skipped)
                result.shards[task.name] = writer.close()
            except BaseException:
                writer.abort()
                raise
            if task.vocabulary is not None:
                (tmp / task.name / "vocabulary.json").write_text(
                    json.dumps(task.vocabulary, indent=1, ensure_ascii=False)
                )
            info += dataset_info_yaml(features, {task.name: {SPLIT: result.shards[task.name]}})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if fresh:
            release(output)
        raise
    replace_outputs(output, BENCHMARK_WRITER, tmp)  # the earlier build's outputs go only now, by name
    for task in tasks:
        result.shards[task.name] = [output / task.name / p.name for p in result.shards[task.name]]
    shutil.rmtree(tmp, ignore_errors=True)
    result.card = write_benchmark_card(output, tasks, result, info, domain=domain, repo_id=repo_id)
    return result


def write_benchmark_card(
    output: Path,
    tasks: list[TaskSource],
    result: BenchmarkResult,
    info: list[dict],
    *,
    domain: str,
    repo_id: str | None,
) -> Path:
    """The benchmark card: one config per task (``test`` split), sources, prompts and row counts."""
    from hub_tools.publish.cards import size_category, write_card

    configs = [
        {"config_name": t.name, "data_files": [{"split": SPLIT, "path": f"{t.name}/{SPLIT}-*.parquet"}]} for t in tasks
    ]
    card_data = {
        "license": "other",
        "task_categories": ["visual-question-answering", "image-text-to-text"],
        "language": ["en"],
        "tags": sorted({"benchmark", "adamllm", domain}),
        "size_categories": [size_category(sum(result.rows.values()))],
        "pretty_name": f"{DOMAIN_TITLES.get(domain, domain.capitalize())} visual question answering benchmarks",
        "configs": configs,
        "dataset_info": info,
    }
    name = repo_id or "USER/DATASET"
    lines = [
        f"# {card_data['pretty_name']}",
        "",
        f"Test splits of the {domain} benchmarks used to evaluate domain-adapted multimodal LLMs (AdaMLLM,",
        "arXiv 2411.19930), rebuilt by adamllm-hub from the raw public releases into one schema: `image`,",
        "`input` (the prompt shown to the model), `label`, plus `answer_type` (medical VQA) or `A`-`D`",
        "(multiple choice).",
        "",
        "| config | rows | source | label |",
        "|---|---:|---|---|",
    ]
    for t in tasks:
        lines.append(f"| `{t.name}` | {result.rows[t.name]} | {t.source} | {t.label} |")
    skipped = {k: v for k, v in result.skipped.items() if v}
    if skipped:
        lines += ["", "Raw records left out while building, with the reason:", ""]
        for task_name, reasons in skipped.items():
            lines += [f"- `{task_name}`: " + ", ".join(f"{n} ({r})" for r, n in reasons.items())]
    lines += ["", "## Prompts", ""]
    for t in tasks:
        lines += [f"`{t.name}`:", "", "```text", t.prompt, "```", ""]
    if any(t.vocabulary for t in tasks):
        lines += [
            "Label vocabularies (used by the multiple-choice and multi-label metrics) are in",
            "`<config>/vocabulary.json`: "
            + ", ".join(f"`{t.name}` ({len(t.vocabulary)} names)" for t in tasks if t.vocabulary)
            + ".",
            "",
        ]
    first = tasks[0].name
    lines += [
        "## Usage",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'test = load_dataset("{name}", "{first}", split="test")',
        "```",
        "",
        "Evaluate a model on a local copy: `adamllm evaluate --model MODEL --tasks "
        f"{domain} --benchmark-dir <this folder> --output results/`.",
        "",
        "## Licence",
        "",
        "Each config keeps the licence and terms of use of its source release; check them before redistributing.",
    ]
    return write_card(output, card_data, "\n".join(lines))
