"""Supervised post-training of a multimodal LLM on composed domain tasks (TRL SFT, open-r1 style).

Single-stage (the paper's pipeline, default): one run on the composed mix of caption and synthetic task
turns. ``--stages two`` (the baseline): stage 1 on the captions, stage 2 on the tasks, starting from the
stage-1 weights. Loss on assistant turns only; image tokens are never trained or truncated.

``main`` reads top to bottom: setup, processor, data and stages, training (:func:`run_stages`), card and push.
Arguments: :mod:`hub_tools.training.arguments`; rows, stages and setup: :mod:`hub_tools.training.stages`;
callbacks: :mod:`hub_tools.training.callbacks`; labels: :mod:`hub_tools.training.collator`. The DeepSpeed configs
need ``pip install -e ".[gpu]"``.

Usage (any ``AutoModelForImageTextToText`` model; recipes under ``recipes/``):

    # 8 GPUs, DeepSpeed ZeRO-3, the paper's recipe for Qwen2-VL-2B on biomedicine
    accelerate launch --config_file recipes/accelerate_configs/zero3.yaml -m hub_tools.sft \\
        --config recipes/qwen2-vl-2b/sft/config_biomed.yaml

    # same through the CLI (also works under `accelerate launch -m hub_tools.cli train ...`)
    adamllm train --config recipes/qwen2-vl-2b/sft/config_food.yaml --output_dir runs/qwen2-vl-2b-food

    # CPU, offline, tiny model (see recipes/README.md for building the tiny model and data)
    accelerate launch --num_processes 1 --cpu -m hub_tools.sft --config recipes/tiny/sft/config.yaml

    # two CPU processes
    accelerate launch --multi_gpu --num_processes 2 -m hub_tools.sft --config recipes/tiny/sft/config.yaml  # use_cpu: true in the YAML

    # two-stage baseline, LoRA, frozen vision tower, resume from the last checkpoint, push with a card
    ... --stages two --use_peft --lora_target_modules all-linear --freeze_vision_tower \\
        --resume_from_checkpoint last --push_to_hub --hub_model_id you/qwen2-vl-2b-biomed
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
from pathlib import Path

from hub_tools.errors import loading
from hub_tools.training.arguments import parse_args
from hub_tools.training.stages import (  # noqa: F401  (re-exported: the recipe's data and setup live there)
    Stage,
    _load_main_rows,
    _split_by_kind,
    build_stages,
    recipe_collator,
    training_prompt_style,
    training_setup,
)
from hub_tools.training.vision import (
    freeze_multi_modal_projector,
    freeze_vision_tower,
    split_vision_tower_groups,
)

logger = logging.getLogger(__name__)

STAGE_MARKER = "adamllm_stage.json"


GPU_EXTRA_FIX = 'pip install -e ".[gpu]"'
"""The install that brings DeepSpeed (the ZeRO configs ``recipes/accelerate_configs/zero*.yaml`` need it)."""


def check_deepspeed(training_args, environ=None) -> None:
    """Raise :class:`~hub_tools.errors.UsageError` (one line naming :data:`GPU_EXTRA_FIX`) when the run asks for
    DeepSpeed (a ``deepspeed`` recipe key, or ``accelerate launch`` with a ZeRO config) and it is not installed."""
    import importlib.util

    environ = os.environ if environ is None else environ
    wanted = bool(getattr(training_args, "deepspeed", None)) or environ.get(
        "ACCELERATE_USE_DEEPSPEED", ""
    ).strip().lower() in ("1", "true", "yes")
    if wanted and importlib.util.find_spec("deepspeed") is None:
        from hub_tools.errors import UsageError

        raise UsageError(f"this run uses DeepSpeed (ZeRO), which is not installed: {GPU_EXTRA_FIX}")


# ---------------------------------------------------------------------------------------------
# the model and the trainer (the rows and stages: hub_tools.training.stages)
# ---------------------------------------------------------------------------------------------
def trainer_class(vision_tower_lr: float | None = None):
    """TRL's ``SFTTrainer``, or a subclass whose optimizer trains the vision encoder at ``vision_tower_lr``.

    The LLaVA codebase's ``mm_vision_tower_lr``: the vision-encoder parameters get their own optimizer groups
    (one per weight-decay group) at that learning rate; the projector and the language model keep
    ``learning_rate``. The schedule (warmup, cosine) scales every group alike.
    """
    import trl

    if vision_tower_lr is None:
        return trl.SFTTrainer

    class VisionTowerLRTrainer(trl.SFTTrainer):
        def create_optimizer(self, model=None):
            optimizer = super().create_optimizer(model)
            if not getattr(self, "_vision_tower_groups", False):
                split_vision_tower_groups(optimizer, self.model, lambda group: vision_tower_lr)
                self._vision_tower_groups = True
            return optimizer

    return VisionTowerLRTrainer


def optimizer_groups(optimizer) -> list[dict]:
    """``[{lr, weight_decay, parameters}]`` per optimizer group (``lr``: the pre-schedule rate) for the record."""
    return [
        {
            "lr": group.get("initial_lr", group["lr"]),
            "weight_decay": group.get("weight_decay"),
            "parameters": sum(p.numel() for p in group["params"]),
        }
        for group in optimizer.param_groups
    ]


def load_model(path: str, model_args, training_args, script_args, adapter_path: str | None = None):
    """Load an ``AutoModelForImageTextToText`` (optionally quantized / with a trainable adapter)."""
    import torch
    import trl
    from transformers import AutoModelForImageTextToText

    dtype = model_args.dtype
    if dtype not in (None, "auto"):
        dtype = getattr(torch, dtype)
    quantization_config = trl.get_quantization_config(model_args)
    kwargs = {
        "revision": model_args.model_revision if path == model_args.model_name_or_path else None,
        "trust_remote_code": training_args.trust_remote_code,
        "attn_implementation": model_args.attn_implementation,
        "dtype": dtype if dtype is not None else "auto",
    }
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
        kwargs["device_map"] = trl.get_kbit_device_map()
    model = AutoModelForImageTextToText.from_pretrained(path, **{k: v for k, v in kwargs.items() if v is not None})
    if training_args.gradient_checkpointing:
        model.config.use_cache = False
    if adapter_path:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_path, is_trainable=True)
    if script_args.freeze_vision_tower:
        logger.info("froze %d vision-tower parameters", freeze_vision_tower(model))
    if getattr(script_args, "freeze_multi_modal_projector", False):
        logger.info("froze %d projector parameters", freeze_multi_modal_projector(model))
    return model


def _trainable_parameters(model) -> tuple[int, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


def resolve_checkpoint(value: str | None, output_dir: str) -> str | None:
    """``resume_from_checkpoint``: a path, or ``last``/``true``/``auto`` for the newest one in ``output_dir``."""
    if value is None or str(value).lower() in ("", "none", "false"):
        return None
    if str(value).lower() in ("last", "true", "auto"):
        from transformers.trainer_utils import get_last_checkpoint

        found = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
        if found is None:
            logger.info("resume_from_checkpoint=%s: no checkpoint in %s, starting fresh", value, output_dir)
        return found
    if not os.path.isdir(value):
        raise FileNotFoundError(f"resume_from_checkpoint: no checkpoint folder {value}")
    return value


def _loss_bounds(log_history: list[dict]) -> tuple[float | None, float | None]:
    losses = [entry["loss"] for entry in log_history if "loss" in entry]
    return (losses[0], losses[-1]) if losses else (None, None)


def save_json(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` as indented JSON (stage markers and the run summary), secrets masked."""
    from hub_tools.redaction import redact_secrets

    Path(path).write_text(json.dumps(redact_secrets(payload), indent=2, default=str) + "\n")


