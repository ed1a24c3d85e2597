"""The paper's synthesizer-tuning recipe: seed rows rendered as the synthesizer is prompted, tuned with TRL.

``accelerate launch -m hub_tools.training.synthesizer --config recipes/synthesizer/<model>.yaml``. Seed data:
:mod:`hub_tools.training.seed_data`. :class:`SynthesizerCollator` renders every row exactly as the synthesizer
is prompted at generation time (:mod:`hub_tools.synthesis.prompts`: the released LLaVA-NeXT/Llama-3 prompt, or
the model's own chat template) and continues it with the task turns in the same format. The one thing to know:
as released, everything up to the caption turn's end-of-turn token (system text, image tokens, caption turn) is
masked and every later token is trained (the first task turn's user header and the questions too), and an
end-of-text token that is not the turn end (``<|endoftext|>`` / ``<|end_of_text|>``) closes the row, so the
synthesizer learns to stop.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.defaults import CAPTION_PROMPT
from hub_tools.synthesis.parse import TurnFormat
from hub_tools.training.collator import VisionSFTCollator
from hub_tools.training.data import example_images, normalize_messages
from hub_tools.training.seed_data import (
    BLANK_IMAGE_NAME,
    BLANK_IMAGE_SIZE,
    DEFAULT_BLANK_FRACTION,
    DEFAULT_VALIDATION_FRACTION,
    SeedFormatError,
    SeedSets,
    build_seed_data,
    image_key,
    is_blank_position,
    load_seed_split,
    read_seed_sets,
    seed_messages,
    strip_image_marker,
    write_blank_image,
)


# ---------------------------------------------------------------------------------------------
# rendering rows as the synthesizer sees them
# ---------------------------------------------------------------------------------------------
def end_of_sequence_token(tokenizer, turn_format: TurnFormat) -> str:
    """The token the synthesizer writes after its last turn: an end-of-text token that is not the turn end."""
    from hub_tools.synthesis.engines import END_OF_TEXT_TOKENS

    vocab = tokenizer.get_vocab()
    turn_ends = {turn_format.turn_end, turn_format.user_end.strip()}
    for token in END_OF_TEXT_TOKENS:
        if token in vocab and token not in turn_ends:
            return token
    raise ValueError(
        f"the tokenizer has none of the end-of-text tokens {END_OF_TEXT_TOKENS}; the synthesizer needs one to stop "
        "after its last turn (the turn end token cannot serve, it closes every turn)"
    )


def message_text(message: dict) -> str:
    """The text parts of a normalized message, joined."""
    return "".join(p.get("text", "") for p in message["content"] if p["type"] == "text")


def task_turns(messages: list[dict]) -> tuple[str, str, list[tuple[str, str]]]:
    """``(caption_prompt, caption, [(question, answer), ...])`` of a normalized synthesizer row.

    Raises ``ValueError`` when the row is not a caption turn followed by at least one QA turn.
    """
    roles = [m["role"] for m in messages]
    if len(messages) < 4 or len(messages) % 2 or roles != ["user", "assistant"] * (len(messages) // 2):
        raise ValueError(
            f"a synthesizer row must alternate user/assistant, caption turn first, then at least one task turn; "
            f"got roles {roles}"
        )
    images = [p for p in messages[0]["content"] if p["type"] == "image"]
    if len(images) != 1 or any(p["type"] == "image" for m in messages[1:] for p in m["content"]):
        raise ValueError("a synthesizer row has exactly one image, in the caption turn")
    turns = [(message_text(messages[k]), message_text(messages[k + 1])) for k in range(2, len(messages), 2)]
    return message_text(messages[0]).strip() or CAPTION_PROMPT, message_text(messages[1]), turns


def render_synthesizer_row(
    processor, messages: list[dict], prompt_format: str, turn_format: TurnFormat, end_token: str
) -> tuple[str, str]:
    """``(prompt, text)``: the generation-time prompt of the row and the whole training text.

    ``text`` = ``prompt`` + the task turns in ``turn_format`` + ``end_token``. For the released
    (Llama-3) format the tokenizer's BOS is written out in front, since the collator tokenizes
    without special tokens (the release tokenizes its prompt with them: two BOS). The loss starts
    at :func:`trained_start`, before the prompt's end.
    """
    from hub_tools.synthesis.prompts import prompt_text

    caption_prompt, caption, turns = task_turns(messages)
    prompt = prompt_text(processor, prompt_format, caption, caption_prompt, turn_format)
    if prompt_format == "released":
        tokenizer = getattr(processor, "tokenizer", processor)
        prompt = (tokenizer.bos_token or "") + prompt
    body = turn_format.user_open.join(
        q + turn_format.user_end + turn_format.assistant_open + a + turn_format.assistant_end for q, a in turns
    )
    return prompt, prompt + body + end_token


def trained_start(prompt: str, turn_format: TurnFormat) -> int:
    """Where the synthesizer's loss starts in a row whose prompt is ``prompt``: right after the caption turn's
    end-of-turn token, as released, so the first task turn's user opening (which ends the prompt) is trained."""
    if not prompt.endswith(turn_format.user_open):
        raise ValueError(f"the synthesizer prompt does not end with the user opening {turn_format.user_open!r}")
    return len(prompt[: len(prompt) - len(turn_format.user_open)].rstrip())


