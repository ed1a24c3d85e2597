"""Tune a visual instruction synthesizer on seed data (the paper's synthesizer recipe), and measure it.

**Seed data** (:func:`build_seed_data`). Three sets are joined by image file name:

- a caption set in the ALLaVA-Caption-VFLAN-4V layout (JSON list of ``{"id", "image", "conversations":
  [{"from": "human", "value": "<image>\\n..."}, {"from": "gpt", "value": caption}]}``);
- a precise-answer set in Vision-Flan's ``metadata.json`` layout (``{"id", "task_name", "image",
  "conversations": [human instruction with <image>, gpt target]}``);
- an informative-answer set in the ALLaVA-Instruct-VFLAN-4V layout (same as the caption set, with
  the Vision-Flan instruction and a long answer).

Only images present in all three are kept (the others are counted, per reason, in
``seed_stats.json``). Each kept image becomes one conversation in TRL's conversational vision format:
the caption turn (user ``<image>`` + ``Describe the image.``, assistant caption), then every precise
and informative question-answer turn of that image in a seeded random order, each question prefixed
with its hint (``Answer with a precise response.\\n`` / ``Answer with an informative response.\\n``).
A seeded 10% of images are replaced by a blank image, so the synthesizer also learns to work from
the caption alone. Rows are split per task (the Vision-Flan ``task_name``): the last
``floor(10% of n)`` of each task's seeded shuffle go to ``validation.jsonl``, the rest to ``train.jsonl``.

**Training** (:func:`train`, ``python -m hub_tools.tune_synthesizer --config recipes/synthesizer/...``):
TRL's ``SFTTrainer`` with :class:`SynthesizerCollator`, which renders every row exactly as the
synthesizer is prompted at generation time (:mod:`hub_tools.synthesis.prompts`: the released
LLaVA-NeXT/Llama-3 prompt, or the model's own chat template) and continues it with the task turns in
the same format. The loss mask: everything up to the end of the prompt — system text, the image tokens,
the caption turn and the opening of the first task turn — is ``-100``; every later token is trained,
the task questions included (the synthesizer must write them). After the last turn an end-of-sequence
token is appended and trained (``<|endoftext|>`` for Qwen, ``<|end_of_text|>`` for Llama-3): the turn
end (``<|im_end|>`` / ``<|eot_id|>``) closes every turn, so without it the synthesizer would never learn
to stop; generation stops on it (:func:`hub_tools.synthesis.engines.stop_token_ids`).

**Measuring** (:func:`measure_synthesizer`): generate on held-out world pairs and count the pairs
with at least one *strict* triplet (:func:`is_strict_triplet`) and with at least one *grounded*
triplet (strict and true of the image, :func:`hub_tools.miniature.world.check_triplet`).

**The quickstart's synthesizer** (:func:`tune_tiny_synthesizer`): a ~0.8M-parameter Qwen2-VL (hidden
128, 4 layers, 8 heads, tied embeddings) with a tokenizer trained on the world's text. Built from
random weights, it first gets a short text pretraining on caption paraphrases of seed-set combinations
(:mod:`hub_tools.miniature.pretrain`: the copying a pretrained base model brings), then is tuned on the
world's seed set for a number of steps (a time budget caps it; without ``max_steps`` the budget is the
schedule: a cosine over its elapsed share). The torch thread count is re-chosen while training, since a
shared 2-core CPU punishes two threads.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import re
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.training.data import VisionSFTCollator, example_images, normalize_messages
from hub_tools.synthesis.parse import INFORMATIVE_HINT, PRECISE_HINT, TaskTriplet, TurnFormat

logger = logging.getLogger(__name__)

CAPTION_HINT = "Describe the image."
BLANK_IMAGE_NAME = "blank.png"
DEFAULT_BLANK_FRACTION = 0.1
DEFAULT_VALIDATION_FRACTION = 0.1
TIMED_MAX_STEPS = 1_000_000
"""Step cap of a time-budgeted run (the budget, not this cap, ends it)."""


# ---------------------------------------------------------------------------------------------
# seed data: reading the three raw sets
# ---------------------------------------------------------------------------------------------
class SeedFormatError(ValueError):
    """A seed entry that does not have the published layout (the message names file and entry)."""


def _load_list(path: str | os.PathLike) -> list:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"seed file not found: {str(path)!r}")
    with open(path, encoding="utf-8") as fh:
        if path.suffix == ".jsonl":
            data = [json.loads(line) for line in fh if line.strip()]
        else:
            data = json.load(fh)
    if not isinstance(data, list):
        raise SeedFormatError(f"{path}: expected a JSON list of entries, got {type(data).__name__}")
    return data


def strip_image_marker(text: str) -> str:
    """Remove LLaVA's ``<image>`` marker from the start (``<image>\\n``) or end (``\\n<image>``) of a question."""
    if text.startswith("<image>\n"):
        return text[len("<image>\n") :]
    if text.endswith("\n<image>"):
        return text[: -len("\n<image>")]
    return text.replace("<image>", "").strip()


def _pairs_of(entry: Any, where: str) -> list[tuple[str, str]]:
    """``(question, answer)`` pairs of an entry's ``conversations`` (human/gpt alternating)."""
    if not isinstance(entry, dict):
        raise SeedFormatError(f"{where}: entry is not a JSON object")
    if not isinstance(entry.get("image"), str) or not entry["image"].strip():
        raise SeedFormatError(f"{where}: entry has no 'image' path")
    conv = entry.get("conversations")
    if not isinstance(conv, list) or len(conv) < 2 or len(conv) % 2:
        raise SeedFormatError(f"{where}: 'conversations' must hold human/gpt turn pairs")
    pairs = []
    for k in range(0, len(conv), 2):
        human, gpt = conv[k], conv[k + 1]
        if not (isinstance(human, dict) and isinstance(gpt, dict)):
            raise SeedFormatError(f"{where}: a turn is not a JSON object")
        if human.get("from") != "human" or gpt.get("from") != "gpt":
            raise SeedFormatError(f"{where}: turns must alternate from 'human' to 'gpt'")
        question, answer = human.get("value"), gpt.get("value")
        if not isinstance(question, str) or not isinstance(answer, str) or not answer.strip():
            raise SeedFormatError(f"{where}: empty or non-text turn")
        question = strip_image_marker(question).strip()
        if not question:
            raise SeedFormatError(f"{where}: empty question")
        pairs.append((question, answer.strip()))
    return pairs


