"""Generation engines behind one interface: ``engine.generate(batch) -> list[str]``.

``batch`` is a list of ``(image, caption, caption_prompt)`` (PIL RGB image, caption text, the
pair's caption prompt or ``None``); the result holds one raw generation per item, in order, with
special tokens kept (turn markers are needed to split turns) and no stop or pad tokens. When items
cannot be preprocessed (e.g. an aspect ratio Qwen2-VL's processor refuses), ``generate`` raises
:class:`BadItems` (a :class:`~hub_tools.errors.BadInput`) naming them and why, before generating
anything: bad input, not an engine failure (the runner rejects them and generates the rest).

- :class:`TransformersEngine` (default): greedy decoding in micro-batches of ``batch_size``; items
  are sorted by prompt length (image tokens included) so a micro-batch pads little; left padding;
  bf16 + SDPA on CUDA. Two decode paths (``decode=``):

  - ``"generate"``: ``model.generate``; optional ``cache_implementation="static"`` (transformers then
    compiles the forward on GPU). The default on CPU.
  - ``"compiled"``: our own loop (:meth:`TransformersEngine.decode_static`): one batched prefill
    (images included) into a :class:`~transformers.StaticCache`, then a decode step that runs the
    model on one token per row, takes the greedy argmax, applies ``min_new_tokens`` and marks rows
    that hit a stop token, all inside one function. On CUDA that function is compiled with
    ``torch.compile(mode="reduce-overhead")`` (CUDA-graph replay: no per-step Python or kernel
    launch overhead beyond one call); stop tokens are checked on the host only every
    :data:`STOP_CHECK_EVERY` steps. The default on CUDA. Off CUDA the same function runs eagerly
    (``compile_decode`` forces either way), so the CPU tests check this very code path.

  With a static cache (either path) prompt widths are padded to a multiple of
  :data:`STATIC_LENGTH_BUCKET`, and compiled micro-batches are filled up to ``batch_size`` rows,
  so that compiled shapes repeat across micro-batches. transformers' continuous batching
  (``generate_batch``) takes token ids only (no ``pixel_values``, transformers 5.23), so it cannot
  serve the image prompts here.
- Served engines (``vllm serve``, ``transformers serve``, Inference Endpoints) are reached over HTTP by
  :class:`~hub_tools.synthesis.served.ServedSynthesizer` (``--endpoint``), the same interface; vLLM's multi-GPU
  serving is used that way (the in-process vLLM backend was removed: it had never run here).

Generation must run past the end of each turn: the turn-end token never stops it (:func:`stop_token_ids`).
"""

from __future__ import annotations

from typing import Any

from hub_tools.errors import BadInput
from hub_tools.synthesis.parse import TurnFormat
from hub_tools.synthesis.prompts import pick_prompt_format, prompt_text, turn_format_for

STATIC_LENGTH_BUCKET = 64
"""With a static cache, prompts are left-padded to a multiple of this, so compiled shapes repeat."""
DECODE_MODES = ("auto", "generate", "compiled")
"""``decode=`` values of :class:`TransformersEngine` (``auto``: ``compiled`` on CUDA, ``generate`` elsewhere)."""
STOP_CHECK_EVERY = 16
"""The compiled decode loop reads the "all rows stopped" flag on the host once per this many steps."""
GREEDY_ONLY_SETTINGS = (
    "repetition_penalty",
    "no_repeat_ngram_size",
    "bad_words_ids",
    "suppress_tokens",
    "begin_suppress_tokens",
    "sequence_bias",
    "forced_bos_token_id",
    "forced_eos_token_id",
)
"""Generation-config settings that change greedy tokens; the compiled loop does not apply them (falls back)."""
END_OF_TEXT_TOKENS = ("<|end_of_text|>", "<|endoftext|>", "</s>")