@dataclass
class SynthesizerCollator(VisionSFTCollator):
    """:class:`hub_tools.training.collator.VisionSFTCollator` with the synthesizer's text and loss mask.

    Each row is rendered by :func:`render_synthesizer_row`; the trained characters are everything after
    the caption turn's end-of-turn token (:func:`trained_start`: task turn openings, questions, answers,
    turn markers and the final end token). ``image_max_side`` caps the image first. The base
    collator tokenizes, expands image tokens, pads every ``(batch, seq)`` tensor (``mm_token_type_ids``
    included) and never trains image tokens or padding.
    """

    prompt_format: str = "auto"

    def __post_init__(self):
        from hub_tools.synthesis.prompts import pick_prompt_format, turn_format_for

        super().__post_init__()
        if self.prompt_format == "auto":
            self.prompt_format = pick_prompt_format(self.processor)
        if self.prompt_format not in ("released", "chat"):
            raise ValueError(f"prompt_format must be 'auto', 'released' or 'chat', not {self.prompt_format!r}")
        self.turn_format = turn_format_for(self.processor, self.prompt_format)
        self.end_token = end_of_sequence_token(self.processor.tokenizer, self.turn_format)

    def render(self, example: dict):
        """``(messages, images, text, trained character spans)`` of one synthesizer row."""
        messages = normalize_messages(example["messages"])
        images = example_images(example, self.image_max_side)
        if len(images) != 1:
            raise ValueError(f"row {example.get('id')!r}: a synthesizer row has exactly one image, got {len(images)}")
        prompt, text = render_synthesizer_row(
            self.processor, messages, self.prompt_format, self.turn_format, self.end_token
        )
        return messages, images, text, [(trained_start(prompt, self.turn_format), len(text))]


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
@dataclass
class SynthesizerArguments:
    """Script arguments of ``-m hub_tools.training.synthesizer`` (besides ``SFTConfig`` and ``ModelConfig``)."""

    seed_data_dir: str | None = field(
        default=None, metadata={"help": "Folder with train.jsonl / validation.jsonl from build_seed_data."}
    )
    caption_set: str | None = field(
        default=None, metadata={"help": "ALLaVA-Caption-VFLAN-4V.json (builds seed data)."}
    )
    precise_set: str | None = field(default=None, metadata={"help": "Vision-Flan metadata.json (precise answers)."})
    informative_set: str | None = field(default=None, metadata={"help": "ALLaVA-Instruct-VFLAN-4V.json."})
    image_folder: str | None = field(default=None, metadata={"help": "Folder of the seed images (images_191task_1k)."})
    blank_fraction: float = field(default=DEFAULT_BLANK_FRACTION, metadata={"help": "Share of blank images."})
    prompt_format: str = field(default="auto", metadata={"help": "auto | released (Llama-3 headers) | chat"})
    max_pixels: int | None = field(
        default=None, metadata={"help": "Cap on image pixels for Qwen2-VL-style processors (size.longest_edge)."}
    )
    vision_lr_ratio: float | None = field(
        default=None, metadata={"help": "Vision encoder lr = learning_rate * this (the release: 0.1)."}
    )
    image_max_side: int | None = field(
        default=None,
        metadata={"help": "Shrink every image so its longer side is at most this many pixels before the processor."},
    )


