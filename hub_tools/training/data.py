"""Training rows for the SFT recipe: loading, the two-stage split, long examples, and label masking.

Rows are TRL's conversational vision format (``docs/run_dir.md``, "compose rows"): ``images`` (a list of
paths, ``PIL`` images or ``{"bytes", "path"}`` dicts) and ``messages`` whose ``content`` is a list of
``{"type": "image"}`` / ``{"type": "text", "text": ...}`` parts. ShareGPT rows (string content with
``<image>`` markers, LLaMA-Factory's layout) are converted on the fly.

Labels (:class:`VisionSFTCollator`): the loss is on assistant turns only. The collator renders each
conversation with the processor's chat template, finds the characters of every trained turn by rendering
message prefixes (a turn starts after the generation prompt and ends with its end-of-turn token), marks
the tokens overlapping those characters, and aligns that mask with the processor's output, where each
image placeholder has been expanded to its image tokens. Image tokens and padding are never trained.
This works with any prefix-preserving chat template (Qwen2-VL, LLaVA-NeXT, Llama-3.2-Vision), with or
without ``{% generation %}`` markers.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

IMAGE_MARKER = "<image>"
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
CAPTION_KINDS = {"caption_only"}
TASK_KINDS = {"task"}
MIXED_KIND = "caption+task"


# ---------------------------------------------------------------------------------------------
# messages and images
# ---------------------------------------------------------------------------------------------
def _text_parts(text: str) -> list[dict]:
    """Split ShareGPT text with ``<image>`` markers into image and text parts."""
    parts: list[dict] = []
    pieces = text.split(IMAGE_MARKER)
    for i, piece in enumerate(pieces):
        if i > 0:
            parts.append({"type": "image"})
        piece = piece.strip("\n") if i > 0 or len(pieces) > 1 else piece
        if piece:
            parts.append({"type": "text", "text": piece})
    return parts


def normalize_messages(messages: Iterable[dict]) -> list[dict]:
    """Return messages as ``{"role", "content": [parts]}`` with parts free of ``None`` values.

    Accepts TRL rows (content parts), string content (``<image>`` markers become image parts) and
    ShareGPT ``{"from", "value"}`` turns. ``datasets`` fills missing struct keys with ``None``
    (an image part gets ``"text": None``); those keys are dropped so chat templates see clean parts.
    """
    out = []
    for message in messages:
        role = message.get("role") or SHAREGPT_ROLES.get(message.get("from", ""), message.get("from"))
        if role not in ("user", "assistant", "system"):
            raise ValueError(f"unsupported message role {role!r} in {message!r}")
        content = message.get("content", message.get("value"))
        if content is None:
            parts = []
        elif isinstance(content, str):
            parts = _text_parts(content)
        else:
            parts = []
            for part in content:
                part = {k: v for k, v in dict(part).items() if v is not None}
                kind = part.get("type")
                if kind not in ("image", "text"):
                    raise ValueError(f"unsupported content part {part!r} (expected type image or text)")
                if kind == "image":
                    part = {"type": "image"}  # the pixels travel in the row's `images` column
                parts.append(part)
        out.append({"role": role, "content": parts})
    return out


def count_image_parts(messages: list[dict]) -> int:
    """Number of ``{"type": "image"}`` parts in normalized messages."""
    return sum(1 for m in messages for p in m["content"] if p["type"] == "image")


def load_image(value: Any):
    """Open one row image (path, ``PIL.Image``, ``{"bytes", "path"}`` dict or raw bytes) as RGB."""
    from PIL import Image

    if isinstance(value, Image.Image):
        image = value
    elif isinstance(value, dict) and value.get("bytes"):
        image = Image.open(io.BytesIO(value["bytes"]))
    elif isinstance(value, dict) and value.get("path"):
        image = Image.open(value["path"])
    elif isinstance(value, (bytes, bytearray)):
        image = Image.open(io.BytesIO(value))
    elif isinstance(value, (str, os.PathLike)):
        if not os.path.isfile(value):
            raise FileNotFoundError(f"image not found: {value}")
        image = Image.open(value)
    else:
        raise ValueError(f"cannot read an image from {type(value).__name__}: {value!r:.80}")
    return image.convert("RGB") if image.mode != "RGB" else image


def example_images(example: dict) -> list:
    """The images of one row (``images`` list, or a single ``image``), opened."""
    values = example.get("images")
    if values is None and example.get("image") is not None:
        values = [example["image"]]
    return [load_image(v) for v in (values or [])]


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------
def find_jsonl(path: str | os.PathLike, split: str) -> Path:
    """Locate the JSONL file of ``split`` for ``path``: a file, a RUN_DIR (``compose/<split>.jsonl``) or a folder."""
    path = Path(path)
    if path.is_file():
        return path
    for candidate in (path / "compose" / f"{split}.jsonl", path / f"{split}.jsonl"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no rows for split {split!r} under {path}: expected a .jsonl file, {path}/compose/{split}.jsonl "
        f"or {path}/{split}.jsonl"
    )


def resolve_image_path(value: str, roots: list[Path]) -> str:
    """Resolve a relative image path against ``roots`` (first existing wins); absolute paths are kept."""
    if os.path.isabs(value):
        return value
    for root in roots:
        candidate = root / value
        if candidate.is_file():
            return str(candidate)
    raise FileNotFoundError(f"image {value!r} not found under {', '.join(str(r) for r in roots)}")


def load_jsonl_rows(path: str | os.PathLike, split: str = "train"):
    """Load TRL rows from a JSONL file or RUN_DIR as a ``datasets.Dataset`` with absolute image paths.

    Relative image paths are resolved against the file's folder, then its parent (a RUN_DIR keeps
    ``compose/<split>.jsonl`` next to ``images/``). A missing image is an error naming the path.
    """
    from datasets import load_dataset

    file = find_jsonl(path, split)
    roots = [file.parent.resolve(), file.parent.parent.resolve()]
    dataset = load_dataset("json", data_files=str(file), split="train")
    if "messages" not in dataset.column_names:
        raise ValueError(f"{file}: rows need a 'messages' column (found {dataset.column_names})")
    if "images" in dataset.column_names:

        def _resolve(batch):
            return {
                "images": [
                    [resolve_image_path(v, roots) if isinstance(v, str) else v for v in (images or [])]
                    for images in batch["images"]
                ]
            }

        dataset = dataset.map(_resolve, batched=True, desc="resolving image paths")
    return dataset


def load_rows(
    dataset_name: str | None = None,
    dataset_config: str | None = None,
    dataset_split: str = "train",
    dataset_dir: str | None = None,
):
    """Load training rows from a local JSONL/RUN_DIR (``dataset_dir``) or a Hub dataset (id or folder)."""
    if dataset_dir:
        return load_jsonl_rows(dataset_dir, dataset_split)
    if not dataset_name:
        raise ValueError("set dataset_name (a Hub dataset id or folder) or dataset_dir (a JSONL file or RUN_DIR)")
    from datasets import load_dataset

    dataset = load_dataset(dataset_name, dataset_config, split=dataset_split)
    if "messages" not in dataset.column_names:
        raise ValueError(
            f"dataset {dataset_name!r} (config {dataset_config!r}, split {dataset_split!r}) has no 'messages' "
            f"column (found {dataset.column_names})"
        )
    return dataset


# ---------------------------------------------------------------------------------------------
# two-stage split
# ---------------------------------------------------------------------------------------------
def conversation_turns(messages: list[dict]) -> list[tuple[int, int]]:
    """``[start, end)`` message ranges of each turn: user/system messages followed by assistant messages."""
    turns, start = [], 0
    for i, message in enumerate(messages):
        last = i == len(messages) - 1
        if message["role"] == "assistant" and (last or messages[i + 1]["role"] != "assistant"):
            turns.append((start, i + 1))
            start = i + 1
    if start < len(messages):
        raise ValueError(f"conversation ends without an assistant answer: {messages[start:]!r:.200}")
    return turns


def _turn_text(messages: list[dict], turn: tuple[int, int], role: str) -> str:
    return "".join(
        p.get("text", "") for m in messages[turn[0] : turn[1]] if m["role"] == role for p in m["content"]
    ).strip()


def _extract_turns(messages: list[dict], keep: list[tuple[int, int]]) -> list[dict]:
    """Messages of the ``keep`` turns, with every image part moved to the front of the first user message."""
    images = [{"type": "image"}] * count_image_parts(messages)
    out = []
    for start, end in keep:
        for m in messages[start:end]:
            out.append({"role": m["role"], "content": [p for p in m["content"] if p["type"] != "image"]})
    first_user = next(m for m in out if m["role"] == "user")
    first_user["content"] = images + first_user["content"]
    return out


def caption_turn_index(example: dict, messages: list[dict], turns: list[tuple[int, int]]) -> int:
    """Which turn of a ``caption+task`` row is the caption turn.

    Uses the row's ``caption_turn`` (turn index) when present, else the turn whose assistant text equals
    the row's ``caption``. Raises when neither identifies it.
    """
    if example.get("caption_turn") is not None:
        index = int(example["caption_turn"])
        if not 0 <= index < len(turns):
            raise ValueError(f"row {example.get('id')!r}: caption_turn {index} out of range ({len(turns)} turns)")
        return index
    caption = (example.get("caption") or "").strip()
    if caption:
        for index, turn in enumerate(turns):
            if _turn_text(messages, turn, "assistant") == caption:
                return index
    raise ValueError(
        f"row {example.get('id')!r} is kind {MIXED_KIND!r} but carries neither 'caption_turn' nor a 'caption' "
        "matching one of its answers, so its caption turn cannot be told apart for two-stage training. "
        "Compose with two-stage mode (separate caption and task sets) or pass stage1_dataset_* arguments."
    )


def split_two_stage(rows: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """Split composed rows into stage-1 (caption) and stage-2 (task) rows.

    ``caption_only`` rows go to stage 1, ``task`` rows to stage 2, and a ``caption+task`` row is cut into
    its caption turn (stage 1) and its other turns (stage 2); both halves keep the image. A row without a
    known ``kind`` is an error (never dropped silently).
    """
    stage1, stage2 = [], []
    for example in rows:
        kind = example.get("kind")
        messages = normalize_messages(example["messages"])
        base = {"images": example.get("images") or [], "id": example.get("id")}
        if kind in CAPTION_KINDS:
            stage1.append({**base, "messages": messages, "kind": kind})
        elif kind in TASK_KINDS:
            stage2.append({**base, "messages": messages, "kind": kind})
        elif kind == MIXED_KIND:
            turns = conversation_turns(messages)
            index = caption_turn_index(example, messages, turns)
            others = [t for i, t in enumerate(turns) if i != index]
            stage1.append({**base, "messages": _extract_turns(messages, [turns[index]]), "kind": "caption_only"})
            if others:
                stage2.append({**base, "messages": _extract_turns(messages, others), "kind": "task"})
        else:
            raise ValueError(
                f"row {example.get('id')!r}: kind {kind!r} is not one of caption_only, task, {MIXED_KIND} "
                "(two-stage training needs it)"
            )
    return stage1, stage2


def rows_to_dataset(rows: list[dict]):
    """A ``datasets.Dataset`` from rows (images kept as given: paths or ``PIL`` images)."""
    from datasets import Dataset

    return Dataset.from_list(rows)


# ---------------------------------------------------------------------------------------------
# label masking
# ---------------------------------------------------------------------------------------------
class TemplateError(ValueError):
    """The chat template does not let the trained turns be located (not prefix-preserving)."""


def assistant_turns(messages: list[dict]) -> list[bool]:
    """Default mask policy: train every assistant message."""
    return [m["role"] == "assistant" for m in messages]


def all_turns(messages: list[dict]) -> list[bool]:
    """Mask policy that trains every message (prompts included); image tokens and padding stay masked."""
    return [True] * len(messages)


def trained_char_spans(
    render: Callable[[list[dict], bool], str], messages: list[dict], trained: list[bool]
) -> tuple[str, list[tuple[int, int]]]:
    """Render ``messages`` and return ``(text, spans)``: character ranges of the trained messages.

    A trained assistant message starts after the generation prompt (the assistant header) and ends with
    its end-of-turn token (trailing whitespace after it is not trained); other trained messages start at
    their header. ``render(messages, add_generation_prompt)`` renders with the chat template.
    """
    text = render(messages, False)
    spans = []
    for i, message in enumerate(messages):
        if not trained[i]:
            continue
        if i == 0:
            start = 0
        else:
            prefix = render(messages[:i], message["role"] == "assistant")
            if not text.startswith(prefix):
                raise TemplateError(
                    f"the chat template is not prefix-preserving before message {i}: rendering the first {i} "
                    "messages does not give a prefix of the whole conversation, so the trained turns cannot "
                    "be located. Use a chat template that renders earlier turns the same way "
                    "(SFTConfig.chat_template_path)."
                )
            start = len(prefix)
        upto = render(messages[: i + 1], False)
        if not text.startswith(upto):
            raise TemplateError(f"the chat template is not prefix-preserving after message {i}")
        end = len(upto.rstrip())
        if end > start:
            spans.append((start, end))
    return text, spans


def _char_mask_prefix(text_len: int, spans: list[tuple[int, int]]) -> list[int]:
    """Prefix sums of a per-character trained flag, for O(1) 'does this token overlap a span' checks."""
    flags = [0] * (text_len + 1)
    for start, end in spans:
        flags[start] += 1
        flags[end] -= 1
    prefix, running, total = [0] * (text_len + 1), 0, 0
    for i in range(text_len):
        running += flags[i]
        total += 1 if running > 0 else 0
        prefix[i + 1] = total
    return prefix


def align_trained_mask(
    plain_ids: list[int],
    offsets: list[tuple[int, int]],
    prefix: list[int],
    expanded_ids: list[int],
    image_token_ids: set[int],
) -> list[bool]:
    """Map a per-token trained flag from the plain tokenization onto the processor's expanded ids.

    ``plain_ids`` tokenizes the rendered text with one placeholder per image; ``expanded_ids`` is the
    processor's output, where each placeholder became a run of image tokens. Image tokens are never
    trained. Any other mismatch raises (the two tokenizations must agree outside image runs).
    """
    mask = [False] * len(expanded_ids)
    i = j = 0
    n, m = len(plain_ids), len(expanded_ids)
    while i < n:
        token = plain_ids[i]
        if token in image_token_ids:
            while i < n and plain_ids[i] == token:
                i += 1
            if j >= m or expanded_ids[j] != token:
                raise ValueError(f"image placeholder {token} at token {i} has no image tokens in the processor output")
            while j < m and expanded_ids[j] == token:
                j += 1
            continue
        if j >= m or expanded_ids[j] != token:
            got = expanded_ids[j] if j < m else None
            raise ValueError(f"tokenizations disagree at plain token {i} ({token}) / processor token {j} ({got})")
        start, end = offsets[i]
        mask[j] = end > start and prefix[end] - prefix[start] > 0
        i += 1
        j += 1
    if j != m:
        raise ValueError(f"processor output has {m - j} tokens more than the rendered text")
    return mask


def image_token_ids(processor) -> set[int]:
    """Ids of the processor's image/video placeholder tokens (never trained)."""
    tokenizer = getattr(processor, "tokenizer", processor)
    ids = set()
    for attr in ("image_token", "video_token"):
        for owner in (processor, tokenizer):
            token = getattr(owner, attr, None)
            if isinstance(token, str):
                token_id = tokenizer.convert_tokens_to_ids(token)
                if token_id is not None and token_id != tokenizer.unk_token_id:
                    ids.add(int(token_id))
    for attr in ("image_token_id", "video_token_id", "image_token_index"):
        for owner in (processor, tokenizer):
            value = getattr(owner, attr, None)
            if isinstance(value, int):
                ids.add(value)
    return ids