class BadItems(BadInput):
    """Items of a batch that cannot be preprocessed: ``reasons`` maps their index in the batch to the reason."""

    def __init__(self, reasons: dict[int, str]):
        first = min(reasons)
        super().__init__(reasons[first] if len(reasons) == 1 else f"{len(reasons)} items: {reasons[first]}")
        self.reasons = reasons


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

    def encode(self, entry: Any) -> dict:
        """Processor outputs (batch of one) for one ``(image, caption, caption_prompt)`` item.

        The engine's ``image_size`` policy (:mod:`hub_tools.data.image_size`), when set, resizes the image first.
        """
        from hub_tools.data.image_size import apply

        image, caption, caption_prompt = _item(entry)
        image = apply(image, getattr(self, "image_size", None))
        text = self.prompt(caption, caption_prompt)
        # The released prompt is tokenized with special tokens on (the tokenizer's BOS + the
        # prompt's own: two, as released); chat templates already hold their special tokens.
        return self.processor(
            text=[text], images=[image], return_tensors="pt", add_special_tokens=self.prompt_format == "released"
        )

    def encode_all(self, batch: list) -> list[dict]:
        """:meth:`encode` of every item; :class:`BadItems` naming each item the processor cannot preprocess.

        Whatever the processor raises for one item (its image or its text) is that item's problem: the model
        never saw it, so it says nothing about the engine.
        """
        from hub_tools.errors import describe_exception

        encoded, bad = [], {}
        for n, entry in enumerate(batch):
            try:
                encoded.append(self.encode(entry))
            except Exception as err:
                size = getattr(_item(entry)[0], "size", None)
                shape = f" ({size[0]}x{size[1]} pixels)" if isinstance(size, tuple) and len(size) == 2 else ""
                bad[n] = f"the synthesizer's processor cannot preprocess this pair{shape}: {describe_exception(err)}"
        if bad:
            raise BadItems(bad)
        return encoded