def image_key(path: str) -> str:
    """The join key of an image path: its file name (the three sets use different folder prefixes)."""
    return os.path.basename(path.replace("\\", "/"))


@dataclass
class SeedSets:
    """The three sets read and indexed by image key, with every skipped entry counted by reason."""

    captions: dict[str, str] = field(default_factory=dict)
    precise: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    informative: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    task_names: dict[str, str] = field(default_factory=dict)
    image_paths: dict[str, str] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: str, detail: str) -> None:
        """Count a skipped entry (the first detail per reason is kept for the stats file)."""
        self.skipped[reason] += 1
        self.examples.setdefault(reason, detail)


def read_seed_sets(caption_set, precise_set, informative_set) -> SeedSets:
    """Read the caption, precise-answer and informative-answer sets (see the module doc)."""
    sets = SeedSets()
    for index, entry in enumerate(_load_list(caption_set)):
        where = f"{caption_set} entry {index}"
        try:
            pairs = _pairs_of(entry, where)
        except SeedFormatError as err:
            sets.skip("caption entry malformed", str(err))
            continue
        key = image_key(entry["image"])
        if key in sets.captions:
            sets.skip("duplicate caption (first kept)", where)
            continue
        # Some releases also carry the caption in a "caption" field; the gpt turn is the reference.
        caption = entry.get("caption") if isinstance(entry.get("caption"), str) else pairs[0][1]
        sets.captions[key] = caption.strip()
        sets.image_paths[key] = entry["image"]
    for index, entry in enumerate(_load_list(precise_set)):
        where = f"{precise_set} entry {index}"
        try:
            pairs = _pairs_of(entry, where)
            task = entry.get("task_name")
            if not isinstance(task, str) or not task.strip():
                raise SeedFormatError(f"{where}: entry has no 'task_name'")
        except SeedFormatError as err:
            sets.skip("precise entry malformed", str(err))
            continue
        key = image_key(entry["image"])
        sets.precise[key].extend(pairs)
        sets.task_names.setdefault(key, task)
    for index, entry in enumerate(_load_list(informative_set)):
        where = f"{informative_set} entry {index}"
        try:
            pairs = _pairs_of(entry, where)
        except SeedFormatError as err:
            sets.skip("informative entry malformed", str(err))
            continue
        sets.informative[image_key(entry["image"])].extend(pairs)
    return sets


# ---------------------------------------------------------------------------------------------
# seed data: joining, blank images, split, rows
# ---------------------------------------------------------------------------------------------
def _text(text: str) -> dict:
    return {"type": "text", "text": text}


def seed_messages(caption: str, precise: list[tuple[str, str]], informative: list[tuple[str, str]], rng) -> list[dict]:
    """The conversation of one image: caption turn, then the hinted QA turns in ``rng``'s order."""
    turns = [(PRECISE_HINT + q, a) for q, a in precise] + [(INFORMATIVE_HINT + q, a) for q, a in informative]
    rng.shuffle(turns)
    messages = [
        {"role": "user", "content": [{"type": "image"}, _text(CAPTION_HINT)]},
        {"role": "assistant", "content": [_text(caption)]},
    ]
    for question, answer in turns:
        messages.append({"role": "user", "content": [_text(question)]})
        messages.append({"role": "assistant", "content": [_text(answer)]})
    return messages


def _find_image(key: str, stored: str, roots: list[Path]) -> Path | None:
    for root in roots:
        for candidate in (root / stored, root / key):
            if candidate.is_file():
                return candidate
    return None


