"""Dataset and model cards: ``README.md`` files whose YAML header the Hub validates.

- :func:`write_card` writes a dataset card (a :class:`huggingface_hub.DatasetCardData` header + markdown) and
  reloads it with :meth:`huggingface_hub.DatasetCard.load`, so a malformed header fails at build time, not on
  the Hub; :func:`write_visual_instructions_card` is the card of :mod:`hub_tools.publish.dataset`'s folders.
- :func:`build_model_card` / :func:`write_model_card`: the card of a post-trained model (a valid
  ``huggingface_hub.ModelCardData`` header, the domain, the recipe and every stage's metrics).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from hub_tools.publish.hub import redact_secrets, redact_text, shorten_local_paths, strip_credentials

CAPTION_CONFIG = "image_caption_pairs"
TASK_CONFIG = "synthetic_visual_tasks"
DEFAULT_CONFIG = "image_caption_and_synthetic_task"
CONFIGS = (DEFAULT_CONFIG, TASK_CONFIG, CAPTION_CONFIG)
SIZE_CATEGORIES: tuple[tuple[int, str], ...] = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def size_category(n: int) -> str:
    """The Hub ``size_categories`` bucket of a dataset with ``n`` rows (e.g. ``"1K<n<10K"``)."""
    for bound, name in SIZE_CATEGORIES:
        if n < bound:
            return name
    return "n>1B"


def write_card(folder: str | os.PathLike, card_data: dict[str, Any], body: str) -> Path:
    """Write ``folder/README.md`` from ``card_data`` (DatasetCardData fields + ``configs``) and ``body``.

    Secrets in the body (see :func:`hub_tools.publish.hub.redact_text`) and URL credentials anywhere are
    masked. The file is read back with :meth:`huggingface_hub.DatasetCard.load` and its ``configs`` compared
    with what was written; a mismatch raises ``ValueError``. Returns the README path.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCardData(**card_data)
    text = strip_credentials(f"---\n{data.to_yaml()}\n---\n\n{redact_text(body.strip())}\n")
    path = Path(folder) / "README.md"
    path.write_text(text, encoding="utf-8")
    loaded = DatasetCard.load(path)
    if not isinstance(loaded.data, DatasetCardData):
        raise ValueError(f"{str(path)!r}: the card header did not load as DatasetCardData")
    if loaded.data.to_dict().get("configs") != data.to_dict().get("configs"):
        raise ValueError(f"{str(path)!r}: the card's configs did not survive a load round trip")
    return path


# ---------------------------------------------------------------------------------------------
# model cards
# ---------------------------------------------------------------------------------------------
def is_hub_id(value: str | None) -> bool:
    """Whether ``value`` looks like a Hub repo id (``owner/name``) rather than a local path."""
    if not value or os.path.exists(value) or value.startswith((".", "/", "~")):
        return False
    return bool(_REPO_ID.match(value))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def build_model_card(
    *,
    base_model: str,
    domain: str,
    datasets: list[str] | None = None,
    recipe_name: str | None = None,
    recipe_text: str | None = None,
    stages: list[dict] | None = None,
    model_id: str | None = None,
    extra_tags: list[str] | None = None,
    license: str | None = None,
    setup: dict[str, str] | None = None,
):
    """Return a ``huggingface_hub.ModelCard`` for a post-trained model.

    ``stages`` holds one dict per training stage: ``name``, ``rows``, ``metrics`` (trainer metrics),
    and optionally ``long_examples`` (the long-example report) and ``loss_first`` / ``loss_last``.
    ``setup`` (label -> text) lists how it was trained (vision encoder, projector, images, max length, optimizer;
    see ``hub_tools.training.sft.training_setup``), one line each.
    Only Hub ids go into the ``base_model`` / ``datasets`` metadata; local paths are named in the body.
    Nothing secret is shown: the recipe's secret-looking keys are masked and credentials are cut from URLs
    (see :func:`hub_tools.publish.hub.redact_text`).
    """
    from huggingface_hub import ModelCard, ModelCardData

    stages = stages or []
    base_model = strip_credentials(base_model)
    model_id = strip_credentials(model_id) if model_id else model_id
    datasets = [strip_credentials(d) for d in (datasets or []) if d]
    recipe_text = redact_text(recipe_text) if recipe_text else recipe_text
    tags = ["adamllm", "domain-adaptation", "multimodal", "trl", "sft", domain, *(extra_tags or [])]
    data = ModelCardData(
        base_model=base_model if is_hub_id(base_model) else None,
        datasets=[d for d in datasets if is_hub_id(d)] or None,
        library_name="transformers",
        pipeline_tag="image-text-to-text",
        tags=list(dict.fromkeys(t for t in tags if t)),
        license=license,
    )
    title = model_id or f"{base_model.rstrip('/').split('/')[-1]}-{domain}"
    lines = [
        f"# {title}",
        "",
        f"`{base_model}` post-trained for the **{domain}** domain with adamllm-hub, following *On Domain-Specific "
        "Post-Training for Multimodal Large Language Models* (Cheng et al., arXiv 2411.19930): visual instruction "
        "tasks synthesized from domain image-caption pairs, filtered for consistency, and trained together with "
        "the captions in a single stage.",
        "",
        "## Training",
        "",
        f"- Base model: `{base_model}`",
        f"- Domain: {domain}",
        f"- Data: {', '.join(f'`{d}`' for d in datasets) or 'local rows'}",
        f"- Pipeline: {'two-stage (captions, then tasks)' if len(stages) > 1 else 'single-stage'}",
        f"- Recipe: `{recipe_name}`" if recipe_name else "- Recipe: command-line arguments",
        *(f"- {label}: {text}" for label, text in (setup or {}).items()),
        "",
    ]
    for stage in stages:
        lines += [f"### Stage: {stage.get('name', 'sft')}", "", f"Training rows: {stage.get('rows', 'n/a')}", ""]
        report = stage.get("long_examples") or {}
        if report.get("max_length") is not None:
            lines += [
                f"Long examples (max_length {report['max_length']}, policy {report.get('policy')}): "
                f"{report.get('dropped', 0)} dropped, {report.get('truncated', 0)} cut in text.",
                "",
            ]
        metrics = dict(stage.get("metrics") or {})
        for key in ("loss_first", "loss_last"):
            if stage.get(key) is not None:
                metrics[key] = stage[key]
        if metrics:
            lines += ["| metric | value |", "| --- | --- |"]
            lines += [f"| {k} | {_fmt(v)} |" for k, v in sorted(metrics.items())]
            lines.append("")
    if recipe_text:
        lines += ["## Recipe", "", "```yaml", recipe_text.strip(), "```", ""]
    lines += [
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForImageTextToText, AutoProcessor",
        "",
        f'model = AutoModelForImageTextToText.from_pretrained("{model_id or "path/to/this/model"}")',
        f'processor = AutoProcessor.from_pretrained("{model_id or "path/to/this/model"}")',
        "```",
        "",
    ]
    content = f"---\n{data.to_yaml()}\n---\n\n" + strip_credentials("\n".join(lines))
    return ModelCard(content)


