"""The SFT recipe's arguments: ``ScriptArguments`` (data, stages, publishing), ``SFTConfig`` and :func:`parse_args`.

A recipe YAML (``recipes/<model>/sft/*.yaml``) holds all three groups: TRL's ``ModelConfig``, our
``ScriptArguments`` and ``SFTConfig``; command-line flags override it.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import trl

from hub_tools.errors import UsageError
from hub_tools.redaction import redact_text


@dataclass
class ScriptArguments:
    """Data, pipeline and publishing arguments of the SFT recipe (the model and trainer ones are TRL's)."""

    _argument_group_name = "data, stages and publishing (ours)"

    dataset_name: str | None = field(
        default=None, metadata={"help": "Hub dataset id or local dataset folder (e.g. one built by build-dataset)."}
    )
    dataset_config: str | None = field(
        default=None, metadata={"help": "Dataset config, e.g. image_caption_and_synthetic_task."}
    )
    dataset_split: str = field(default="train", metadata={"help": "Split to train on."})
    dataset_dir: str | None = field(
        default=None,
        metadata={
            "help": "Local rows instead of dataset_name: a JSONL file (image paths relative to it or its parent) "
            "or a RUN_DIR (reads compose/<dataset_split>.jsonl)."
        },
    )
    domain: str = field(default="custom", metadata={"help": "Domain name recorded in the model card."})
    stages: str = field(
        default="one",
        metadata={
            "help": "one: single-stage on the composed mix; two: captions, then tasks.",
            "choices": ["one", "two"],
        },
    )
    stage1_dataset_name: str | None = field(
        default=None, metadata={"help": "Two-stage: stage-1 (caption) dataset; default: split the main one by kind."}
    )
    stage1_dataset_config: str | None = field(default=None, metadata={"help": "Two-stage: stage-1 dataset config."})
    stage1_dataset_split: str | None = field(default=None, metadata={"help": "Two-stage: stage-1 split."})
    stage1_dataset_dir: str | None = field(default=None, metadata={"help": "Two-stage: stage-1 local rows."})
    freeze_vision_tower: bool = field(
        default=False,
        metadata={
            "help": "Freeze the vision encoder (Qwen2-VL `visual` minus its merger, `vision_tower`, `vision_model`); "
            "the projector stays trainable unless freeze_multi_modal_projector is set."
        },
    )
    freeze_multi_modal_projector: bool = field(
        default=False,
        metadata={
            "help": "Freeze the projector too (Qwen2-VL's `visual.merger`, `multi_modal_projector` elsewhere). "
            "LLaMA-Factory's freeze_vision_tower of late 2024 froze Qwen2-VL's whole `visual`, merger included."
        },
    )
    vision_tower_lr: float | None = field(
        default=None,
        metadata={
            "help": "Learning rate of the vision encoder (its own optimizer group; same schedule); None: "
            "learning_rate. The LLaVA codebase's mm_vision_tower_lr (the release: 2e-6 against 2e-5)."
        },
    )
    image_max_side: int | None = field(
        default=None,
        metadata={
            "help": "Shrink every image so its longer side is at most this many pixels (aspect kept, nearest "
            "resampling) before the processor; None: no cap. LLaMA-Factory v0.9.0's image_resolution. "
            "Not with image_max_pixels / image_min_pixels."
        },
    )
    image_max_pixels: int | None = field(
        default=None,
        metadata={
            "help": "Shrink every image with more pixels (w*h) than this by sqrt(cap/(w*h)), sizes floored, nearest "
            "resampling, before the processor (LLaMA-Factory v0.9.1's image_resolution: 262144 = 512*512 for the "
            "released students); None: no cap. The same setting as evaluation's and synthesis' (one contract)."
        },
    )
    image_min_pixels: int | None = field(
        default=None,
        metadata={
            "help": "Enlarge every image with fewer pixels than this the same way (LLaMA-Factory's "
            "image_min_pixels); None: no floor."
        },
    )
    long_example_policy: str = field(
        default="drop",
        metadata={
            "help": "With max_length set: drop longer rows (counted and logged), or truncate_text (cut text only; "
            "rows whose image tokens pass max_length are dropped).",
            "choices": ["drop", "truncate_text"],
        },
    )
    prompt_format: str = field(
        default="released",
        metadata={
            "help": "released: LLaVA models with a Llama-3 tokenizer train in the released llava_llama_3 "
            "conversation (system prompt, Llama-3 headers, two BOS), the prompt `adamllm evaluate` gives them; other "
            "models their chat template. chat: every model its chat template (evaluate with --prompt-format chat).",
            "choices": ["released", "chat"],
        },
    )
    train_on: str = field(
        default="assistant",
        metadata={
            "help": "assistant: loss on assistant turns only; all: every text token.",
            "choices": ["assistant", "all"],
        },
    )
    cache_rows: bool = field(
        default=False,
        metadata={
            "help": "Collate each row once and keep its tensors (small datasets over many epochs; memory grows)."
        },
    )
    max_train_samples: int | None = field(default=None, metadata={"help": "Use only the first N rows (quick runs)."})
    recipe: str | None = field(
        default=None, metadata={"help": "Recipe name for the card (default: the --config path)."}
    )
    base_model_id: str | None = field(
        default=None,
        metadata={"help": "Hub id recorded as base_model in the card when model_name_or_path is a local folder."},
    )

    def image_policy(self):
        """The recipe's image-size policy (:class:`hub_tools.data.image_size.ImageSize`), or ``None`` when uncapped.

        Raises ``ValueError`` when ``image_max_side`` is combined with ``image_max_pixels`` / ``image_min_pixels``.
        """
        from hub_tools.data.image_size import image_size

        return image_size(self.image_max_pixels, self.image_min_pixels, self.image_max_side)


@dataclass
class SFTConfig(trl.SFTConfig):
    """TRL's ``SFTConfig`` with ``max_length=None`` by default: vision rows are never truncated implicitly.

    Checkpointing is ``activation_checkpointing`` (transformers 5's name; on by default, as TRL's
    ``gradient_checkpointing``). The old key still works, with transformers' deprecation warning; unset, no warning.
    """

    _argument_group_name = "training (TRL's SFTConfig, with transformers' TrainingArguments)"

    max_length: int | None = field(
        default=None,
        metadata={"help": "Maximum tokens per row (image tokens counted); None keeps every row whole."},
    )
    gradient_checkpointing: bool | None = field(
        default=None, metadata={"help": "Deprecated alias of activation_checkpointing (transformers 5)."}
    )

    def __post_init__(self):
        if self.activation_checkpointing is None and self.gradient_checkpointing is None:
            self.activation_checkpointing = True  # TRL's default, under the current name
        super().__post_init__()


class ModelConfig(trl.ModelConfig):
    """TRL's ``ModelConfig``, shown as its own group in ``--help``."""

    _argument_group_name = "model (TRL's ModelConfig)"


RECIPE_HELP = (
    "Post-train a multimodal LLM with the TRL SFT recipe. Every option is a key of the recipe YAML (--config); "
    "given on the command line (before or after --config) it overrides the recipe. Options come in three groups: "
    "data, stages and publishing; training; model."
)


class RecipeError(UsageError):
    """A recipe that cannot be used (unknown key, broken YAML): one line naming the file, the line or the key."""


class RecipeParser(trl.TrlParser):
    """TRL's parser, in our words: a usage error is one redacted line (no usage dump), a bad value read from the
    recipe names the recipe, and an unknown recipe key is a :class:`RecipeError` naming the closest valid key."""

    recipe: str | None = None
    recipe_keys: frozenset = frozenset()

    def error(self, message: str):
        """Print ``PROG: error: MESSAGE`` (redacted; a recipe value's error names the recipe) and exit 2."""
        flag = re.match(r"argument --([\w-]+)", message)
        if self.recipe and flag and flag.group(1).replace("-", "_") in self.recipe_keys:
            message += f" (from {self.recipe})"
        self.exit(2, f"{self.prog}: error: {redact_text(message)}\n")

    def valid_keys(self) -> list[str]:
        """Every key a recipe may hold (the dataclass fields), plus TRL's ``env``."""
        return sorted({a.dest for a in self._actions if a.dest != "help"} | {"env"})

    def set_defaults_with_config(self, **kwargs) -> list[str]:
        """Refuse an unknown key in one line (naming the file and the closest valid key), then TRL's defaults."""
        valid = self.valid_keys()
        for key in kwargs:
            if key not in valid:
                near = difflib.get_close_matches(str(key), valid, n=1)
                hint = f"; did you mean {near[0]!r}?" if near else " (`python -m hub_tools.sft --help` lists the keys)"
                raise RecipeError(f"{self.recipe}: unknown key {key!r}{hint}")
        self.recipe_keys = frozenset(kwargs)
        return super().set_defaults_with_config(**kwargs)


def load_recipe(path: str) -> dict:
    """The recipe YAML as a mapping; :class:`RecipeError` naming the file and the line for broken YAML."""
    import yaml

    text = Path(path).read_text(encoding="utf-8")
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise RecipeError(f"{path}{where}: not valid YAML ({problem})") from None
    if not isinstance(config, dict):
        raise RecipeError(f"{path}: a recipe is a YAML mapping of keys to values, not {type(config).__name__}")
    return config


def parse_args(argv: list[str] | None = None, prog: str = "python -m hub_tools.sft"):
    """Parse ``--config YAML`` plus overrides (before or after it) into ``(ScriptArguments, SFTConfig,
    ModelConfig)``; ``prog`` names the command in errors and ``--help``.

    The config path and text are kept for the model card (``script_args.recipe``, ``recipe_text``).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    config_path = argv[argv.index("--config") + 1] if "--config" in argv else None
    parser = RecipeParser((ScriptArguments, SFTConfig, ModelConfig), prog=prog, description=RECIPE_HELP)
    if config_path:
        load_recipe(config_path)  # broken YAML: file and line, before TRL reads it
        parser.recipe = config_path
    script_args, training_args, model_args = parser.parse_args_and_config(argv)
    if config_path and script_args.recipe is None:
        script_args.recipe = config_path
    script_args.recipe_text = Path(config_path).read_text() if config_path else None
    return script_args, training_args, model_args