class TransformersEngine(_PromptMixin):
    """Batched greedy generation with ``transformers`` (any ``AutoModelForImageTextToText`` VLM).

    Pass ``model_id`` (Hub id or folder) or ready ``model`` + ``processor`` objects. ``device``
    ``"auto"`` picks CUDA when available; ``dtype`` ``"auto"`` is bf16 on CUDA, fp32 on CPU.
    ``min_new_tokens`` forces generations to a length (benchmarks). ``image_size``: an
    :class:`hub_tools.data.image_size.ImageSize` applied to every image before the processor (None: as given).

    ``decode``: ``"auto"`` (default: ``"compiled"`` on CUDA, ``"generate"`` elsewhere),
    ``"generate"`` (``model.generate``; ``cache_implementation``, e.g. ``"static"``, is passed to it)
    or ``"compiled"`` (batched prefill into a static cache, then :meth:`decode_static`'s one-token
    step with argmax and stop checks inside, compiled with ``torch.compile(mode="reduce-overhead")``
    when ``compile_decode`` is true: default on CUDA only; eager otherwise, same tokens). The compiled
    loop applies greedy argmax, stop tokens and ``min_new_tokens`` only: when the model's generation
    config sets anything else that changes greedy tokens (:data:`GREEDY_ONLY_SETTINGS`, e.g. a
    repetition penalty) the engine falls back to ``"generate"`` with a warning.
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
        decode: str = "auto",
        compile_decode: bool | None = None,
        *,
        model: Any = None,
        processor: Any = None,
        image_size: Any = None,
    ):
        import torch

        if decode not in DECODE_MODES:
            raise ValueError(f"decode must be one of {', '.join(DECODE_MODES)}, not {decode!r}")
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
        self.image_size = image_size  # an ImageSize (the stages' one image-size contract) or None
        self._setup_format(prompt_format)
        self.stop_ids = stop_token_ids(self.tokenizer, self.turn_format, self.model.generation_config)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.stop_ids[0] if self.stop_ids else 0)
        if decode == "auto":
            decode = "compiled" if on_gpu else "generate"
        if decode == "compiled" and (blocking := self._greedy_changers()):
            import warnings

            warnings.warn(
                f"decode='compiled' does not apply the generation config's {', '.join(blocking)}; "
                "using model.generate instead",
                stacklevel=2,
            )
            decode = "generate"
        self.decode_mode = decode
        self.compile_decode = on_gpu if compile_decode is None else bool(compile_decode)
        self._cache = None  # the compiled loop's StaticCache, reused while (batch, length) repeat
        self._step = None

    def _greedy_changers(self) -> list[str]:
        """Generation-config settings (of :data:`GREEDY_ONLY_SETTINGS`) that would change greedy tokens."""
        config = getattr(self.model, "generation_config", None)
        found = []
        for name in GREEDY_ONLY_SETTINGS:
            value = getattr(config, name, None)
            if value is None or (name == "repetition_penalty" and float(value) == 1.0):
                continue
            if isinstance(value, (list, tuple, dict)) and not value:
                continue
            found.append(name)
        return found

    @property
    def _bucket_widths(self) -> bool:
        """Pad prompt widths (and fill micro-batches) so that compiled shapes repeat."""
        compiled_loop = self.decode_mode == "compiled" and self.compile_decode
        return compiled_loop or (self.decode_mode == "generate" and self.cache_implementation == "static")

    # -- preprocessing (encode: the mixin's) -------------------------------------------------------
    def collate(self, encodings: list[dict]) -> dict:
        """Stack single-item encodings into one left-padded batch (pixel patches padded where needed)."""
        import torch

        width = max(e["input_ids"].shape[1] for e in encodings)
        if self._bucket_widths:  # few distinct shapes -> few recompilations
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
        """One raw generation per ``(image, caption, caption_prompt)`` item, in input order; :class:`BadItems`
        (nothing generated) when items cannot be preprocessed."""
        if not batch:
            return []
        encodings = self.encode_all(batch)
        order = sorted(range(len(batch)), key=lambda i: encodings[i]["input_ids"].shape[1])
        out: list[str | None] = [None] * len(batch)
        fill = self.decode_mode == "compiled" and self.compile_decode
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            rows = [encodings[i] for i in idx]
            if fill:  # a short last micro-batch repeats its last row: the compiled step keeps its shape
                rows += [rows[-1]] * (self.batch_size - len(rows))
            texts = self._generate_batch(self.collate(rows))
            for i, text in zip(idx, texts):
                out[i] = text
        return out  # type: ignore[return-value]

    def _to_device(self, inputs: dict) -> dict:
        import torch

        inputs = {k: (v.to(self.device) if torch.is_tensor(v) else v) for k, v in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        return inputs

    def generate_ids(self, inputs: dict):
        """Greedy new token ids ``(batch, new_len)`` of a collated batch, by the engine's decode path.

        After a row's stop token the row holds pad ids (both paths); :meth:`decode` cuts at the stop.
        """
        if self.decode_mode == "compiled":
            return self.decode_static(inputs)
        return self.generate_plain(inputs)

    def generate_plain(self, inputs: dict):
        """Run ``model.generate`` on a collated batch; returns the new token ids (batch, new_len)."""
        import torch

        inputs = self._to_device(inputs)
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

    # -- the compiled decode loop ------------------------------------------------------------------
    def _static_cache(self, batch: int, length: int):
        """A :class:`~transformers.StaticCache` for ``batch`` rows of ``length`` tokens, reused (reset) when the
        shape repeats, so the compiled step sees the same cache tensors (no recompilation, no re-capture)."""
        from transformers import StaticCache

        key = (batch, length)
        if self._cache is not None and self._cache[0] == key:
            self._cache[1].reset()
            return self._cache[1]
        self._cache = None  # free the old one first
        cache = StaticCache(config=self.model.config.get_text_config(decoder=True), max_cache_len=length)
        self._cache = (key, cache)
        return cache

    def _step_impl(self, tokens, positions, mask, cache, done, allow_stop, stop_ids, stop_cols):
        """One greedy decode step for the whole batch: forward one token per row, argmax, stop bookkeeping.

        ``allow_stop`` (0-dim bool) is false while ``min_new_tokens`` is not reached: stop tokens are then
        suppressed. Rows already ``done`` emit the pad id. Returns ``(next_tokens, done)``.
        """
        import torch

        out = self.model(
            input_ids=tokens,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return self._pick(out.logits[:, -1], done, allow_stop, stop_ids, stop_cols, torch)

    def _pick(self, logits, done, allow_stop, stop_ids, stop_cols, torch):
        logits = torch.where(stop_cols & ~allow_stop, torch.finfo(logits.dtype).min, logits)
        nxt = logits.argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, self.pad_id), nxt)
        return nxt, done | torch.isin(nxt, stop_ids)

    def _decode_step(self):
        """The step function: :meth:`_step_impl`, compiled (CUDA graphs) when ``compile_decode``."""
        if self._step is None:
            import torch

            step = self._step_impl
            if self.compile_decode:
                step = torch.compile(step, mode="reduce-overhead", dynamic=False)
            self._step = step
        return self._step

    def decode_static(self, inputs: dict):
        """Greedy new token ids ``(batch, max_new_tokens or fewer)``: batched prefill, then the decode step.

        The prefill runs the whole prompt (images included) once, eagerly, into a static cache sized
        ``prompt width + max_new_tokens``; its positions are the model's own generation positions
        (M-RoPE for Qwen2-VL). Each decode step feeds one token per row at position ``real prompt
        tokens + step`` (plus Qwen2-VL's ``rope_deltas``) under a fixed full-width attention mask (the
        causal mask hides the unwritten slots), so its inputs keep their shapes and addresses.
        """
        import torch

        inputs = self._to_device(inputs)
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        batch, width = ids.shape
        max_new = self.max_new_tokens
        min_new = self.min_new_tokens or 0
        cache = self._static_cache(batch, width + max_new)
        model = self.model
        with torch.no_grad():  # as generate(); the cache must not hold inference tensors for a compiled step
            prepare = getattr(model, "_prepare_position_ids_for_generation", None)
            rest = {k: v for k, v in inputs.items() if k != "input_ids"}
            if prepare is not None:  # the positions generate() would use (3D M-RoPE for Qwen2-VL)
                positions = prepare(ids, {**rest, "input_ids": ids, "past_key_values": cache})
            elif hasattr(getattr(model, "model", None), "get_rope_index"):
                positions = None  # older transformers: the model derives its M-RoPE positions itself
            else:
                positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
            out = model(**inputs, position_ids=positions, past_key_values=cache, use_cache=True, logits_to_keep=1)
            stop_ids = torch.tensor(self.stop_ids or [-1], device=self.device)
            stop_cols = torch.zeros(out.logits.shape[-1], dtype=torch.bool, device=self.device)
            stop_cols[stop_ids[stop_ids >= 0]] = True
            allow = [torch.tensor(False, device=self.device), torch.tensor(True, device=self.device)]
            done = torch.zeros(batch, dtype=torch.bool, device=self.device)
            nxt, done = self._pick(out.logits[:, -1], done, allow[min_new <= 0], stop_ids, stop_cols, torch)
            del out
            # Decode positions: real prompt tokens + step, shifted by the M-RoPE deltas where the model has them.
            pos = mask.long().sum(-1, keepdim=True)
            deltas = getattr(getattr(model, "model", None), "rope_deltas", None)
            if torch.is_tensor(deltas):
                pos = pos + deltas.to(pos.device).reshape(-1, 1).expand(batch, 1)
            full_mask = torch.cat([mask, mask.new_ones((batch, max_new))], dim=1)
            step = self._decode_step()
            compiled = self.compile_decode
            tokens = [nxt]
            for k in range(1, max_new):
                if k % STOP_CHECK_EVERY == 0 and bool(done.all()):
                    break
                if compiled:
                    torch.compiler.cudagraph_mark_step_begin()
                nxt, done = step(nxt[:, None], pos, full_mask, cache, done, allow[k >= min_new], stop_ids, stop_cols)
                if compiled:  # outputs of a CUDA-graph replay are overwritten by the next one
                    nxt, done = nxt.clone(), done.clone()
                tokens.append(nxt)
                pos = pos + 1
        return torch.stack(tokens, dim=1)

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


def make_engine(model_id: str, **kwargs: Any) -> TransformersEngine:
    """Build the in-process engine (:class:`TransformersEngine`) for ``model_id``."""
    return TransformersEngine(model_id, **kwargs)