def vision_parameter_names(model) -> list[str]:
    """Names of the vision-encoder parameters (projector / merger excluded; see :mod:`hub_tools.training.vision`)."""
    from hub_tools.training.vision import vision_tower_parameters

    return [name for name, _ in vision_tower_parameters(model)]


def _trainer_class(lr_lambda=None, vision_lr_ratio: float | None = None):
    """``SFTTrainer``, or a subclass with a ``LambdaLR(lr_lambda)`` schedule and/or a vision-encoder lr.

    With ``vision_lr_ratio`` the vision encoder trains at that fraction of the learning rate, as the
    released synthesizer did (vision tower 2e-6 against 2e-5; the projector at the full rate).
    """
    from trl import SFTTrainer

    if lr_lambda is None and vision_lr_ratio is None:
        return SFTTrainer

    class SynthesizerTrainer(SFTTrainer):
        def create_optimizer(self, model=None):
            optimizer = super().create_optimizer(model)
            if vision_lr_ratio is not None and not getattr(self, "_vision_groups_split", False):
                from hub_tools.training.vision import split_vision_tower_groups

                split_vision_tower_groups(optimizer, self.model, lambda group: group["lr"] * vision_lr_ratio)
                self._vision_groups_split = True
            return optimizer

        def create_scheduler(self, num_training_steps, optimizer=None):
            if lr_lambda is None:
                return super().create_scheduler(num_training_steps, optimizer)
            from torch.optim.lr_scheduler import LambdaLR

            if self.lr_scheduler is None:
                self.lr_scheduler = LambdaLR(optimizer or self.optimizer, lr_lambda)
            return self.lr_scheduler

    return SynthesizerTrainer


def set_max_pixels(processor, max_pixels: int) -> None:
    """Cap the pixels per image of a Qwen2-VL-style processor (its size's ``longest_edge``, in pixels)."""
    image_processor = getattr(processor, "image_processor", None)
    size = getattr(image_processor, "size", None)
    get = size.get if hasattr(size, "get") else (lambda key: None)
    if get("longest_edge") is None or get("shortest_edge") is None:
        raise ValueError(
            f"max_pixels is for Qwen2-VL-style processors (size with shortest_edge/longest_edge pixels); "
            f"{type(image_processor).__name__} has size={size!r}"
        )
    if max_pixels < get("shortest_edge"):
        raise ValueError(f"max_pixels {max_pixels} is below the processor's min_pixels {get('shortest_edge')}")
    if isinstance(size, dict):
        size["longest_edge"] = max_pixels
    else:  # transformers' SizeDict
        size.longest_edge = max_pixels


def sft_config(output_dir: str | os.PathLike, **config: Any):
    """The ``SFTConfig`` :func:`train` uses when given no ``args``: local defaults overridden by ``config``."""
    from trl import SFTConfig

    defaults = {
        "output_dir": str(output_dir),
        "report_to": "none",
        "save_strategy": "no",
        "activation_checkpointing": False,
        "dataloader_num_workers": 0,
    }
    return SFTConfig(**{**defaults, **config})