def _render_fn(processor, chat_template: str | None):
    def render(messages: list[dict], add_generation_prompt: bool) -> str:
        return processor.apply_chat_template(
            messages, chat_template=chat_template, tokenize=False, add_generation_prompt=add_generation_prompt
        )

    return render


@dataclass
class VisionSFTCollator:
    """Batch TRL vision rows into model inputs with labels on the trained turns only.

    ``mask_policy(messages) -> [bool per message]`` picks the trained messages (default: assistant
    turns). Padding is on the right; every ``(batch, seq)`` tensor the processor returns (input ids,
    attention mask, ``mm_token_type_ids``, ``cross_attention_mask``, ...) is padded with it. With
    ``max_length`` set, rows longer than it are cut in their text only: cutting into image tokens raises
    (filter such rows first with :func:`filter_long_examples`).
    """

    processor: Any
    max_length: int | None = None
    mask_policy: Callable[[list[dict]], list[bool]] = assistant_turns
    chat_template: str | None = None
    pad_to_multiple_of: int | None = None
    _image_ids: set[int] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self):
        self._image_ids = image_token_ids(self.processor)
        self._render = _render_fn(self.processor, self.chat_template)
        tokenizer = self.processor.tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token

    def render(self, example: dict) -> tuple[list[dict], list, str, list[tuple[int, int]]]:
        """``(messages, images, text, trained character spans)`` of one row."""
        messages = normalize_messages(example["messages"])
        images = example_images(example)
        if count_image_parts(messages) != len(images):
            raise ValueError(
                f"row {example.get('id')!r}: {count_image_parts(messages)} image parts in messages but "
                f"{len(images)} images"
            )
        text, spans = trained_char_spans(self._render, messages, self.mask_policy(messages))
        return messages, images, text, spans

    def __call__(self, examples: list[dict]) -> dict:
        import torch

        rendered = [self.render(ex) for ex in examples]
        texts = [r[2] for r in rendered]
        images = [r[1] for r in rendered]
        kwargs = {"return_tensors": "pt", "padding": True, "padding_side": "right", "add_special_tokens": False}
        if self.pad_to_multiple_of:
            kwargs["pad_to_multiple_of"] = self.pad_to_multiple_of
        batch = self.processor(text=texts, images=images if any(images) else None, **kwargs)
        input_ids, attention = batch["input_ids"], batch["attention_mask"]
        tokenizer = self.processor.tokenizer
        labels = torch.full_like(input_ids, -100)
        for row, (_, _, text, spans) in enumerate(rendered):
            plain = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            length = int(attention[row].sum())
            expanded = input_ids[row, :length].tolist()
            mask = align_trained_mask(
                plain["input_ids"],
                plain["offset_mapping"],
                _char_mask_prefix(len(text), spans),
                expanded,
                self._image_ids,
            )
            keep = torch.tensor(mask, dtype=torch.bool)
            labels[row, :length] = torch.where(
                keep, input_ids[row, :length], torch.full_like(keep, -100, dtype=torch.long)
            )
        batch["labels"] = labels
        if self.max_length is not None and input_ids.shape[1] > self.max_length:
            batch = truncate_text(batch, self.max_length, self._image_ids, tokenizer.pad_token_id)
        return batch


