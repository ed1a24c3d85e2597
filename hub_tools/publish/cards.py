"""Dataset and model cards: ``README.md`` files whose YAML header the Hub validates.

- :func:`write_card` writes a dataset card (a :class:`huggingface_hub.DatasetCardData` header + markdown) and
  reloads it with :meth:`huggingface_hub.DatasetCard.load`, so a malformed header fails at build time, not on
  the Hub; :func:`hub_tools.publish.dataset_card.write_visual_instructions_card` is the card of
  :mod:`hub_tools.publish.dataset`'s folders.
- :func:`build_model_card` / :func:`write_model_card`: the card of a post-trained model (a valid
  ``huggingface_hub.ModelCardData`` header, the domain, the recipe and every stage's metrics).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from hub_tools.publish.hub import shorten_local_paths
from hub_tools.redaction import redact_text, strip_credentials

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

    Secrets in the body (see :func:`hub_tools.redaction.redact_text`) and URL credentials anywhere are
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


PAPER_BIBTEX = """@article{cheng2024adamllm,
  title={On Domain-Specific Post-Training for Multimodal Large Language Models},
  author={Cheng, Daixuan and Huang, Shaohan and Zhu, Ziyu and Zhang, Xintong and Zhao, Wayne Xin and Luan, Zhongzhi
          and Dai, Bo and Zhang, Zhenliang},
  journal={arXiv preprint arXiv:2411.19930},
  year={2024}
}"""
TRL_BIBTEX = """@software{vonwerra2020trl,
  title   = {{TRL: Transformers Reinforcement Learning}},
  author  = {von Werra, Leandro and Belkada, Younes and Tunstall, Lewis and Beeching, Edward and Thrush, Tristan and Lambert, Nathan and Huang, Shengyi and Rasul, Kashif and Gallou\u00e9dec, Quentin},
  license = {Apache-2.0},
  url     = {https://github.com/huggingface/trl},
  year    = {2020}
}"""
FRAMEWORKS = (
    ("TRL", "trl"),
    ("Transformers", "transformers"),
    ("PyTorch", "torch"),
    ("Datasets", "datasets"),
    ("Tokenizers", "tokenizers"),
    ("huggingface_hub", "huggingface-hub"),
    ("adamllm-hub", "adamllm-hub"),
)
_LOAD_DATASET = re.compile(r"load_dataset\(\s*[\"']([^\"']+)[\"']")


def framework_versions() -> dict[str, str]:
    """``{label: version}`` of the libraries a card lists (TRL's "Framework versions", plus huggingface_hub)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for label, dist in FRAMEWORKS:
        try:
            out[label] = version(dist)
        except PackageNotFoundError:
            out[label] = "not installed"
    return out


def dataset_reference(value: str) -> tuple[str | None, str]:
    """``(metadata id, name)`` of a training dataset for a model card.

    A Hub id is both. A local dataset folder with a ``README.md`` card (``adamllm build-dataset``) gives the Hub id
    its card names (a ``repo_id`` header key, or the ``load_dataset("owner/name", ...)`` line of its usage section),
    else ``None`` (the header's ``datasets:`` holds repo ids only); its name is the ``pretty_name`` or the folder
    name. Anything else: ``(None, value)``.
    """
    if is_hub_id(value):
        return value, value
    readme = Path(value) / "README.md"
    if not readme.is_file():
        return None, value
    from huggingface_hub import DatasetCard

    try:
        card = DatasetCard.load(readme)
    except Exception:  # a hand-written README without a valid header names nothing
        return None, value
    header = card.data.to_dict()
    candidates = [header.get("repo_id"), *_LOAD_DATASET.findall(card.text)]
    repo = next((c for c in candidates if isinstance(c, str) and c != "USER/DATASET" and is_hub_id(c)), None)
    pretty = header.get("pretty_name") if isinstance(header.get("pretty_name"), str) else None
    return repo, pretty or Path(value).name


def usage_example(model_ref: str, prompt: str = "What does this image show?") -> str:
    """A ``generate`` example for an image-text-to-text model: the processor's chat template, one image."""
    return "\n".join(
        [
            "from transformers import AutoModelForImageTextToText, AutoProcessor",
            "",
            f'model_id = "{model_ref}"',
            'model = AutoModelForImageTextToText.from_pretrained(model_id, dtype="auto", device_map="auto")',
            "processor = AutoProcessor.from_pretrained(model_id)",
            "messages = [",
            "    {",
            '        "role": "user",',
            f'        "content": [{{"type": "image", "path": "image.png"}}, {{"type": "text", "text": "{prompt}"}}],',
            "    }",
            "]",
            "inputs = processor.apply_chat_template(",
            '    messages, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"',
            ").to(model.device)",
            "output = model.generate(**inputs, max_new_tokens=256)",
            'print(processor.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True))',
        ]
    )


def slug(text: str) -> str:
    """A Hub tag: lower case, runs of anything but letters and digits as one ``-`` (``"Food (bundled)"`` ->
    ``"food-bundled"``)."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def model_license(model: str) -> str | None:
    """The ``license`` of a model's card when it can be read without the network (a local folder's README.md,
    or the Hub cache), else ``None``."""
    readme = Path(model) / "README.md"
    if not readme.is_file() and is_hub_id(model):
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "README.md")
        readme = Path(cached) if isinstance(cached, str) else readme
    if not readme.is_file():
        return None
    from huggingface_hub import ModelCard

    try:
        value = ModelCard.load(readme).data.to_dict().get("license")
    except Exception:  # a README without a valid header names no licence
        return None
    return value if isinstance(value, str) and value else None


def model_name(value: Any) -> Any:
    """How a card names a model: a Hub id as it is, a local folder (relative or absolute) as ``.../<name>``."""
    if isinstance(value, str) and value and not value.startswith((".../", "/")) and Path(value).exists():
        value = str(Path(value).resolve())
    return shorten_local_paths(value)


def build_model_card(
    *,
    base_model: str,
    domain: str,
    datasets: list[str] | None = None,
    recipe_name: str | None = None,
    recipe_text: str | None = None,
    stages: list[dict] | None = None,
    model_id: str | None = None,
    model_name: str | None = None,
    extra_tags: list[str] | None = None,
    license: str | None = None,
    setup: dict[str, str] | None = None,
):
    """Return a ``huggingface_hub.ModelCard`` for a post-trained model.

    The header carries the fields of TRL's own card (``SFTTrainer.create_model_card``): ``model_name``,
    ``base_model``, ``datasets``, ``library_name``, ``tags`` (``trl``, ``sft``, ``adamllm``, the domain), plus
    ``pipeline_tag``; the body has the training record, the framework versions, a ``generate`` example with the
    processor's chat template and the BibTeX of the paper and of TRL.
    ``stages`` holds one dict per training stage: ``name``, ``rows``, ``metrics`` (trainer metrics),
    and optionally ``long_examples`` (the long-example report) and ``loss_first`` / ``loss_last``.
    ``setup`` (label -> text) lists how it was trained (vision encoder, projector, images, max length, optimizer;
    see ``hub_tools.training.sft.training_setup``), one line each.
    Only Hub ids go into ``base_model``; ``datasets`` takes Hub ids and, for a local dataset folder, what its card
    names (:func:`dataset_reference`); local paths are named in the body only.
    Nothing secret is shown: the recipe's secret-looking keys are masked and credentials are cut from URLs
    (see :func:`hub_tools.redaction.redact_text`).
    """
    from huggingface_hub import ModelCard, ModelCardData

    stages = stages or []
    base_model = strip_credentials(base_model)
    model_id = strip_credentials(model_id) if model_id else model_id
    datasets = [strip_credentials(d) for d in (datasets or []) if d]
    references = [dataset_reference(d) for d in datasets]
    recipe_text = redact_text(recipe_text) if recipe_text else recipe_text
    title = model_id or f"{base_model.rstrip('/').split('/')[-1]}-{domain}"
    model_name = model_name or title.rstrip("/").split("/")[-1]
    tags = ["adamllm", "domain-adaptation", "multimodal", "trl", "sft", domain, *(extra_tags or [])]
    data = ModelCardData(
        model_name=model_name,
        base_model=base_model if is_hub_id(base_model) else None,
        datasets=list(dict.fromkeys(ref for ref, _ in references if ref)) or None,
        library_name="transformers",
        pipeline_tag="image-text-to-text",
        tags=list(dict.fromkeys(slug(t) for t in tags if slug(t))),
        license=license or model_license(base_model),
    )

    def named(value: str, name: str) -> str:
        return f"`{value}`" if name == value else f"{name} (`{value}`)"

    lines = [
        f"# Model Card for {model_name}",
        "",
        f"`{base_model}` post-trained for the **{domain}** domain with adamllm-hub, following *On Domain-Specific "
        "Post-Training for Multimodal Large Language Models* (Cheng et al., arXiv 2411.19930): visual instruction "
        "tasks synthesized from domain image-caption pairs, filtered for consistency, and trained together with "
        "the captions in a single stage. It has been trained with [TRL](https://github.com/huggingface/trl) (SFT).",
        "",
        "## Quick start",
        "",
        "```python",
        usage_example(model_id or "path/to/this/model"),
        "```",
        "",
        "## Training",
        "",
        f"- Base model: `{base_model}`",
        f"- Domain: {domain}",
        f"- Data: {', '.join(named(d, name) for d, (_, name) in zip(datasets, references)) or 'local rows'}",
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
    lines += ["### Framework versions", ""]
    lines += [f"- {label}: {v}" for label, v in framework_versions().items()]
    lines += [
        "",
        "## Citations",
        "",
        "Cite the method (AdaMLLM) as:",
        "",
        "```bibtex",
        PAPER_BIBTEX,
        "```",
        "",
        "Cite TRL as:",
        "",
        "```bibtex",
        TRL_BIBTEX,
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