def train(
    model_name_or_path: str | os.PathLike,
    seed_data_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    args=None,
    prompt_format: str = "auto",
    model_kwargs: dict | None = None,
    max_pixels: int | None = None,
    callbacks: list | None = None,
    vision_lr_ratio: float | None = None,
    lr_lambda=None,
    progress_callback=None,
    summary: dict | None = None,
    cache_rows: bool = False,
    image_max_side: int | None = None,
    **config: Any,
) -> Path:
    """Tune the synthesizer ``model_name_or_path`` on the seed rows in ``seed_data_dir``; returns ``output_dir``.

    ``args`` is an ``SFTConfig`` (or ``config`` holds its fields, :func:`sft_config`). ``max_pixels`` caps image
    size for Qwen2-VL-style processors (:func:`set_max_pixels`); ``vision_lr_ratio`` scales the vision encoder's
    learning rate (:func:`_trainer_class`). Hooks for other schedules: ``callbacks`` are extra trainer
    callbacks (one with a ``stopped_early`` flag reports it as ``stopped_by_time_budget``; one with a
    ``history`` of ``(step, threads)`` as ``thread_choices``), ``lr_lambda(step)`` replaces the configured
    schedule by a ``LambdaLR`` multiplier, and ``progress_callback`` replaces the trainer's step progress bar.
    ``cache_rows`` collates each seed row once (small seed sets trained for many epochs). ``image_max_side`` caps
    the longer image side before the processor (:func:`hub_tools.training.data.cap_image_side`).
    Saves the model, processor, ``synthesizer.json`` (prompt format, end token, losses, steps, plus the
    entries of ``summary``) to ``output_dir``.
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    output_dir = Path(output_dir)
    if args is None:
        args = sft_config(output_dir, **config)
    elif config:
        raise TypeError("pass either args (an SFTConfig) or SFTConfig fields as keywords, not both")
    args.remove_unused_columns = False
    args.dataset_kwargs = {**(args.dataset_kwargs or {}), "skip_prepare_dataset": True}
    processor = AutoProcessor.from_pretrained(str(model_name_or_path))
    if max_pixels is not None:
        set_max_pixels(processor, max_pixels)
    kwargs = dict(model_kwargs or {})
    if args.bf16 and "dtype" not in kwargs:
        kwargs["dtype"] = torch.bfloat16
    model = AutoModelForImageTextToText.from_pretrained(str(model_name_or_path), **kwargs)
    collator = SynthesizerCollator(
        processor,
        max_length=args.max_length,
        prompt_format=prompt_format,
        cache_rows=cache_rows,
        image_max_side=image_max_side,
    )
    train_rows = load_seed_split(seed_data_dir, "train")
    eval_rows = load_seed_split(seed_data_dir, "validation")
    callbacks = list(callbacks or [])
    trainer = _trainer_class(lr_lambda, vision_lr_ratio)(
        model=model,
        args=args,
        train_dataset=train_rows,
        eval_dataset=eval_rows,
        processing_class=processor,
        data_collator=collator,
        callbacks=callbacks or None,
    )
    if progress_callback is not None:  # in place of the trainer's bar and its printed log dicts
        from hub_tools.training.callbacks import use_progress_callback

        use_progress_callback(trainer, progress_callback)
    started = time.monotonic()
    result = trainer.train()
    seconds = time.monotonic() - started
    eval_loss = trainer.evaluate()["eval_loss"] if eval_rows is not None else None
    trainer.save_model(str(output_dir))
    processor.save_pretrained(str(output_dir))
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    summary = {
        **(summary or {}),
        "base_model": str(model_name_or_path),
        "seed_data": str(seed_data_dir),
        "prompt_format": collator.prompt_format,
        "turn_format": collator.turn_format.__dict__,
        "end_of_sequence_token": collator.end_token,
        "steps": trainer.state.global_step,
        "max_steps": args.max_steps,
        "train_rows": len(train_rows),
        "validation_rows": len(eval_rows) if eval_rows is not None else 0,
        "train_loss": result.training_loss,
        "logged_losses": losses,
        "eval_loss": eval_loss,
        "seconds": round(seconds, 1),
        "stopped_by_time_budget": any(getattr(cb, "stopped_early", False) for cb in callbacks),
        "vision_lr_ratio": vision_lr_ratio,
        "image_max_side": image_max_side,
        "thread_choices": [list(h) for cb in callbacks for h in getattr(cb, "history", [])],
    }
    (output_dir / "synthesizer.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return output_dir


# ---------------------------------------------------------------------------------------------
# command line: accelerate launch -m hub_tools.training.synthesizer --config recipes/synthesizer/....yaml
# ---------------------------------------------------------------------------------------------
def seed_data_from_arguments(
    script: SynthesizerArguments, output_dir: str, seed: int, blank_size: int | tuple[int, int] = BLANK_IMAGE_SIZE
) -> str:
    """The seed data folder of a run: ``seed_data_dir``, or built from the three sets into ``OUTPUT_DIR/seed_data``."""
    seed_dir = script.seed_data_dir
    if script.caption_set or script.precise_set or script.informative_set:
        if not (script.caption_set and script.precise_set and script.informative_set):
            raise SystemExit("building seed data needs caption_set, precise_set and informative_set")
        seed_dir = seed_dir or str(Path(output_dir) / "seed_data")
        stats = build_seed_data(
            script.caption_set,
            script.precise_set,
            script.informative_set,
            seed_dir,
            seed=seed,
            image_folder=script.image_folder,
            blank_fraction=script.blank_fraction,
            blank_size=blank_size,
        )
        print(json.dumps({k: stats[k] for k in ("joined", "blank", "train", "validation", "dropped")}, indent=1))
    if not seed_dir:
        raise SystemExit("set seed_data_dir, or caption_set + precise_set + informative_set to build it")
    return seed_dir


def model_kwargs_from(model_args) -> dict:
    """``from_pretrained`` keywords from TRL's ``ModelConfig`` (``dtype``, ``attn_implementation``)."""
    model_kwargs = {}
    if model_args.dtype not in (None, "auto"):
        import torch

        model_kwargs["dtype"] = getattr(torch, model_args.dtype)
    if model_args.attn_implementation:
        model_kwargs["attn_implementation"] = model_args.attn_implementation
    return model_kwargs