def truncate_text(batch: dict, max_length: int, image_ids: set[int], pad_token_id: int) -> dict:
    """Cut a right-padded batch to ``max_length`` tokens, refusing to cut image tokens."""
    import torch

    input_ids = batch["input_ids"]
    tail = input_ids[:, max_length:]
    if any(bool((tail == token).any()) for token in image_ids):
        raise ValueError(
            f"max_length {max_length} would cut image tokens; drop such rows (long_example_policy=drop) or raise "
            "max_length"
        )
    batch_size, seq_len = input_ids.shape
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.dim() >= 2 and tuple(value.shape[:2]) == (batch_size, seq_len):
            out[key] = value[:, :max_length]
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------------------------
# long examples
# ---------------------------------------------------------------------------------------------
def measure_example(example: dict, processor, image_ids: set[int], chat_template: str | None = None) -> dict:
    """``num_tokens`` (image tokens expanded) and ``image_end`` (1 + last image token index, 0 if none)."""
    messages = normalize_messages(example["messages"])
    images = example_images(example)
    text = processor.apply_chat_template(messages, chat_template=chat_template, tokenize=False)
    enc = processor(text=[text], images=[images] if images else None, add_special_tokens=False)
    ids = list(enc["input_ids"][0])
    image_end = max((i + 1 for i, t in enumerate(ids) if t in image_ids), default=0)
    return {"num_tokens": len(ids), "image_end": image_end}


