"""The SFT recipe's data and setup: the rows it trains on, the stages (one, or captions then tasks), how rows are
rendered (prompt style, collator) and what the model card says about the setup.

Split out of :mod:`hub_tools.training.sft` (the entry: model loading, training, card and push), which re-exports
every name here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hub_tools.data.image_size import ImageSize
from hub_tools.errors import loading


@dataclass
class Stage:
    """One training run: its name, rows, output folder and the weights it starts from."""

    name: str
    dataset: object
    output_dir: str
    model_path: str
    adapter_path: str | None = None
    long_examples: dict = field(default_factory=dict)


def _load_main_rows(script_args):
    from hub_tools.training.data import load_rows

    dataset = load_rows(
        script_args.dataset_name, script_args.dataset_config, script_args.dataset_split, script_args.dataset_dir
    )
    if script_args.max_train_samples is not None:
        dataset = dataset.select(range(min(script_args.max_train_samples, len(dataset))))
    return dataset


def _split_by_kind(dataset):
    """Stage-1 / stage-2 datasets from one composed dataset (see ``hub_tools.training.data.split_two_stage``)."""
    from datasets import Image

    from hub_tools.training.data import split_two_stage

    feature = dataset.features.get("images")
    inner = getattr(feature, "feature", None)
    if isinstance(inner, Image) and inner.decode:  # keep the bytes, do not decode every image here
        dataset = dataset.cast_column("images", type(feature)(Image(decode=False)))

    def pick(stage):
        def fn(batch):
            rows = [dict(zip(batch, values, strict=True)) for values in zip(*batch.values(), strict=True)]
            out = split_two_stage(rows)[stage]
            return {key: [row[key] for row in out] for key in ("id", "kind", "images", "messages")}

        return fn

    columns = dataset.column_names
    stage1 = dataset.map(pick(0), batched=True, remove_columns=columns, desc="stage-1 caption rows")
    stage2 = dataset.map(pick(1), batched=True, remove_columns=columns, desc="stage-2 task rows")
    return stage1, stage2


def build_stages(script_args, training_args, model_args, dataset) -> list[Stage]:
    """The runs to do: one stage, or captions then tasks (stage 2 starts from the stage-1 weights)."""
    from hub_tools.training.data import load_rows

    output_dir = training_args.output_dir
    if script_args.stages == "one":
        return [Stage("single-stage", dataset, output_dir, model_args.model_name_or_path)]
    if script_args.stages != "two":
        raise ValueError(f"stages must be 'one' or 'two', not {script_args.stages!r}")
    if script_args.stage1_dataset_name or script_args.stage1_dataset_dir:
        stage1 = load_rows(
            script_args.stage1_dataset_name or script_args.dataset_name,
            script_args.stage1_dataset_config,
            script_args.stage1_dataset_split or script_args.dataset_split,
            script_args.stage1_dataset_dir,
        )
        stage2 = dataset
    else:
        stage1, stage2 = _split_by_kind(dataset)
    if len(stage1) == 0 or len(stage2) == 0:
        raise ValueError(f"two-stage training needs caption and task rows (got {len(stage1)} and {len(stage2)})")
    stage1_dir = os.path.join(output_dir, "stage1")
    use_peft = model_args.use_peft
    return [
        Stage("stage1-captions", stage1, stage1_dir, model_args.model_name_or_path),
        Stage(
            "stage2-tasks",
            stage2,
            output_dir,
            model_args.model_name_or_path if use_peft else stage1_dir,
            adapter_path=stage1_dir if use_peft else None,
        ),
    ]


def training_prompt_style(script_args, training_args, model_args, processor) -> str:
    """How the recipe renders rows: ``llava_llama_3`` or ``chat_template``, decided as ``adamllm evaluate`` decides
    (:func:`hub_tools.synthesis.prompts.prompt_style` on the model type and the tokenizer, under
    ``script_args.prompt_format``), so a model trains in the format it is evaluated in."""
    from transformers import AutoConfig

    from hub_tools.synthesis.prompts import prompt_style

    with loading("model", model_args.model_name_or_path):
        config = AutoConfig.from_pretrained(
            model_args.model_name_or_path,
            revision=model_args.model_revision,
            trust_remote_code=training_args.trust_remote_code,
        )
    style = prompt_style(getattr(config, "model_type", ""), processor, script_args.prompt_format)
    if style == "llava_llama_3" and training_args.chat_template_path:
        raise ValueError(
            "chat_template_path is set but this LLaVA model with a Llama-3 tokenizer trains in the released "
            "llava_llama_3 conversation (prompt_format released); set prompt_format chat to train with the template"
        )
    return style


def recipe_collator(processor, script_args, training_args, prompt_style: str = "chat_template"):
    """The recipe's :class:`~hub_tools.training.collator.VisionSFTCollator` (mask policy, lengths, image cap, style)."""
    from hub_tools.training.collator import VisionSFTCollator, all_turns, assistant_turns

    if script_args.train_on not in ("assistant", "all"):
        raise ValueError(f"train_on must be 'assistant' or 'all', not {script_args.train_on!r}")
    return VisionSFTCollator(
        processor,
        max_length=training_args.max_length,
        mask_policy=assistant_turns if script_args.train_on == "assistant" else all_turns,
        pad_to_multiple_of=training_args.pad_to_multiple_of,
        image_max_side=script_args.image_policy(),
        cache_rows=script_args.cache_rows,
        prompt_style=prompt_style,
    )


def training_setup(script_args, training_args, model_args, prompt_style: str = "chat_template") -> dict[str, str]:
    """What the model card states about how the model was trained (format, vision tower, images, length, optimizer)."""
    if script_args.freeze_vision_tower:
        vision = "frozen"
    elif script_args.vision_tower_lr is not None:
        vision = f"trained at learning rate {script_args.vision_tower_lr:g}"
    else:
        vision = f"trained at the learning rate ({training_args.learning_rate:g})"
    policy = {
        "drop": "longer rows dropped",
        "truncate_text": "longer rows cut in their text, never in image tokens (rows whose images pass it dropped)",
    }.get(script_args.long_example_policy, script_args.long_example_policy)
    max_length = training_args.max_length
    schedule = getattr(training_args.lr_scheduler_type, "value", training_args.lr_scheduler_type)
    return {
        "Conversation": "the released llava_llama_3 conversation (system prompt, Llama-3 headers, two BOS)"
        if prompt_style == "llava_llama_3"
        else "the model's chat template",
        "Fine-tuning": "LoRA" if model_args.use_peft else "full",
        "Vision encoder": vision,
        "Projector": "frozen" if script_args.freeze_multi_modal_projector else "trained",
        "Images": (script_args.image_policy() or ImageSize()).describe(),
        "Max length": f"{max_length} tokens, image tokens counted; {policy} (long_example_policy "
        f"{script_args.long_example_policy})"
        if max_length is not None
        else "none (rows never truncated)",
        "Optimizer": f"learning rate {training_args.learning_rate:g}, {schedule} schedule, warmup "
        f"{training_args.warmup_steps:g}, weight decay {training_args.weight_decay:g}, "
        f"{training_args.num_train_epochs:g} epoch(s)",
    }