def main(argv: list[str] | None = None) -> int:
    """Parse ``SynthesizerArguments`` + ``SFTConfig`` + ``ModelConfig`` (``--config`` YAML) and train."""
    from trl import ModelConfig, SFTConfig, TrlParser

    parser = TrlParser((SynthesizerArguments, SFTConfig, ModelConfig))
    script, args, model_args = parser.parse_args_and_config(args=argv)
    if not model_args.model_name_or_path:
        raise SystemExit("set model_name_or_path (the synthesizer to tune)")
    seed_dir = seed_data_from_arguments(script, args.output_dir, args.seed)
    out = train(
        model_args.model_name_or_path,
        seed_dir,
        args.output_dir,
        args=args,
        prompt_format=script.prompt_format,
        model_kwargs=model_kwargs_from(model_args),
        max_pixels=script.max_pixels,
        vision_lr_ratio=script.vision_lr_ratio,
        image_max_side=script.image_max_side,
    )
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "BLANK_IMAGE_NAME",
    "BLANK_IMAGE_SIZE",
    "DEFAULT_BLANK_FRACTION",
    "DEFAULT_VALIDATION_FRACTION",
    "SeedFormatError",
    "SeedSets",
    "SynthesizerArguments",
    "SynthesizerCollator",
    "build_seed_data",
    "end_of_sequence_token",
    "image_key",
    "is_blank_position",
    "load_seed_split",
    "message_text",
    "model_kwargs_from",
    "read_seed_sets",
    "render_synthesizer_row",
    "seed_data_from_arguments",
    "seed_messages",
    "set_max_pixels",
    "sft_config",
    "strip_image_marker",
    "task_turns",
    "trained_start",
    "train",
    "vision_parameter_names",
    "write_blank_image",
]
