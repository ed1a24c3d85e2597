"""The label-masking collator of the SFT recipe and the long-example policy.

Labels (:class:`VisionSFTCollator`): the loss is on assistant turns only. The collator renders each
conversation with the processor's chat template (or, for LLaVA-NeXT-Llama3, the released ``llava_llama_3``
conversation it is evaluated in: :func:`conversation_renderer`), finds the characters of every trained turn by rendering
message prefixes (a turn starts after the generation prompt and ends with its end-of-turn token), marks
the tokens overlapping those characters, and aligns that mask with the processor's output, where each
image placeholder has been expanded to its image tokens. Image tokens and padding are never trained.
This works with any prefix-preserving chat template (Qwen2-VL, LLaVA-NeXT, Llama-3.2-Vision), with or
without ``{% generation %}`` markers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub_tools.training.data import count_image_parts, example_images, normalize_messages

logger = logging.getLogger(__name__)


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


PROMPT_STYLES = ("chat_template", "llava_llama_3")


def conversation_renderer(
    processor, prompt_style: str = "chat_template", chat_template: str | None = None
) -> Callable[[list[dict], bool], str]:
    """``render(messages, add_generation_prompt) -> str``: the text a row is trained on.

    ``chat_template``: the processor's chat template (or ``chat_template``). ``llava_llama_3``: the released
    conversation (:func:`hub_tools.synthesis.prompts.render_llava_llama_3`, the string ``adamllm evaluate`` sends)
    with the tokenizer's BOS written in front, since the collator tokenizes without special tokens and the
    evaluation prompt is tokenized with them: two BOS in both.
    """
    if prompt_style == "llava_llama_3":
        from hub_tools.synthesis.prompts import image_token_of, render_llava_llama_3

        bos = getattr(processor, "tokenizer", processor).bos_token or ""
        image_token = image_token_of(processor)

        def render_released(messages: list[dict], add_generation_prompt: bool) -> str:
            return bos + render_llava_llama_3(messages, add_generation_prompt, image_token)

        return render_released
    if prompt_style != "chat_template":
        raise ValueError(f"prompt_style must be one of {list(PROMPT_STYLES)}, not {prompt_style!r}")

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
    (filter such rows first with :func:`filter_long_examples`). ``image_max_side`` caps the longer side of
    every image before the processor (:func:`hub_tools.training.data.cap_image_side`). ``prompt_style`` picks the
    rendering (:func:`conversation_renderer`: the chat template, or the released ``llava_llama_3`` conversation
    that ``adamllm evaluate`` prompts LLaVA-NeXT-Llama3 with). ``cache_rows`` collates
    each distinct row once and keeps its tensors (memory grows with the dataset: for small sets seen for many
    epochs, such as the quickstart's); the batches are the same.
    """

    processor: Any
    max_length: int | None = None
    mask_policy: Callable[[list[dict]], list[bool]] = assistant_turns
    chat_template: str | None = None
    pad_to_multiple_of: int | None = None
    image_max_side: int | None = None
    cache_rows: bool = False
    prompt_style: str = "chat_template"
    _image_ids: set[int] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self):
        self._image_ids = image_token_ids(self.processor)
        self._render = conversation_renderer(self.processor, self.prompt_style, self.chat_template)
        tokenizer = self.processor.tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token

    def render(self, example: dict) -> tuple[list[dict], list, str, list[tuple[int, int]]]:
        """``(messages, images, text, trained character spans)`` of one row."""
        messages = normalize_messages(example["messages"])
        images = example_images(example, self.image_max_side)
        if count_image_parts(messages) != len(images):
            raise ValueError(
                f"row {example.get('id')!r}: {count_image_parts(messages)} image parts in messages but "
                f"{len(images)} images"
            )
        text, spans = trained_char_spans(self._render, messages, self.mask_policy(messages))
        return messages, images, text, spans

    def __call__(self, examples: list[dict]) -> dict:
        return self._collate_cached(examples) if self.cache_rows else self._collate(examples)

    def _collate_cached(self, examples: list[dict]) -> dict:
        """Collate from per-row tensors computed once (``cache_rows``); the same tensors as :meth:`_collate`."""
        import json

        import torch

        cache = self.__dict__.setdefault("_row_cache", {})
        rows = []
        for example in examples:
            key = json.dumps(example, sort_keys=True, default=str)
            if key not in cache:
                cache[key] = self._collate([example])
            rows.append(cache[key])
        if len(rows) == 1:
            return dict(rows[0])
        length = rows[0]["input_ids"].shape[1]
        width = max(int(r["input_ids"].shape[1]) for r in rows)
        pad_values = {"input_ids": self.processor.tokenizer.pad_token_id, "labels": -100}
        batch = {}
        for key, first in rows[0].items():
            if not isinstance(first, torch.Tensor):
                batch[key] = first
            elif first.dim() >= 2 and first.shape[0] == 1 and first.shape[1] == length:  # (batch, seq): pad
                padded = [
                    torch.nn.functional.pad(r[key], (0, width - r[key].shape[1]), value=pad_values.get(key, 0))
                    for r in rows
                ]
                batch[key] = torch.cat(padded)
            else:
                batch[key] = torch.cat([r[key] for r in rows])
        return batch

    def _collate(self, examples: list[dict]) -> dict:
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
def measure_example(
    example: dict,
    processor,
    image_ids: set[int],
    chat_template: str | None = None,
    image_max_side: int | None = None,
    prompt_style: str = "chat_template",
) -> dict:
    """``num_tokens`` (image tokens expanded) and ``image_end`` (1 + last image token index, 0 if none).

    Images are capped by ``image_max_side`` and the row rendered in ``prompt_style`` first, as the collator
    does, so the lengths are the trained ones.
    """
    messages = normalize_messages(example["messages"])
    images = example_images(example, image_max_side)
    text = conversation_renderer(processor, prompt_style, chat_template)(messages, False)
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
    image_max_side: int | None = None,
    prompt_style: str = "chat_template",
):
    """Apply the long-example policy; return ``(dataset, LongExampleReport)``.

    ``drop``: rows longer than ``max_length`` tokens (image tokens counted) are removed. ``truncate_text``:
    rows are kept and cut at ``max_length`` by the collator, in text only; rows whose image tokens reach
    past ``max_length`` cannot be cut without losing image tokens and are dropped. Every drop is counted.
    ``image_max_side`` and ``prompt_style`` must be the collator's, so rows are measured as they are trained.
    """
    if policy not in ("drop", "truncate_text"):
        raise ValueError(f"long_example_policy must be 'drop' or 'truncate_text', not {policy!r}")
    report = LongExampleReport(rows_in=len(dataset), policy=policy, max_length=max_length)
    if max_length is None:
        return dataset, report
    ids = image_token_ids(processor)
    measured = dataset.map(
        measure_example,
        fn_kwargs={
            "processor": processor,
            "image_ids": ids,
            "chat_template": chat_template,
            "image_max_side": image_max_side,
            "prompt_style": prompt_style,
        },
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
# length-grouped batching
# ---------------------------------------------------------------------------------------------
LENGTH_GROUPED_STRATEGIES = ("group_by_length", "batch_rebalance")
"""``SFTConfig.train_sampling_strategy`` values whose sampler reads per-row lengths (``length_column_name``)."""


def add_length_column(
    dataset,
    processor,
    column: str = "length",
    chat_template: str | None = None,
    num_proc: int | None = None,
    image_max_side: int | None = None,
    prompt_style: str = "chat_template",
):
    """Add each row's token count (image tokens expanded, as the collator builds it) as ``column``.

    ``transformers``' length-grouped sampler (``train_sampling_strategy="group_by_length"``) reads it, so
    that a batch holds rows of similar length and pads little. This is the padding cut available to the
    vision models here: TRL 1.16 refuses ``padding_free`` for vision datasets, and transformers 5.23 runs
    packed rows without padding only with flash-attention (Qwen2-VL has no flex-attention support; SDPA
    gets a dense block-diagonal mask over the whole packed batch, so no attention work is saved).
    A column that is already there is kept.
    """
    if column in dataset.column_names:
        return dataset
    measured = dataset.map(
        measure_example,
        fn_kwargs={
            "processor": processor,
            "image_ids": image_token_ids(processor),
            "chat_template": chat_template,
            "image_max_side": image_max_side,
            "prompt_style": prompt_style,
        },
        num_proc=num_proc,
        remove_columns=dataset.column_names,
        desc=f"measuring lengths for {column!r}",
    )
    return dataset.add_column(column, list(measured["num_tokens"]))


def padding_share(lengths: list[int], batch_size: int, order: list[int] | None = None) -> float:
    """Share of padding tokens when ``lengths`` are batched ``batch_size`` at a time in ``order`` (default: as given)."""
    order = list(range(len(lengths))) if order is None else order
    real = padded = 0
    for start in range(0, len(order), batch_size):
        batch = [lengths[i] for i in order[start : start + batch_size]]
        real += sum(batch)
        padded += max(batch) * len(batch)
    return 1 - real / padded if padded else 0.0