@dataclass
class LongExampleReport:
    """What :func:`filter_long_examples` did: rows in, dropped, and how many will be cut in text only."""

    rows_in: int = 0
    dropped: int = 0
    truncated: int = 0
    policy: str = "drop"
    max_length: int | None = None

    def as_dict(self) -> dict:
        """A plain dict for logs and the model card."""
        return dict(self.__dict__)


def filter_long_examples(
    dataset,
    processor,
    max_length: int | None,
    policy: str = "drop",
    chat_template: str | None = None,
    num_proc: int | None = None,
):
    """Apply the long-example policy; return ``(dataset, LongExampleReport)``.

    ``drop``: rows longer than ``max_length`` tokens (image tokens counted) are removed. ``truncate_text``:
    rows are kept and cut at ``max_length`` by the collator, in text only; rows whose image tokens reach
    past ``max_length`` cannot be cut without losing image tokens and are dropped. Every drop is counted.
    """
    if policy not in ("drop", "truncate_text"):
        raise ValueError(f"long_example_policy must be 'drop' or 'truncate_text', not {policy!r}")
    report = LongExampleReport(rows_in=len(dataset), policy=policy, max_length=max_length)
    if max_length is None:
        return dataset, report
    ids = image_token_ids(processor)
    measured = dataset.map(
        measure_example,
        fn_kwargs={"processor": processor, "image_ids": ids, "chat_template": chat_template},
        num_proc=num_proc,
        remove_columns=dataset.column_names,  # keep only the two numbers (no image re-encoding)
        desc=f"measuring lengths (max_length={max_length})",
    )
    if policy == "drop":
        keep = [n <= max_length for n in measured["num_tokens"]]
    else:
        keep = [end <= max_length for end in measured["image_end"]]
        report.truncated = sum(1 for n, k in zip(measured["num_tokens"], keep, strict=True) if k and n > max_length)
    report.dropped = keep.count(False)
    if report.dropped:
        logger.warning(
            "long_example_policy=%s: dropped %d of %d rows longer than max_length=%d%s",
            policy,
            report.dropped,
            report.rows_in,
            max_length,
            " (image tokens past the limit)" if policy == "truncate_text" else "",
        )
    if report.truncated:
        logger.warning("long_example_policy=truncate_text: %d rows will be cut in their text", report.truncated)
    indices = [i for i, k in enumerate(keep) if k]
    return dataset.select(indices), report