def write_blank_image(path: str | Path, size: int = 336) -> Path:
    """Write a white ``size`` x ``size`` PNG (the stand-in image for the text-only share)."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), (255, 255, 255)).save(path, format="PNG")
    return path


def build_seed_data(
    caption_set: str | os.PathLike,
    precise_set: str | os.PathLike,
    informative_set: str | os.PathLike,
    out_dir: str | os.PathLike,
    seed: int = 0,
    *,
    image_folder: str | os.PathLike | None = None,
    blank_fraction: float = DEFAULT_BLANK_FRACTION,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    blank_size: int = 336,
) -> dict:
    """Join the three seed sets into synthesizer training rows; returns the stats written to ``seed_stats.json``.

    Writes ``out_dir/train.jsonl``, ``out_dir/validation.jsonl`` (TRL conversational vision rows with
    ``id``, ``task_name``, ``blank``, ``images`` (paths relative to ``out_dir``) and ``messages``),
    ``out_dir/blank.png`` and ``out_dir/seed_stats.json``. Images are looked up by their stored path
    and by file name under ``image_folder`` (default: ``images_191task_1k/`` next to the caption set,
    else the caption set's folder). ``blank_fraction`` of the joined images (rounded, seeded) are
    replaced by the blank image; per task, ``floor(validation_fraction * n)`` rows go to validation.
    """
    if not 0 <= blank_fraction <= 1 or not 0 <= validation_fraction < 1:
        raise ValueError("blank_fraction must be in [0, 1] and validation_fraction in [0, 1)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sets = read_seed_sets(caption_set, precise_set, informative_set)
    cap_dir = Path(caption_set).parent
    roots = [Path(image_folder)] if image_folder else [cap_dir / "images_191task_1k", cap_dir]
    stats: dict[str, Any] = {
        "captions": len(sets.captions),
        "images_with_precise": len(sets.precise),
        "images_with_informative": len(sets.informative),
    }
    dropped: Counter = Counter(sets.skipped)
    examples = dict(sets.examples)
    keys = sorted(set(sets.captions) | set(sets.precise) | set(sets.informative))
    joined = []
    for key in keys:
        missing = [
            name
            for name, table in (
                ("caption", sets.captions),
                ("precise", sets.precise),
                ("informative", sets.informative),
            )
            if key not in table
        ]
        if missing:
            reason = f"image not in the {' and '.join(missing)} set(s)"
            dropped[reason] += 1
            examples.setdefault(reason, key)
            continue
        path = _find_image(key, sets.image_paths[key], roots)
        if path is None:
            reason = "image file not found"
            dropped[reason] += 1
            examples.setdefault(reason, f"{key} (looked in {', '.join(str(r) for r in roots)})")
            continue
        joined.append((key, path))
    if not joined:
        raise ValueError(
            f"no image is in all three seed sets ({stats}; dropped: {dict(dropped)}); check the files and image folder"
        )
    blank_path = write_blank_image(out / BLANK_IMAGE_NAME, blank_size)
    n_blank = round(blank_fraction * len(joined))
    blanks = set(random.Random(f"{seed}|blank").sample([k for k, _ in joined], n_blank))
    by_task: dict[str, list[dict]] = defaultdict(list)
    for key, path in joined:
        rng = random.Random(f"{seed}|turns|{key}")
        messages = seed_messages(sets.captions[key], sets.precise[key], sets.informative[key], rng)
        image = blank_path if key in blanks else path
        row = {
            "id": Path(key).stem,
            "task_name": sets.task_names[key],
            "blank": key in blanks,
            "images": [os.path.relpath(image.resolve(), out.resolve())],
            "messages": messages,
        }
        by_task[row["task_name"]].append(row)
    splits: dict[str, list[dict]] = {"train": [], "validation": []}
    per_task = {}
    for task in sorted(by_task):
        rows = by_task[task]
        random.Random(f"{seed}|split|{task}").shuffle(rows)
        n_val = math.floor(validation_fraction * len(rows))
        splits["train"] += rows[: len(rows) - n_val]
        splits["validation"] += rows[len(rows) - n_val :]
        per_task[task] = {"train": len(rows) - n_val, "validation": n_val}
    for name, rows in splits.items():
        random.Random(f"{seed}|order|{name}").shuffle(rows)
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    stats.update(
        {
            "joined": len(joined),
            "blank": n_blank,
            "train": len(splits["train"]),
            "validation": len(splits["validation"]),
            "dropped": dict(sorted(dropped.items())),
            "dropped_examples": examples,
            "per_task": per_task,
            "seed": seed,
            "blank_fraction": blank_fraction,
            "validation_fraction": validation_fraction,
        }
    )
    (out / "seed_stats.json").write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
    return stats


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


def _message_text(message: dict) -> str:
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
    turns = [(_message_text(messages[k]), _message_text(messages[k + 1])) for k in range(2, len(messages), 2)]
    return _message_text(messages[0]).strip() or CAPTION_HINT, _message_text(messages[1]), turns


def render_synthesizer_row(
    processor, messages: list[dict], prompt_format: str, turn_format: TurnFormat, end_token: str
) -> tuple[str, str]:
    """``(prompt, text)``: the generation-time prompt of the row and the whole training text.

    ``text`` = ``prompt`` + the task turns in ``turn_format`` + ``end_token``. For the released
    (Llama-3) format the tokenizer's BOS is written out in front, since the collator tokenizes
    without special tokens (the release tokenizes its prompt with them: two BOS).
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


@dataclass
class SynthesizerCollator(VisionSFTCollator):
    """:class:`hub_tools.training.data.VisionSFTCollator` with the synthesizer's text and loss mask.

    Each row is rendered by :func:`render_synthesizer_row`; the trained characters are everything
    after the prompt (task questions, answers, turn markers and the final end token). The base
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
        images = example_images(example)
        if len(images) != 1:
            raise ValueError(f"row {example.get('id')!r}: a synthesizer row has exactly one image, got {len(images)}")
        prompt, text = render_synthesizer_row(
            self.processor, messages, self.prompt_format, self.turn_format, self.end_token
        )
        return messages, images, text, [(len(prompt), len(text))]


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------
@dataclass
class SynthesizerArguments:
    """Script arguments of ``python -m hub_tools.tune_synthesizer`` (besides ``SFTConfig`` and ``ModelConfig``)."""

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
    max_minutes: float | None = field(default=None, metadata={"help": "Stop training after this many minutes."})
    decay_share: float = field(
        default=1.0, metadata={"help": "With max_minutes: decay the lr over this last share of the budget."}
    )
    max_pixels: int | None = field(
        default=None, metadata={"help": "Cap on image pixels for Qwen2-VL-style processors (size.longest_edge)."}
    )
    vision_lr_ratio: float | None = field(
        default=None, metadata={"help": "Vision encoder lr = learning_rate * this (the release: 0.1)."}
    )
    threads: str | None = field(
        default=None, metadata={"help": "torch threads: a number, or 'auto' to keep picking the fastest count."}
    )
    text_pretrain_steps: int = field(
        default=0,
        metadata={
            "help": "With model_name_or_path 'tiny': steps of text pretraining on the world's caption paraphrases "
            "before tuning (hub_tools.miniature.pretrain)."
        },
    )
    world_dir: str | None = field(
        default=None,
        metadata={
            "help": "A miniature world (hub_tools.miniature.world): its seed sets are used, and model_name_or_path 'tiny' "
            "builds the tiny synthesizer from its text."
        },
    )


def time_budget_callback(
    minutes: float,
    warmup_steps: int = 0,
    min_lr_ratio: float = 0.0,
    schedule: bool = True,
    decay_share: float = 1.0,
    warmup_share: float = 0.0,
):
    """A ``TrainerCallback`` that stops training once ``minutes`` have passed since training began.

    Its ``lr_factor(step)`` is a learning-rate multiplier for a ``LambdaLR``: linear warmup over
    ``warmup_steps`` steps (or over the first ``warmup_share`` of the budget), then constant, then a cosine decay (down to ``min_lr_ratio``) over the last
    ``decay_share`` of the *time budget* (1.0: a plain cosine over the whole budget; less: a
    warmup-stable-decay schedule). The schedule ends when the budget does however fast the steps run
    (the CPU may be shared); ``schedule`` says whether the trainer should use it. ``stopped_early``
    tells whether the budget ended training.
    """
    if not 0 < decay_share <= 1:
        raise ValueError(f"decay_share must be in (0, 1], not {decay_share}")
    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        def __init__(self):
            self.start: float | None = None
            self.stopped_early = False
            self.schedule = schedule

        def elapsed_share(self) -> float:
            if self.start is None:
                return 0.0
            return min(1.0, (time.monotonic() - self.start) / (minutes * 60))

        def lr_factor(self, step: int) -> float:
            if step < warmup_steps:
                return (step + 1) / warmup_steps
            if warmup_share and self.elapsed_share() < warmup_share:
                return max(self.elapsed_share() / warmup_share, 1e-3)
            progress = max(0.0, self.elapsed_share() - (1 - decay_share)) / decay_share
            cosine = 0.5 * (1 + math.cos(math.pi * progress))
            return min_lr_ratio + (1 - min_lr_ratio) * cosine

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            if self.elapsed_share() >= 1.0:
                self.stopped_early = True
                control.should_training_stop = True
            return control

    return TimeBudget()


def time_progress_callback(minutes: float):
    """A ``TrainerCallback`` with a progress bar over the seconds of a time budget (in place of the step bar).

    A time-budgeted run has no meaningful step total, so the bar counts elapsed seconds against the
    budget and shows the step and the last logged loss.
    """
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    total = max(1, round(minutes * 60))

    class TimeProgress(TrainerCallback):
        def __init__(self):
            self.bar = None
            self.start = 0.0
            self.loss = None

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.start = time.monotonic()
                self.bar = tqdm(total=total, desc="tuning (time budget)", unit="s", dynamic_ncols=True)

        def on_step_end(self, args, state, control, **kwargs):
            second = min(total, int(time.monotonic() - self.start))
            if self.bar is not None and second != self.bar.n:  # one refresh a second, not one a step
                self.bar.n = second
                postfix = {"step": state.global_step}
                if self.loss is not None:
                    postfix["loss"] = f"{self.loss:.3f}"
                self.bar.set_postfix(postfix, refresh=False)
                self.bar.refresh()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self.loss = logs["loss"]

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return TimeProgress()


def vision_parameter_names(model) -> list[str]:
    """Names of the vision-encoder parameters (``vision_tower`` / ``visual``), projector / merger excluded."""
    names = []
    for name, _ in model.named_parameters():
        parts = name.split(".")
        if ("vision_tower" in parts or "visual" in parts) and "merger" not in parts:
            names.append(name)
    return names


def _trainer_class(budget=None, vision_lr_ratio: float | None = None):
    """``SFTTrainer``, or a subclass with a time-based schedule (``budget.lr_factor``) and/or a vision-encoder lr.

    With ``vision_lr_ratio`` the vision encoder trains at that fraction of the learning rate, as the
    released synthesizer did (vision tower 2e-6 against 2e-5; the projector at the full rate).
    """
    from trl import SFTTrainer

    if budget is None and vision_lr_ratio is None:
        return SFTTrainer

    class SynthesizerTrainer(SFTTrainer):
        def create_optimizer(self, model=None):
            optimizer = super().create_optimizer(model)
            if vision_lr_ratio is not None and not getattr(self, "_vision_groups_split", False):
                vision = {
                    id(p) for n, p in self.model.named_parameters() if n in set(vision_parameter_names(self.model))
                }
                groups = []
                for group in optimizer.param_groups:
                    rest = [p for p in group["params"] if id(p) not in vision]
                    tower = [p for p in group["params"] if id(p) in vision]
                    if rest:
                        groups.append({**group, "params": rest})
                    if tower:
                        groups.append({**group, "params": tower, "lr": group["lr"] * vision_lr_ratio})
                optimizer.param_groups = groups  # no step taken yet: no optimizer state to move
                self._vision_groups_split = True
            return optimizer

        def create_scheduler(self, num_training_steps, optimizer=None):
            if budget is None:
                return super().create_scheduler(num_training_steps, optimizer)
            from torch.optim.lr_scheduler import LambdaLR

            if self.lr_scheduler is None:
                self.lr_scheduler = LambdaLR(optimizer or self.optimizer, budget.lr_factor)
            return self.lr_scheduler

    return SynthesizerTrainer


def load_seed_split(seed_data_dir: str | os.PathLike, split: str):
    """The rows of ``split`` (``train`` / ``validation``) as a ``datasets.Dataset``, or ``None`` if empty."""
    from hub_tools.training.data import load_jsonl_rows

    path = Path(seed_data_dir) / f"{split}.jsonl"
    if not path.is_file():
        if split == "train":
            raise FileNotFoundError(f"{path} not found; build it with build_seed_data")
        return None
    if path.stat().st_size == 0:
        return None
    return load_jsonl_rows(path, split)


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


def train(
    model_name_or_path: str | os.PathLike,
    seed_data_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    args=None,
    prompt_format: str = "auto",
    max_minutes: float | None = None,
    model_kwargs: dict | None = None,
    max_pixels: int | None = None,
    callbacks: list | None = None,
    vision_lr_ratio: float | None = None,
    decay_share: float = 1.0,
    summary: dict | None = None,
    **config: Any,
) -> Path:
    """Tune the synthesizer ``model_name_or_path`` on the seed rows in ``seed_data_dir``; returns ``output_dir``.

    ``args`` is an ``SFTConfig`` (or ``config`` holds its fields). With ``max_minutes`` and no
    ``max_steps``, training runs until the budget is spent and the learning rate follows a cosine
    over the elapsed share of the budget, or over its last ``decay_share`` after a constant phase
    (:func:`time_budget_callback`); with ``max_steps`` too, the
    configured schedule runs and the budget only stops it early. ``max_pixels`` caps image size for
    Qwen2-VL-style processors (:func:`set_max_pixels`); ``callbacks`` are extra trainer callbacks;
    ``vision_lr_ratio`` scales the vision encoder's learning rate (:func:`_trainer_class`). Saves the model, processor,
    ``synthesizer.json`` (prompt format, end token, losses, steps, plus the entries of ``summary``) to
    ``output_dir``.
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import SFTConfig

    output_dir = Path(output_dir)
    if args is None:
        defaults = {
            "output_dir": str(output_dir),
            "report_to": "none",
            "save_strategy": "no",
            "activation_checkpointing": False,
            "dataloader_num_workers": 0,
        }
        args = SFTConfig(**{**defaults, **config})
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
    collator = SynthesizerCollator(processor, max_length=args.max_length, prompt_format=prompt_format)
    train_rows = load_seed_split(seed_data_dir, "train")
    eval_rows = load_seed_split(seed_data_dir, "validation")
    budget = None
    if max_minutes is not None:
        timed = args.max_steps is None or args.max_steps <= 0
        ratio = 0 < args.warmup_steps < 1  # transformers 5: a float below 1 is a share of the run
        budget = time_budget_callback(
            max_minutes,
            warmup_steps=0 if ratio else int(args.warmup_steps),
            warmup_share=args.warmup_steps if ratio else 0.0,
            schedule=timed,
            decay_share=decay_share,
        )
        if timed:
            args.max_steps = TIMED_MAX_STEPS  # a cap; the time budget ends training
    trainer_cls = _trainer_class(budget if budget is not None and budget.schedule else None, vision_lr_ratio)
    trainer = trainer_cls(
        model=model,
        args=args,
        train_dataset=train_rows,
        eval_dataset=eval_rows,
        processing_class=processor,
        data_collator=collator,
        callbacks=([budget] if budget is not None else []) + list(callbacks or []) or None,
    )
    if budget is not None and budget.schedule and not args.disable_tqdm:
        from transformers.trainer_callback import ProgressCallback

        trainer.remove_callback(ProgressCallback)  # its total would be the step cap, not the budget
        trainer.add_callback(time_progress_callback(max_minutes))
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
        "stopped_by_time_budget": bool(budget is not None and budget.stopped_early),
        "vision_lr_ratio": vision_lr_ratio,
        "thread_choices": [list(h) for cb in callbacks or [] for h in getattr(cb, "history", [])],
    }
    (output_dir / "synthesizer.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return output_dir


# ---------------------------------------------------------------------------------------------
# the quickstart's tiny synthesizer
# ---------------------------------------------------------------------------------------------
@contextmanager
def torch_threads(n: int | None):
    """Run a block with ``torch.set_num_threads(n)`` (restored afterwards); ``None`` leaves it alone.

    For the tiny models one thread is much faster when other processes share the CPU: with two
    threads on two busy cores, every small matmul waits for a descheduled worker (measured here:
    0.19 s vs 2.3 s per training step).
    """
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def thread_tuner_callback(candidates: tuple[int, ...] | None = None, probe_steps: int = 6, every: int = 250):
    """A ``TrainerCallback`` that keeps picking the fastest torch thread count while training.

    A round times ``probe_steps`` steps with each of ``candidates`` (default: 1 and all cores; the
    current best first, the first step of each untimed) and then trains with the fastest. Rounds run
    every ``every`` steps and as soon as the last 5 steps average over 2.5x the best's time in the
    last round (another process took a core). A candidate whose step takes over 3x the current best's
    mean is dropped at once, so a round costs one step when a count is much slower. On a quiet 2-core
    machine two threads are ~1.6x faster for the tiny synthesizer; when other processes share the
    cores one thread is up to ~10x faster (see :func:`torch_threads`). ``history`` records
    ``(step, choice)``.
    """
    import torch
    from transformers import TrainerCallback

    cands = tuple(candidates or sorted({1, os.cpu_count() or 1}))

    class ThreadTuner(TrainerCallback):
        def __init__(self):
            self.best = torch.get_num_threads() if torch.get_num_threads() in cands else cands[0]
            self.history: list[tuple[int, int]] = []
            self.times: dict[int, list[float]] = defaultdict(list)
            self.baseline: float | None = None  # the best's mean step time in the last round
            self.recent: list[float] = []
            self._queue: list[int] = []
            self._current: int | None = None  # candidate being probed
            self._done = 0  # probe steps taken with it
            self._start = 0.0

        def _finish_round(self, step: int) -> None:
            means = {n: sum(t) / len(t) for n, t in self.times.items() if t}
            if means:
                self.best = min(means, key=means.get)
                self.baseline = means[self.best]
            self.history.append((step, self.best))
            self.recent = []
            self._current = None

        def _slowed_down(self) -> bool:
            return (
                self.baseline is not None and len(self.recent) >= 5 and sum(self.recent[-5:]) / 5 > 2.5 * self.baseline
            )

        def on_step_begin(self, args, state, control, **kwargs):
            slowed = self._slowed_down()
            if len(cands) > 1 and self._current is None and (slowed or state.global_step % every == 0):
                self.times.clear()
                others = [c for c in cands if c != self.best]
                if slowed:  # the best's recent steps are its measurement: probe only the others
                    self.times[self.best] = list(self.recent)
                    self._queue = others
                else:
                    self._queue = [self.best, *others]
                self._current, self._done = self._queue.pop(0), 0
            torch.set_num_threads(self._current if self._current is not None else self.best)
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            elapsed = time.perf_counter() - self._start
            if self._current is None:
                self.recent = (self.recent + [elapsed])[-5:]
                return
            self._done += 1
            if self._done > 1:  # the first step with a new count warms up
                self.times[self._current].append(elapsed)
            reference = self.times.get(self.best) if self._current != self.best else None
            too_slow = bool(reference) and elapsed > 3 * (sum(reference) / len(reference))
            if too_slow:
                self.times[self._current] = [elapsed]
            if self._done >= probe_steps or too_slow:
                if self._queue:
                    self._current, self._done = self._queue.pop(0), 0
                else:
                    self._finish_round(state.global_step)

    return ThreadTuner()


def auto_threads() -> int:
    """All cores when the machine looks idle (1-minute load average below 0.5), else one thread."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 1
    return (os.cpu_count() or 1) if load < 0.5 else 1


def _synthesizer_corpus(lines: list[str]) -> list[str]:
    fixed = [
        PRECISE_HINT.strip(),
        INFORMATIVE_HINT.strip(),
        CAPTION_HINT,
        "You are a helpful assistant.",
        "system user assistant",
    ]
    return fixed * 20 + lines


def build_tiny_synthesizer(
    out_dir: str | os.PathLike,
    corpus: list[str],
    seed: int = 0,
    hidden_size: int = 128,
    num_layers: int = 4,
    vocab_size: int = 1024,
    tie_embeddings: bool = True,
    num_heads: int = 8,
) -> Path:
    """A tiny random Qwen2-VL whose tokenizer is trained on ``corpus`` (e.g. :func:`hub_tools.miniature.world.world_corpus`).

    Wraps :func:`hub_tools.miniature.tiny_models.build_tiny_qwen2_vl` (architecture, image processor, chat template)
    and swaps in a byte-level BPE trained on the domain text, so domain words are single tokens and
    sequences stay short. The special tokens keep their ids. The model is re-initialised (seeded) for
    the new vocabulary, with input and output embeddings tied when ``tie_embeddings`` (as Qwen2-VL-2B
    ties them) and ``num_heads`` attention heads (half as many key/value heads). Measured on the
    world's held-out pairs, both help the model learn to copy facts from the caption in few steps.
    """
    from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor, PreTrainedTokenizerFast

    from hub_tools.miniature import tiny_models as tiny

    out_dir = Path(out_dir)
    tiny.build_tiny_qwen2_vl(out_dir, seed=seed, hidden_size=hidden_size, num_layers=num_layers)
    processor = AutoProcessor.from_pretrained(str(out_dir))
    old = processor.tokenizer
    bpe = tiny.train_tokenizer(tiny.QWEN_SPECIAL_TOKENS, vocab_size=vocab_size, corpus=_synthesizer_corpus(corpus))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=old.eos_token,
        pad_token=old.pad_token,
        unk_token=None,
        extra_special_tokens={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
        model_max_length=old.model_max_length,
        padding_side=old.padding_side,
        chat_template=old.chat_template,
    )
    for token in tiny.QWEN_SPECIAL_TOKENS:
        if tokenizer.convert_tokens_to_ids(token) != old.convert_tokens_to_ids(token):
            raise RuntimeError(f"special token {token} changed id when retraining the tokenizer")
    processor.tokenizer = tokenizer
    import torch

    config = AutoConfig.from_pretrained(str(out_dir))
    config.text_config.vocab_size = len(tokenizer)
    config.tie_word_embeddings = tie_embeddings
    config.text_config.tie_word_embeddings = tie_embeddings
    if num_heads != config.text_config.num_attention_heads:
        if hidden_size % num_heads or (hidden_size // num_heads) % 2:
            raise ValueError(f"hidden_size {hidden_size} must split into {num_heads} heads of even size")
        head_dim = hidden_size // num_heads
        third = head_dim // 2 // 3
        config.text_config.num_attention_heads = num_heads
        config.text_config.num_key_value_heads = max(1, num_heads // 2)
        config.text_config.head_dim = head_dim
        config.text_config.rope_parameters["mrope_section"] = [head_dim // 2 - 2 * third, third, third]
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


TINY_TRAINING = {
    "learning_rate": 3e-3,
    "lr_scheduler_type": "cosine",
    "warmup_steps": 20,
    "weight_decay": 0.0,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 16,
    "logging_steps": 10,
    "max_length": 512,
    "bf16": False,
    "use_cpu": True,
}
"""Training settings of the quickstart's tiny synthesizer (recipes/synthesizer/tiny_cpu.yaml mirrors them)."""


def tune_tiny_synthesizer(
    world_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    seed: int = 0,
    max_minutes: float = 3.0,
    threads: int | str | None = "auto",
    model: dict | None = None,
    pretrain_steps: int = 0,
    pretrain_pairs: int = 20_000,
    **training: Any,
) -> Path:
    """Build the seed data of a world, train the tiny synthesizer on it; returns the tuned model folder.

    Layout: ``out_dir/seed_data`` (:func:`build_seed_data`), ``out_dir/init`` (the tiny model,
    :func:`build_tiny_synthesizer`), ``out_dir/synthesizer`` (the tuned model, returned).
    With ``pretrain_steps``, the random model is first pretrained on ``pretrain_pairs`` caption
    paraphrases of seed-set combinations (:func:`hub_tools.miniature.world.caption_paraphrases`,
    :func:`hub_tools.miniature.pretrain.pretrain_on_paraphrases`; summary in ``init/pretrain.json`` and in
    ``synthesizer.json``), so that it can copy facts from a caption before it learns the seed tasks.
    ``training`` overrides :data:`TINY_TRAINING` (e.g. ``max_steps=1800``: a step budget, which
    ``max_minutes`` then only caps). Training runs with ``threads`` torch threads
    (:func:`torch_threads`); ``"auto"`` keeps choosing the fastest count while training
    (:func:`thread_tuner_callback`). ``model`` passes settings to :func:`build_tiny_synthesizer`
    (e.g. ``{"num_heads": 8}``).
    """
    import torch

    from hub_tools.miniature.world import world_corpus, world_files

    out = Path(out_dir)
    files = world_files(world_dir)
    seed_dir = out / "seed_data"
    build_seed_data(
        files["caption_set"],
        files["precise_set"],
        files["informative_set"],
        seed_dir,
        seed=seed,
        image_folder=files["seed_images"],
        blank_size=112,
    )
    init = build_tiny_synthesizer(out / "init", world_corpus(world_dir), seed=seed, **(model or {}))
    pretrained = None
    if pretrain_steps > 0:
        from hub_tools.miniature.pretrain import pretrain_world_paraphrases

        pretrained = pretrain_world_paraphrases(
            init, world_dir, pretrain_steps, seed, n_pairs=pretrain_pairs, threads=threads
        )
    torch.manual_seed(seed)
    settings = {**TINY_TRAINING, "seed": seed, **training}
    tuner = [thread_tuner_callback()] if threads == "auto" else []
    with torch_threads(None if threads == "auto" else threads):
        return train(
            init,
            seed_dir,
            out / "synthesizer",
            prompt_format="chat",
            max_minutes=max_minutes,
            callbacks=tuner,
            summary={"text_pretraining": pretrained},
            **settings,
        )


# ---------------------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------------------
_MARKER = re.compile(r"<\|[^|<>]{1,40}\|>|<image>")
_HINTS = (PRECISE_HINT.strip().lower(), INFORMATIVE_HINT.strip().lower(), CAPTION_HINT.lower())
_INTERROGATIVE = {"what", "which", "how", "is", "are", "does", "do", "where", "who", "why", "when", "can", "could"}


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def is_strict_triplet(triplet: TaskTriplet | dict) -> bool:
    """A well-formed triplet: the question is a question, no field repeats a hint or a turn marker, answers differ.

    A question ends with ``?`` or starts with an interrogative word. Hints are ``Answer with a
    precise/informative response.`` and ``Describe the image.``; turn markers are special tokens
    written out (``<|...|>``) and ``<image>``.
    """
    if isinstance(triplet, dict):
        triplet = TaskTriplet(triplet["question"], triplet["informative"], triplet["precise"])
    q, info, precise = triplet.question.strip(), triplet.informative.strip(), triplet.precise.strip()
    if not (q and info and precise):
        return False
    words = _normal(q).split()
    if not (q.endswith("?") or (words and words[0] in _INTERROGATIVE)):
        return False
    for text in (q, info, precise):
        if _MARKER.search(text) or any(h in text.lower() for h in _HINTS):
            return False
    return _normal(info) != _normal(precise)


def score_generation(text: str, params, turn_format: TurnFormat | None = None) -> dict:
    """Parse one raw generation and judge its triplets against the world parameters of its image.

    Returns ``{"triplets": [dicts], "strict": [bool], "grounded": [bool], "question_types": [str]}``; a
    grounded triplet is strict and true of the image (:func:`hub_tools.miniature.world.check_triplet`); a question
    type is the answer type :func:`hub_tools.miniature.world.parse_question` reads from the question (``number``,
    ``yesno``, ``color``, ...), or ``unknown``.
    """
    from hub_tools.synthesis import parse_triplets
    from hub_tools.miniature.world import as_params, check_triplet, parse_question

    params = as_params(params)
    triplets = parse_triplets(text, turn_format=turn_format)
    strict = [is_strict_triplet(t) for t in triplets]
    grounded = [
        s and bool(check_triplet(t.question, t.informative, t.precise, params)) for t, s in zip(triplets, strict)
    ]
    kinds = [(parse_question(t.question, params) or ("unknown",))[0] for t in triplets]
    return {
        "triplets": [t.to_dict() for t in triplets],
        "strict": strict,
        "grounded": grounded,
        "question_types": kinds,
    }


def _pair_image(record: dict, root: Path):
    from hub_tools.data import load_image

    images = record.get("images") or [record.get("image")]
    value = images[0]
    return load_image(value if os.path.isabs(str(value)) else root / value)


def _pair_caption(record: dict) -> str:
    for message in record["messages"]:
        if message.get("role", message.get("from")) in ("assistant", "gpt"):
            content = message.get("content", message.get("value"))
            return content if isinstance(content, str) else _message_text({"content": content})
    raise ValueError(f"pair {record.get('id')!r} has no caption")


def measure_synthesizer(
    model_dir: str | os.PathLike,
    heldout_pairs: str | os.PathLike | list[dict],
    *,
    batch_size: int = 16,
    max_new_tokens: int = 256,
    image_root: str | os.PathLike | None = None,
    samples: int = 5,
    threads: int | str | None = "auto",
) -> dict:
    """Generate with the synthesizer on world pairs and score the triplets against the world's parameters.

    ``heldout_pairs`` is a world pairs file (``heldout_pairs.json``) or its records (each with
    ``images``, ``messages`` and ``params``; relative image paths resolve against the file's folder
    or ``image_root``). Returns counts and shares: ``strict_share`` (pairs with at least one strict
    triplet), ``grounded_share`` (pairs with at least one strict triplet true of the image),
    ``first_grounded_share`` (the triplet the released protocol keeps is strict and true),
    ``triplet_grounded_share`` (over all parsed triplets), ``by_question_type`` (parsed and grounded
    triplets per question type, :func:`score_generation`), plus a few sample generations.
    Generation runs with ``threads`` torch threads (:func:`torch_threads`; ``"auto"``: :func:`auto_threads`).
    """
    from tqdm.auto import tqdm

    from hub_tools.synthesis import TransformersEngine
    from hub_tools.miniature.world import load_pairs

    if isinstance(heldout_pairs, (str, os.PathLike)):
        root = Path(image_root) if image_root else Path(heldout_pairs).parent
        records = load_pairs(heldout_pairs)
    else:
        root = Path(image_root) if image_root else Path.cwd()
        records = list(heldout_pairs)
    if not records:
        raise ValueError("no pairs to measure")
    threads = auto_threads() if threads == "auto" else threads
    engine = TransformersEngine(str(model_dir), batch_size=batch_size, max_new_tokens=max_new_tokens, device="cpu")
    started = time.monotonic()
    counts = Counter()
    by_type: dict[str, Counter] = defaultdict(Counter)
    shown = []
    for start in tqdm(range(0, len(records), batch_size), desc="synthesizing held-out pairs", unit="batch"):
        chunk = records[start : start + batch_size]
        batch = [(_pair_image(r, root), _pair_caption(r), None) for r in chunk]
        with torch_threads(threads):
            texts = engine.generate(batch)
        for record, (_, caption, _), text in zip(chunk, batch, texts):
            scored = score_generation(text, record["params"], engine.turn_format)
            counts["pairs"] += 1
            counts["with_triplet"] += bool(scored["triplets"])
            counts["with_strict"] += any(scored["strict"])
            counts["with_grounded"] += any(scored["grounded"])
            counts["first_grounded"] += bool(scored["grounded"] and scored["grounded"][0])
            counts["triplets"] += len(scored["triplets"])
            counts["strict_triplets"] += sum(scored["strict"])
            counts["grounded_triplets"] += sum(scored["grounded"])
            for kind, good in zip(scored["question_types"], scored["grounded"]):
                by_type[kind]["triplets"] += 1
                by_type[kind]["grounded"] += good
            if len(shown) < samples:
                shown.append({"id": record.get("id"), "caption": caption, "generation": text, **scored})
    n = counts["pairs"]
    return {
        **dict(counts),
        "strict_share": counts["with_strict"] / n,
        "grounded_share": counts["with_grounded"] / n,
        "first_grounded_share": counts["first_grounded"] / n,
        "triplet_grounded_share": counts["grounded_triplets"] / counts["triplets"] if counts["triplets"] else 0.0,
        "by_question_type": {kind: dict(by_type[kind]) for kind in sorted(by_type)},
        "seconds": round(time.monotonic() - started, 1),
        "model": str(model_dir),
        "samples": shown,
    }


# ---------------------------------------------------------------------------------------------
# command line: python -m hub_tools.tune_synthesizer --config recipes/synthesizer/....yaml
# ---------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Parse ``SynthesizerArguments`` + ``SFTConfig`` + ``ModelConfig`` (``--config`` YAML) and train."""
    from trl import ModelConfig, SFTConfig, TrlParser

    parser = TrlParser((SynthesizerArguments, SFTConfig, ModelConfig))
    script, args, model_args = parser.parse_args_and_config(args=argv)
    if not model_args.model_name_or_path:
        raise SystemExit("set model_name_or_path (the synthesizer to tune, or 'tiny' with world_dir)")
    seed_dir = script.seed_data_dir
    model = model_args.model_name_or_path
    if script.world_dir:
        from hub_tools.miniature.world import world_corpus, world_files

        files = world_files(script.world_dir)
        script.caption_set = script.caption_set or str(files["caption_set"])
        script.precise_set = script.precise_set or str(files["precise_set"])
        script.informative_set = script.informative_set or str(files["informative_set"])
        script.image_folder = script.image_folder or str(files["seed_images"])
        if model == "tiny":
            model = str(
                build_tiny_synthesizer(Path(args.output_dir) / "init", world_corpus(script.world_dir), args.seed)
            )
            if script.text_pretrain_steps > 0:
                from hub_tools.miniature.pretrain import pretrain_world_paraphrases

                pretrain_world_paraphrases(model, script.world_dir, script.text_pretrain_steps, args.seed)
    elif model == "tiny" or script.text_pretrain_steps:
        raise SystemExit("model_name_or_path 'tiny' needs world_dir (the tokenizer is trained on the world's text)")
    if script.caption_set or script.precise_set or script.informative_set:
        if not (script.caption_set and script.precise_set and script.informative_set):
            raise SystemExit("building seed data needs caption_set, precise_set and informative_set")
        seed_dir = seed_dir or str(Path(args.output_dir) / "seed_data")
        stats = build_seed_data(
            script.caption_set,
            script.precise_set,
            script.informative_set,
            seed_dir,
            seed=args.seed,
            image_folder=script.image_folder,
            blank_fraction=script.blank_fraction,
            blank_size=112 if model_args.model_name_or_path == "tiny" else 336,
        )
        print(json.dumps({k: stats[k] for k in ("joined", "blank", "train", "validation", "dropped")}, indent=1))
    if not seed_dir:
        raise SystemExit("set seed_data_dir, or caption_set + precise_set + informative_set to build it")
    model_kwargs = {}
    if model_args.dtype not in (None, "auto"):
        import torch

        model_kwargs["dtype"] = getattr(torch, model_args.dtype)
    if model_args.attn_implementation:
        model_kwargs["attn_implementation"] = model_args.attn_implementation
    callbacks = []
    if script.threads == "auto":
        callbacks.append(thread_tuner_callback())
    elif script.threads:
        import torch

        torch.set_num_threads(int(script.threads))
    out = train(
        model,
        seed_dir,
        args.output_dir,
        args=args,
        prompt_format=script.prompt_format,
        max_minutes=script.max_minutes,
        decay_share=script.decay_share,
        model_kwargs=model_kwargs,
        max_pixels=script.max_pixels,
        vision_lr_ratio=script.vision_lr_ratio,
        callbacks=callbacks,
    )
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "TINY_TRAINING",
    "auto_threads",
    "time_budget_callback",
    "torch_threads",
    "SynthesizerArguments",
    "SynthesizerCollator",
    "build_seed_data",
    "build_tiny_synthesizer",
    "end_of_sequence_token",
    "is_strict_triplet",
    "measure_synthesizer",
    "read_seed_sets",
    "render_synthesizer_row",
    "score_generation",
    "set_max_pixels",
    "thread_tuner_callback",
    "train",
    "vision_parameter_names",
    "tune_tiny_synthesizer",
]
