"""Model cards for post-trained checkpoints.

:func:`build_model_card` writes a card whose YAML metadata is a valid ``huggingface_hub.ModelCardData``
(``base_model``, ``datasets``, ``library_name``, ``pipeline_tag``, ``tags``) and whose body records the
domain, the recipe and the training metrics of every stage. Publishing goes through
:func:`hub_tools.publish.hub.push_folder` (``repo_type="model"``), shared with the dataset builders.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


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
):
    """Return a ``huggingface_hub.ModelCard`` for a post-trained model.

    ``stages`` holds one dict per training stage: ``name``, ``rows``, ``metrics`` (trainer metrics),
    and optionally ``long_examples`` (the long-example report) and ``loss_first`` / ``loss_last``.
    Only Hub ids go into the ``base_model`` / ``datasets`` metadata; local paths are named in the body.
    """
    from huggingface_hub import ModelCard, ModelCardData

    stages = stages or []
    datasets = [d for d in (datasets or []) if d]
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
    content = f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines)
    return ModelCard(content)


def write_model_card(output_dir: str | os.PathLike, card) -> Path:
    """Save ``card`` as ``output_dir/README.md`` and return the path."""
    path = Path(output_dir) / "README.md"
    card.save(path)
    return path


def save_json(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` as indented JSON (helper for stage markers and metrics)."""
    Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n")