HUB_TOKEN_FIELDS = ("hub_token", "push_to_hub_token")


def pop_hub_token(training_args) -> str | None:
    """Return the recipe's Hub token and clear it from ``training_args`` (``hub_token``, ``push_to_hub_token``).

    The Trainer pickles its arguments into ``training_args.bin`` (top level and every checkpoint); a cleared
    field keeps the token out of them. The token is only handed to ``HfApi(token=...)`` for the upload.
    """
    token = None
    for name in HUB_TOKEN_FIELDS:
        if hasattr(training_args, name):
            token = token or getattr(training_args, name)
            setattr(training_args, name, None)
    return token


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
def train_stage(
    stage: Stage, script_args, training_args, model_args, processor, collator, peft_config, callbacks, progress=None
):
    """Train one stage from its starting weights and save it to ``stage.output_dir``; return its record.

    ``progress``: a callback shown in place of the trainer's bar and printed log dicts (the metrics then go to
    the log, not stdout).
    """
    stage_args = copy.deepcopy(training_args)
    stage_args.output_dir = stage.output_dir
    pop_hub_token(stage_args)  # never pickled into training_args.bin
    model = load_model(stage.model_path, model_args, training_args, script_args, stage.adapter_path)
    trainable, total = _trainable_parameters(model)
    logger.info("stage %s: %d rows, %d/%d trainable parameters", stage.name, len(stage.dataset), trainable, total)
    trainer = trainer_class(getattr(script_args, "vision_tower_lr", None))(
        model=model,
        args=stage_args,
        train_dataset=stage.dataset,
        processing_class=processor,
        data_collator=collator,
        peft_config=peft_config if stage.adapter_path is None else None,
        callbacks=callbacks or None,
    )
    if progress is not None:
        from hub_tools.training.callbacks import use_progress_callback

        use_progress_callback(trainer, progress)
    checkpoint = resolve_checkpoint(training_args.resume_from_checkpoint, stage.output_dir)
    train_result = trainer.train(resume_from_checkpoint=checkpoint)
    metrics = dict(train_result.metrics)
    metrics["train_rows"] = len(stage.dataset)
    if progress is None:
        trainer.log_metrics("train", metrics)
    else:
        logger.info("stage %s train metrics: %s", stage.name, metrics)
    trainer.save_metrics("train", metrics)
    trainer.save_state()
    trainer.save_model(stage.output_dir)
    loss_first, loss_last = _loss_bounds(trainer.state.log_history)
    record = {
        "name": stage.name,
        "rows": len(stage.dataset),
        "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float))},
        "long_examples": stage.long_examples,
        "loss_first": loss_first,
        "loss_last": loss_last,
        "trainable_parameters": trainable,
        "optimizer_groups": optimizer_groups(trainer.optimizer) if trainer.optimizer is not None else [],
        "output_dir": stage.output_dir,
        "init_from": stage.adapter_path or stage.model_path,
        "resumed_from": checkpoint,
    }
    if trainer.is_world_process_zero():
        processor.save_pretrained(stage.output_dir)
        save_json(Path(stage.output_dir) / STAGE_MARKER, record)
    trainer.accelerator.wait_for_everyone()
    del trainer, model
    return record


