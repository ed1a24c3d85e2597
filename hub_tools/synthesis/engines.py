"""Generation engines behind one interface: ``engine.generate(batch) -> list[str]``.

``batch`` is a list of ``(image, caption, caption_prompt)`` (PIL RGB image, caption text, the
pair's caption prompt or ``None``); the result holds one raw generation per item, in order, with
special tokens kept (turn markers are needed to split turns) and no stop or pad tokens.

- :class:`TransformersEngine` (default): greedy ``model.generate`` in micro-batches of
  ``batch_size``; items are sorted by prompt length (image tokens included) so a micro-batch
  pads little; left padding; bf16 + SDPA on CUDA; optional ``cache_implementation="static"``
  (transformers then compiles the decode step on GPU; prompt widths are padded to a multiple of
  :data:`STATIC_LENGTH_BUCKET` so that compiled shapes repeat across micro-batches).
- :class:`VllmEngine` (``pip install 'adamllm-hub[vllm]'``): ``vllm.LLM.generate`` with
  ``multi_modal_data``; vLLM is imported only when this engine is built.

Generation must run past the end of each turn: the turn-end token never stops it (:func:`stop_token_ids`).
"""

from __future__ import annotations

from typing import Any

from hub_tools.synthesis.parse import TurnFormat
from hub_tools.synthesis.prompts import pick_prompt_format, prompt_text, turn_format_for

STATIC_LENGTH_BUCKET = 64
"""With a static cache, prompts are left-padded to a multiple of this, so compiled shapes repeat."""
END_OF_TEXT_TOKENS = ("<|end_of_text|>", "<|endoftext|>", "</s>")
VLLM_MISSING = (
    "--backend vllm needs the optional vLLM dependency, which is not installed. "
    "Install it with: pip install 'adamllm-hub[vllm]' (or use --backend transformers)."
)


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value)]


def stop_token_ids(tokenizer: Any, turn_format: TurnFormat, generation_config: Any = None) -> list[int]:
    """Token ids that end a synthesizer generation: end-of-text tokens and EOS, never the turn end.

    The turn-end token (``<|eot_id|>``, ``<|im_end|>``) must not stop generation, which runs past the
    end of each turn. The stop tokens are the tokenizer's end-of-text tokens (``<|end_of_text|>``,
    ``<|endoftext|>``) plus the tokenizer / generation-config EOS, minus the turn-end token. The release
    stops on ``<|end_of_text|>`` alone.
    """
    vocab = tokenizer.get_vocab()
    ids = [vocab[t] for t in END_OF_TEXT_TOKENS if t in vocab]
    ids += _as_list(getattr(tokenizer, "eos_token_id", None))
    if generation_config is not None:
        ids += _as_list(getattr(generation_config, "eos_token_id", None))
    turn_ends = {vocab.get(turn_format.turn_end), vocab.get(turn_format.user_end.strip())}
    out = []
    for i in ids:
        if i not in turn_ends and i not in out:
            out.append(i)
    return out


def _item(entry: Any) -> tuple[Any, str, str | None]:
    image, caption, *rest = entry
    return image, caption, (rest[0] if rest else None)


class _PromptMixin:
    processor: Any
    prompt_format: str
    turn_format: TurnFormat

    def _setup_format(self, prompt_format: str) -> None:
        if prompt_format == "auto":
            prompt_format = pick_prompt_format(self.processor)
        if prompt_format not in ("released", "chat"):
            raise ValueError(f"prompt_format must be 'auto', 'released' or 'chat', not {prompt_format!r}")
        self.prompt_format = prompt_format
        self.turn_format = turn_format_for(self.processor, prompt_format)

    def prompt(self, caption: str, caption_prompt: str | None = None) -> str:
        """The prompt string this engine sends for one pair."""
        return prompt_text(self.processor, self.prompt_format, caption, caption_prompt, self.turn_format)