def write_model_card(output_dir: str | os.PathLike, card) -> Path:
    """Save ``card`` as ``output_dir/README.md`` and return the path."""
    path = Path(output_dir) / "README.md"
    card.save(path)
    return path


# ---------------------------------------------------------------------------------------------
# the card of a visual-instructions dataset folder
# ---------------------------------------------------------------------------------------------
def _find(config: Any, *names: str) -> Any:
    if isinstance(config, dict):
        for name in names:
            if config.get(name) not in (None, ""):
                return config[name]
    return None


def _seeds(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if "seed" in str(k).lower() and not isinstance(v, (dict, list)):
                out.append((path, v))
            else:
                out.extend(_seeds(v, path))
    return out


def _default_description(per_split: dict[str, Counter]) -> str:
    parts = []
    for split, kinds in sorted(per_split.items()):
        if kinds["caption+task"]:
            what = "single-stage rows: the caption turn and the synthetic task turn in one conversation (order seeded); images without a kept task keep the caption turn alone"
        elif kinds["caption_only"] and not kinds["task"]:
            what = "caption turns (stage 1 of two-stage training)"
        elif kinds["task"] and not kinds["caption_only"]:
            what = "synthetic task turns only"
        else:
            what = "caption and task rows"
        parts.append(f"split `{split}`: {sum(kinds.values())} {what}")
    return "; ".join(parts)


def write_visual_instructions_card(
    output: Path,
    *,
    split_files: dict[str, dict[str, str]],
    dataset_info: list[dict],
    rows: dict[str, int],
    stats: dict,
    manifest: dict,
    checkers: Counter,
    reasons: Counter,
    task_words: Counter,
    per_split: dict[str, Counter],
    license: str,
    tags: list[str] | None,
    pretty_name: str | None,
    repo_id: str | None,
) -> Path:
    """Write the dataset card (YAML configs + provenance, statistics and usage sections)."""
    manifest = shorten_local_paths(redact_secrets(manifest))
    configs = []
    for config in CONFIGS:
        files = split_files.get(config)
        if not files:
            continue
        entry = {"config_name": config, "data_files": [{"split": s, "path": p} for s, p in sorted(files.items())]}
        if config == DEFAULT_CONFIG:
            entry["default"] = True
        configs.append(entry)
    card_data = {
        "license": license,
        "task_categories": ["image-text-to-text", "visual-question-answering"],
        "tags": sorted({"synthetic", "visual-instruction-tuning", "adamllm", *(tags or [])}),
        "size_categories": [size_category(max(rows.values()) if rows else 0)],
        "pretty_name": pretty_name or "Synthesized visual instruction tasks",
        "configs": configs,
        "dataset_info": dataset_info,
    }
    synth_cfg = manifest.get("synthesize", {})
    filter_cfg = manifest.get("filter", {})
    compose_cfg = manifest.get("compose", {})
    synthesizer = (
        _find(synth_cfg, "synthesizer", "model", "model_id", "model_name_or_path", "engine")
        or "see the pipeline config below"
    )
    checker = ", ".join(sorted(checkers)) or _find(filter_cfg, "checker", "model", "model_id") or "not recorded"
    seeds = _seeds(manifest)
    verdicts = stats.get("verdicts") or {}
    name = repo_id or "USER/DATASET"
    total_tasks = sum(task_words.values())

    lines = [
        f"# {card_data['pretty_name']}",
        "",
        "Domain-specific visual instruction data made with adamllm-hub following the method of",
        '"On Domain-Specific Post-Training for Multimodal Large Language Models" (Cheng et al., arXiv 2411.19930):',
        "a visual instruction synthesizer turns image-caption pairs into task triplets (instruction, informative",
        "response, precise response), a consistency checker keeps the triplets whose precise answer follows from the",
        "informative one, and each kept task is composed into a training turn next to the original caption turn.",
        "",
        "## Configs",
        "",
        "| config | rows | what it holds |",
        "|---|---:|---|",
        f"| `{DEFAULT_CONFIG}` (default) | {rows.get(DEFAULT_CONFIG, 0)} | the composed training rows, unchanged: "
        f"{_default_description(per_split)} |",
        f"| `{TASK_CONFIG}` | {rows.get(TASK_CONFIG, 0)} | the composed synthetic task turns alone"
        + (
            " (no kept tasks: the config is left out, as an empty split cannot be loaded)"
            if not rows.get(TASK_CONFIG)
            else ""
        )
        + " |",
        f"| `{CAPTION_CONFIG}` | {rows.get(CAPTION_CONFIG, 0)} | the accepted input image-caption pairs as one-turn conversations |",
        "",
        "Every row has `id`, `images` (a list with the image) and `messages` in TRL's conversational vision format",
        '(`role`, and `content` as a list of `{"type": "image"}` / `{"type": "text", "text": ...}` parts), so the',
        "default config feeds `trl.SFTTrainer` (and `hub_tools.training.sft`) unchanged.",
        "",
        "## How the data was made",
        "",
        f"- **Synthesizer:** `{synthesizer}`",
        f"- **Consistency checker:** `{checker}` (keeps `Yes`; any other verdict drops the task)",
        f"- **Composition:** `{_find(compose_cfg, 'mode', 'composition', 'strategy') or 'single-stage'}`",
        "- **Seeds:** " + (", ".join(f"`{k}` = `{v}`" for k, v in seeds) if seeds else "none recorded"),
        "",
        "| count | value |",
        "|---|---:|",
        f"| image-caption pairs in | {stats['pairs_in']} |",
        f"| rejected (bad input) | {stats['rejected']} |",
        f"| synthesized | {stats.get('synthesized', rows.get(CAPTION_CONFIG, 0))} |",
        f"| task triplets parsed | {stats.get('triplets', 'n/a')} |",
        "| checker verdicts Yes / No / Open / Other | "
        + " / ".join(str(verdicts.get(label, 0)) for label in ("Yes", "No", "Open", "Other"))
        + " |",
        f"| kept (caption + task) | {stats['kept']} |",
        f"| caption only (task judged not consistent) | {stats['caption_only']} |",
        f"| no complete task triplet (not in the training data) | {stats.get('no_task', 0)} |",
        "",
    ]
    if reasons:
        lines += ["Rejection reasons:", ""]
        lines += [f"- {reason}: {n}" for reason, n in reasons.most_common(10)]
        if len(reasons) > 10:
            lines.append(f"- ({len(reasons) - 10} more reasons): {sum(n for _, n in reasons.most_common()[10:])}")
        lines.append("")
    lines += [
        "The pipeline's own configuration (`manifest.json` of the run; local paths shortened, secrets masked):",
        "",
        "```json",
        json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False, default=str),
        "```",
        "",
        "## Task-type statistics",
        "",
        "Kept synthetic tasks by the leading word of their question:",
        "",
        "| leading word | tasks | share |",
        "|---|---:|---:|",
    ]
    for word, n in task_words.most_common(25):
        lines.append(f"| {word} | {n} | {n / total_tasks:.1%} |")
    if len(task_words) > 25:
        rest = sum(n for _, n in task_words.most_common()[25:])
        lines.append(f"| (other words) | {rest} | {rest / total_tasks:.1%} |")
    if not task_words:
        lines.append("| (no kept tasks) | 0 | - |")
    lines += [
        "",
        "## Usage",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        f'train = load_dataset("{name}", "{DEFAULT_CONFIG}", split="train")'
        + ("" if repo_id else "  # or the local folder path"),
        'print(train[0]["messages"])',
        'train[0]["images"][0]  # a PIL image',
        "```",
        "",
        "Post-train with the recipe of adamllm-hub (`accelerate launch -m hub_tools.sft --config recipes/...`) or",
        f"pass the `{DEFAULT_CONFIG}` split straight to `trl.SFTTrainer`.",
        "",
        "## Licence",
        "",
        f"The synthesized text is released under `{license}`. The images keep the licence of their source collection.",
    ]
    return write_card(output, card_data, "\n".join(lines))