# ---------------------------------------------------------------------------------------------
# demo rows (tests, the tiny recipe)
# ---------------------------------------------------------------------------------------------
_DEMO_COLORS = {"red": (200, 40, 40), "green": (40, 160, 60), "blue": (40, 70, 200), "yellow": (220, 200, 40)}
_DEMO_SHAPES = ("round", "square")


def write_demo_rows(out_dir: str | os.PathLike, num_rows: int = 16, seed: int = 0, split: str = "train") -> Path:
    """Write ``num_rows`` small composed rows (TRL vision format) and their images; return the JSONL path.

    Images are drawn shapes of known colour; rows cycle through ``caption+task`` (caption first or last,
    with ``caption_turn``), ``caption_only`` and ``task`` kinds, so single- and two-stage runs both have
    data. Layout: ``out_dir/images/<id>.png`` and ``out_dir/<split>.jsonl`` (paths relative to the file).
    """
    import json
    import random

    from PIL import Image, ImageDraw

    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = []
    for i in range(num_rows):
        color = list(_DEMO_COLORS)[i % len(_DEMO_COLORS)]
        shape = _DEMO_SHAPES[(i // len(_DEMO_COLORS)) % len(_DEMO_SHAPES)]
        size = rng.choice([(56, 56), (84, 56), (56, 84)])
        image = Image.new("RGB", size, (245, 245, 240))
        box = [8, 8, size[0] - 8, size[1] - 8]
        draw = ImageDraw.Draw(image)
        (draw.ellipse if shape == "round" else draw.rectangle)(box, fill=_DEMO_COLORS[color])
        row_id = f"demo-{i:04d}"
        image.save(out / "images" / f"{row_id}.png")
        caption_turn = [
            {"role": "user", "content": [{"type": "text", "text": "Describe the image."}]},
            {"role": "assistant", "content": [{"type": "text", "text": f"A {color} {shape} plate."}]},
        ]
        task_turn = [
            {"role": "user", "content": [{"type": "text", "text": "What color is the plate?"}]},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": f"The plate is {color}. So the answer is {color}."}],
            },
        ]
        kind = ("caption+task", "caption_only", "caption+task", "task")[i % 4]
        caption_first = rng.random() < 0.5
        if kind == "caption_only":
            turns, index = caption_turn, 0
        elif kind == "task":
            turns, index = task_turn, None
        else:
            turns = caption_turn + task_turn if caption_first else task_turn + caption_turn
            index = 0 if caption_first else 1
        messages = copy_messages(turns)
        messages[0]["content"] = [{"type": "image"}, *messages[0]["content"]]
        row = {"id": row_id, "kind": kind, "images": [f"images/{row_id}.png"], "messages": messages}
        if kind == "caption+task":
            row["caption_turn"] = index
        rows.append(row)
    path = out / f"{split}.jsonl"
    with path.open("w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


def copy_messages(messages: list[dict]) -> list[dict]:
    """A deep copy of messages (content parts copied)."""
    return [{"role": m["role"], "content": [dict(p) for p in m["content"]]} for m in messages]