class TransformersEngine(_PromptMixin):
    """Batched greedy generation with ``transformers`` (any ``AutoModelForImageTextToText`` VLM).

    Pass ``model_id`` (Hub id or folder) or ready ``model`` + ``processor`` objects. ``device``
    ``"auto"`` picks CUDA when available; ``dtype`` ``"auto"`` is bf16 on CUDA, fp32 on CPU.
    ``cache_implementation`` (e.g. ``"static"``) is passed to ``generate``. ``min_new_tokens``
    forces generations to a length (benchmarks).
    """

    def __init__(
        self,
        model_id: str | None = None,
        batch_size: int = 8,
        max_new_tokens: int = 512,
        device: str = "auto",
        dtype: str = "auto",
        prompt_format: str = "auto",
        cache_implementation: str | None = None,
        min_new_tokens: int | None = None,
        *,
        model: Any = None,
        processor: Any = None,
    ):
        import torch

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {batch_size}")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        on_gpu = self.device.type == "cuda"
        if dtype == "auto":
            dtype = "bfloat16" if on_gpu else "float32"
        self.dtype = getattr(torch, dtype)
        if model is None or processor is None:
            if model_id is None:
                raise ValueError("TransformersEngine needs model_id, or both model and processor")
            from transformers import AutoModelForImageTextToText, AutoProcessor

            from hub_tools.errors import loading

            kwargs = {"dtype": self.dtype}
            if on_gpu:
                kwargs["attn_implementation"] = "sdpa"
            with loading("synthesizer", model_id):
                processor = processor or AutoProcessor.from_pretrained(model_id)
                model = model or AutoModelForImageTextToText.from_pretrained(model_id, **kwargs)
        self.model = model.to(self.device).eval()
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.min_new_tokens = min_new_tokens
        self.cache_implementation = cache_implementation
        self._setup_format(prompt_format)
        self.stop_ids = stop_token_ids(self.tokenizer, self.turn_format, self.model.generation_config)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.stop_ids[0] if self.stop_ids else 0)

    # -- preprocessing ---------------------------------------------------------------------------
    def encode(self, entry: Any) -> dict:
        """Processor outputs (batch of one) for one ``(image, caption, caption_prompt)`` item."""
        image, caption, caption_prompt = _item(entry)
        text = self.prompt(caption, caption_prompt)
        # The released prompt is tokenized with special tokens on (the tokenizer's BOS + the
        # prompt's own: two, as released); chat templates already hold their special tokens.
        return self.processor(
            text=[text], images=[image], return_tensors="pt", add_special_tokens=self.prompt_format == "released"
        )

    def collate(self, encodings: list[dict]) -> dict:
        """Stack single-item encodings into one left-padded batch (pixel patches padded where needed)."""
        import torch

        width = max(e["input_ids"].shape[1] for e in encodings)
        if self.cache_implementation == "static":  # few distinct shapes -> few recompilations
            width = -(-width // STATIC_LENGTH_BUCKET) * STATIC_LENGTH_BUCKET
        batch: dict[str, Any] = {}
        for key in encodings[0]:
            values = [e[key] for e in encodings]
            if key in ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids"):
                fill = self.pad_id if key == "input_ids" else 0
                rows = [torch.nn.functional.pad(v, (width - v.shape[1], 0), value=fill) for v in values]
                batch[key] = torch.cat(rows, dim=0)
            elif key == "pixel_values" and values[0].dim() == 5:  # LLaVA-NeXT: (1, patches, C, H, W)
                most = max(v.shape[1] for v in values)
                rows = [torch.nn.functional.pad(v, (0, 0, 0, 0, 0, 0, 0, most - v.shape[1])) for v in values]
                batch[key] = torch.cat(rows, dim=0)
            elif torch.is_tensor(values[0]):
                batch[key] = torch.cat(values, dim=0)  # Qwen2-VL patches / grid, image sizes
            else:
                batch[key] = values
        return batch

    # -- generation ------------------------------------------------------------------------------
    def generate(self, batch: list) -> list[str]:
        """One raw generation per ``(image, caption, caption_prompt)`` item, in input order."""
        if not batch:
            return []
        encodings = [self.encode(entry) for entry in batch]
        order = sorted(range(len(batch)), key=lambda i: encodings[i]["input_ids"].shape[1])
        out: list[str | None] = [None] * len(batch)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            texts = self._generate_batch(self.collate([encodings[i] for i in idx]))
            for i, text in zip(idx, texts, strict=True):
                out[i] = text
        return out  # type: ignore[return-value]

    def generate_ids(self, inputs: dict):
        """Run ``model.generate`` on a collated batch; returns the new token ids (batch, new_len)."""
        import torch

        inputs = {k: (v.to(self.device) if torch.is_tensor(v) else v) for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        kwargs = {
            "do_sample": False,
            "max_new_tokens": self.max_new_tokens,
            "eos_token_id": self.stop_ids or None,
            "pad_token_id": self.pad_id,
        }
        if self.min_new_tokens:
            kwargs["min_new_tokens"] = self.min_new_tokens
        if self.cache_implementation:
            kwargs["cache_implementation"] = self.cache_implementation
        with torch.inference_mode():
            ids = self.model.generate(**inputs, **kwargs)
        return ids[:, inputs["input_ids"].shape[1] :]

    def _generate_batch(self, inputs: dict) -> list[str]:
        new = self.generate_ids(inputs).tolist()
        return [self.decode(row) for row in new]

    def decode(self, ids: list[int]) -> str:
        """Text of generated ids: cut at the first stop token, pad tokens dropped, special tokens kept."""
        stops = set(self.stop_ids)
        for n, tok in enumerate(ids):
            if tok in stops:
                ids = ids[:n]
                break
        ids = [t for t in ids if t != self.pad_id]
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


class VllmEngine(_PromptMixin):
    """Greedy generation through ``vllm.LLM.generate`` with ``multi_modal_data`` (optional extra ``[vllm]``)."""

    def __init__(
        self,
        model_id: str,
        batch_size: int | None = None,
        max_new_tokens: int = 512,
        dtype: str = "auto",
        prompt_format: str = "auto",
        max_model_len: int = 4096,
        **llm_kwargs: Any,
    ):
        try:
            import vllm
        except ImportError as err:
            raise ImportError(VLLM_MISSING) from err
        from transformers import AutoProcessor

        from hub_tools.errors import loading

        with loading("synthesizer", model_id):
            self.processor = AutoProcessor.from_pretrained(model_id)
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self._setup_format(prompt_format)
        self.max_new_tokens = max_new_tokens
        if batch_size:
            llm_kwargs.setdefault("max_num_seqs", batch_size)
        self.llm = vllm.LLM(
            model=model_id, dtype=dtype, max_model_len=max_model_len, limit_mm_per_prompt={"image": 1}, **llm_kwargs
        )
        self.stop_ids = stop_token_ids(self.tokenizer, self.turn_format)
        # ignore_eos: the model's EOS may be the turn end (<|eot_id|>); stop_token_ids decide instead.
        self.sampling = vllm.SamplingParams(
            temperature=0.0,
            max_tokens=max_new_tokens,
            stop_token_ids=self.stop_ids,
            ignore_eos=True,
            skip_special_tokens=False,
            spaces_between_special_tokens=False,
        )

    def generate(self, batch: list) -> list[str]:
        """One raw generation per ``(image, caption, caption_prompt)`` item, in input order."""
        requests = []
        for entry in batch:
            image, caption, caption_prompt = _item(entry)
            requests.append({"prompt": self.prompt(caption, caption_prompt), "multi_modal_data": {"image": image}})
        outputs = self.llm.generate(requests, self.sampling, use_tqdm=False)
        return [o.outputs[0].text for o in outputs]


def make_engine(backend: str, model_id: str, **kwargs: Any):
    """Build the engine for ``backend`` (``"transformers"`` or ``"vllm"``)."""
    if backend == "transformers":
        return TransformersEngine(model_id, **kwargs)
    if backend == "vllm":
        kwargs = {k: v for k, v in kwargs.items() if k in ("batch_size", "max_new_tokens", "dtype", "prompt_format")}
        return VllmEngine(model_id, **kwargs)
    raise ValueError(f"unknown backend {backend!r}; expected 'transformers' or 'vllm'")