def run_stages(
    stages: list[Stage],
    script_args,
    training_args,
    model_args,
    processor,
    collator,
    *,
    api,
    repo_id,
    push,
    progress=None,
):
    """Train the stages in order; a finished stage before the last is skipped (its marker is its record).

    Checkpoints of the last stage are pushed as they are saved when ``push`` and ``hub_strategy`` ask for it.
    """
    import trl

    from hub_tools.training.callbacks import HubCheckpointCallback

    peft_config = trl.get_peft_config(model_args)
    records = []
    for index, stage in enumerate(stages):
        marker = Path(stage.output_dir) / STAGE_MARKER
        last = index == len(stages) - 1
        if not last and marker.is_file():
            logger.info("stage %s already finished in %s; skipping", stage.name, stage.output_dir)
            records.append(json.loads(marker.read_text()))
            continue
        callbacks = []
        if push and last and training_args.hub_strategy not in ("end", "END"):
            strategy = getattr(training_args.hub_strategy, "value", training_args.hub_strategy)
            callbacks.append(HubCheckpointCallback(api, repo_id, strategy, training_args.hub_private_repo))
        records.append(
            train_stage(
                stage, script_args, training_args, model_args, processor, collator, peft_config, callbacks, progress
            )
        )
    return records


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------
def main(script_args, training_args, model_args, hf_api=None, progress=None) -> dict:
    """Run the recipe; return a summary (stages, metrics, output folder, pushed URL).

    ``progress``: a trainer callback shown in place of the trainer's bar and printed log dicts
    (:class:`hub_tools.training.callbacks.StepProgress` in the quickstart).
    """
    import datasets
    import transformers
    from transformers import AutoProcessor, set_seed

    from hub_tools.publish.cards import build_model_card, is_hub_id, write_model_card
    from hub_tools.publish.hub import push_folder
    from hub_tools.redaction import redact_text, strip_credentials
    from hub_tools.training.collator import LENGTH_GROUPED_STRATEGIES, add_length_column, filter_long_examples

    ################
    # Setup (the Hub token leaves the arguments first: only the upload's HfApi gets it)
    ################
    check_deepspeed(training_args)
    hub_token = pop_hub_token(training_args)
    set_seed(training_args.seed)
    logging.basicConfig(
        format="%(asctime)s - %(levelname)s - %(name)s - %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        handlers=[logging.StreamHandler(sys.stdout)],
    )
    log_level = training_args.get_process_log_level()
    logger.setLevel(log_level)
    datasets.utils.logging.set_verbosity(log_level)
    transformers.utils.logging.set_verbosity(log_level)
    logger.info("Script parameters %s", redact_text(repr(script_args)))
    logger.info("Model parameters %s", redact_text(repr(model_args)))
    if not model_args.model_name_or_path:
        raise ValueError("model_name_or_path is required")

    push = bool(training_args.push_to_hub)
    repo_id = training_args.hub_model_id or Path(training_args.output_dir).name
    training_args.push_to_hub = False  # published here, with our card (see push_folder)
    # Masking is done by VisionSFTCollator for any chat template; TRL's own flag needs {% generation %} markers.
    training_args.assistant_only_loss = False
    if script_args.vision_tower_lr is not None and script_args.freeze_vision_tower:
        raise ValueError("vision_tower_lr trains the vision tower at its own rate; it cannot be frozen as well")

    ################
    # Load the processor
    ################
    with loading("processor", model_args.model_name_or_path):  # one line naming the id (credentials stripped)
        processor = AutoProcessor.from_pretrained(
            model_args.model_name_or_path,
            revision=model_args.model_revision,
            trust_remote_code=training_args.trust_remote_code,
        )
    if training_args.chat_template_path:
        processor.chat_template = Path(training_args.chat_template_path).read_text()
    if processor.tokenizer.pad_token is None:
        processor.tokenizer.pad_token = processor.tokenizer.eos_token
    style = training_prompt_style(script_args, training_args, model_args, processor)
    collator = recipe_collator(processor, script_args, training_args, style)  # checks train_on before loading data
    logger.info("rows rendered as: %s", style)

    ################
    # Load data and build the stages (long examples dropped or marked per stage)
    ################
    with training_args.main_process_first(desc="loading rows"):
        dataset = _load_main_rows(script_args)
        stages = build_stages(script_args, training_args, model_args, dataset)
        for stage in stages:
            stage.dataset, report = filter_long_examples(
                stage.dataset,
                processor,
                training_args.max_length,
                script_args.long_example_policy,
                num_proc=training_args.dataset_num_proc,
                image_max_side=script_args.image_policy(),
                prompt_style=style,
            )
            stage.long_examples = report.as_dict()
            if len(stage.dataset) == 0:
                raise ValueError(f"stage {stage.name}: no rows left to train on ({stage.long_examples})")
            if training_args.train_sampling_strategy in LENGTH_GROUPED_STRATEGIES:  # batches of similar length
                # The sampler reads the length column; TRL's vision signature columns would drop it.
                training_args.remove_unused_columns = False
                stage.dataset = add_length_column(
                    stage.dataset,
                    processor,
                    training_args.length_column_name,
                    num_proc=training_args.dataset_num_proc,
                    image_max_side=script_args.image_policy(),
                    prompt_style=style,
                )

    api = hf_api
    if push and api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=hub_token)

    ################
    # Train, stage by stage (each stage loads its model from the weights it starts from)
    ################
    summary = {"output_dir": training_args.output_dir, "stages": []}
    summary["stages"] = run_stages(
        stages,
        script_args,
        training_args,
        model_args,
        processor,
        collator,
        api=api,
        repo_id=repo_id,
        push=push,
        progress=progress,
    )

    ################
    # Save the model card and push
    ################
    datasets_used = [
        d
        for d in (script_args.dataset_name, script_args.stage1_dataset_name)
        if d and (is_hub_id(d) or os.path.isdir(d))
    ] or [script_args.dataset_dir]
    card = build_model_card(
        base_model=script_args.base_model_id or model_args.model_name_or_path,
        domain=script_args.domain,
        datasets=[d for d in datasets_used if d],
        recipe_name=script_args.recipe,
        recipe_text=getattr(script_args, "recipe_text", None),
        stages=summary["stages"],
        model_id=repo_id if push else None,
        model_name=repo_id.rstrip("/").split("/")[-1],  # as TRL names it: hub_model_id's name or output_dir's
        extra_tags=["lora"] if model_args.use_peft else None,
        setup=training_setup(script_args, training_args, model_args, style),
    )
    is_main = int(os.environ.get("RANK", "0")) == 0
    if is_main:
        write_model_card(training_args.output_dir, card)
        save_json(Path(training_args.output_dir) / "adamllm_summary.json", summary)
        if push:
            summary["url"] = push_folder(
                training_args.output_dir,
                repo_id,
                repo_type="model",
                private=training_args.hub_private_repo,
                commit_message="adamllm-hub: post-trained model",
                api=api,
            )
            logger.info("pushed to %s", strip_credentials(summary["url"]))
    return summary


if __name__ == "__main__":
    from hub_tools.redaction import install

    install()  # no secret of the recipe in a log line, warning or traceback
    main(*parse_args())
