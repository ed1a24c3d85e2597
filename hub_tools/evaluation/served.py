"""A model under evaluation on OpenAI-compatible servers: :class:`ServedVLM`, the :class:`ChatVLM` interface over HTTP.

``generate(images, texts, max_new_tokens) -> list[str]`` with the released prompts, as
:class:`~hub_tools.evaluation.harness.ChatVLM`: the client loads the model's processor and config (no weights),
builds the same prompt string (the ``llava_llama_3`` conversation for LLaVA models with a Llama-3 tokenizer, else
the chat template), and sends it through the verbatim per-request chat template of
:mod:`hub_tools.synthesis.served`, with the tokenizer's BOS written in front where the in-process call adds one.
Greedy, the same stop tokens, replies with special tokens skipped, as generated (not stripped).

Qwen2-VL's published image budget (``min_pixels`` / ``max_pixels``) is a processor setting: vLLM takes it per
request (``mm_processor_kwargs``); ``transformers serve`` cannot, so there the run is *approximate* unless the
budget equals the served processor's own, and is refused unless ``allow_approximate`` (``--allow-approximate``).
"""

from __future__ import annotations

import json
from typing import Any

from hub_tools.synthesis.endpoint_client import RefusalGuard, RequestRejected, raise_endpoint_errors

APPROXIMATE = (
    "transformers serve cannot take Qwen2-VL's published image budget (min/max pixels {want}) per request; its "
    "processor uses {have}, so the predictions would only approximate in-process ones. Serve the model with vLLM, "
    "pass --min-pixels/--max-pixels matching the served processor, or accept it with --allow-approximate"
)


class ServedVLM:
    """``model`` (the served name; its processor must load here) behind ``urls``; see the module doc."""

    def __init__(
        self,
        model: str,
        urls: list[str],
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        prompt_format: str = "released",
        concurrency: int | None = None,
        api_key_env: str | None = None,
        server: str = "auto",
        allow_approximate: bool = False,
        request_timeout: float | None = None,
    ):
        from transformers import AutoConfig, AutoProcessor, GenerationConfig

        from hub_tools.errors import loading
        from hub_tools.evaluation.prompting import EXTRA_STOP_TOKENS, QWEN_VL_TYPES, check_prompt_format
        from hub_tools.synthesis.endpoint_probe import SERVER_KINDS, open_pool
        from hub_tools.synthesis.prompts import image_token_of, prompt_style

        check_prompt_format(prompt_format)
        if server not in SERVER_KINDS:
            raise ValueError(f"--server must be one of {', '.join(SERVER_KINDS)}, not {server!r}")
        self.model_id = model
        with loading("model", model):
            self.processor = AutoProcessor.from_pretrained(model)
            config = AutoConfig.from_pretrained(model)
        self.tokenizer = getattr(self.processor, "tokenizer", None)
        if self.tokenizer is None:
            raise ValueError(f"{model}: its processor has no tokenizer")
        self.model_type = getattr(config, "model_type", "")
        self.prompt_style = prompt_style(self.model_type, self.processor, prompt_format)  # as in-process
        self.image_token = image_token_of(self.processor)
        self.chat_template = getattr(self.processor, "chat_template", None) or getattr(
            self.tokenizer, "chat_template", None
        )
        if self.prompt_style == "chat_template" and not self.chat_template:
            raise ValueError(f"{model}: neither its processor nor its tokenizer has a chat template")
        try:
            generation_config = GenerationConfig.from_pretrained(model)
        except OSError:
            generation_config = GenerationConfig()
        eos = generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None:
            eos.append(self.tokenizer.eos_token_id)
        vocab = self.tokenizer.get_vocab()
        eos += [vocab[t] for t in EXTRA_STOP_TOKENS if t in vocab]
        self.eos_token_ids = sorted(set(eos))
        self.pool = open_pool(
            urls,
            model,
            api_key_env=api_key_env,
            concurrency=concurrency,
            request_timeout=request_timeout,
            server=server,
        )
        self.server = self.pool.server
        self.guard = RefusalGuard()
        self.mm_kwargs: dict[str, int] = {}
        if self.model_type in QWEN_VL_TYPES and (min_pixels or max_pixels):
            size = dict(getattr(self.processor.image_processor, "size", None) or {})
            want = {"min_pixels": min_pixels, "max_pixels": max_pixels}
            have = {"min_pixels": size.get("shortest_edge"), "max_pixels": size.get("longest_edge")}
            differs = any(v and v != have[k] for k, v in want.items())
            if differs and self.server == "vllm":
                self.mm_kwargs = {k: v for k, v in want.items() if v}
            elif differs and not allow_approximate:
                self.pool.close()
                raise ValueError(APPROXIMATE.format(want=want, have=have))
        self.batch_size = self.pool.size

    def close(self) -> None:
        """Close the connections."""
        self.pool.close()

    def prompt(self, text: str) -> str:
        """The text sent for one question: the in-process prompt, plus the BOS the in-process tokenizer call adds."""
        from hub_tools.evaluation.prompting import released_llava_prompt

        if self.prompt_style == "llava_llama_3":
            prompt = released_llava_prompt(text, self.image_token)
        else:
            messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
            prompt = self.processor.apply_chat_template(
                messages, chat_template=self.chat_template, tokenize=False, add_generation_prompt=True
            )
        bos = self.tokenizer.bos_token
        if (
            self.prompt_style == "llava_llama_3"
            and bos
            and self.tokenizer("x")["input_ids"][:1] == [self.tokenizer.bos_token_id]
        ):
            prompt = bos + prompt  # in-process the tokenizer adds it (two BOS, as released); servers add none
        return prompt

    def request_body(self, image: Any, text: str, max_new_tokens: int) -> dict:
        """The ``/chat/completions`` body of one question; the image as its source's own bytes where the server sees
        the in-process pixels from them, else a PNG of its pixels as RGB (:mod:`hub_tools.synthesis.image_payload`)."""
        from hub_tools.synthesis.image_payload import image_url_for
        from hub_tools.synthesis.served import VERBATIM_TEMPLATE

        content = [
            {"type": "image_url", "image_url": {"url": image_url_for(image)}},
            {"type": "text", "text": self.prompt(text)},
        ]
        body: dict[str, Any] = {"model": self.model_id, "messages": [{"role": "user", "content": content}]}
        if self.server == "vllm":
            body.update(
                chat_template=VERBATIM_TEMPLATE,
                add_special_tokens=False,
                temperature=0.0,
                max_tokens=max_new_tokens,
                skip_special_tokens=True,
                stop_token_ids=self.eos_token_ids,
            )
            if self.mm_kwargs:
                body["mm_processor_kwargs"] = self.mm_kwargs
        else:
            config = {"do_sample": False, "max_new_tokens": max_new_tokens, "eos_token_id": self.eos_token_ids}
            if self.tokenizer.pad_token_id is not None:
                config["pad_token_id"] = self.tokenizer.pad_token_id
            body.update(
                chat_template_kwargs={"chat_template": VERBATIM_TEMPLATE}, generation_config=json.dumps(config)
            )
        return body

    def generate(self, images: list, texts: list[str], max_new_tokens: int) -> list:
        """Greedy answers, in order, all in flight at once; a question the server refused is a
        :class:`RequestRejected` in its slot (the harness records the reason; :attr:`guard` stops a run of them); an
        answer about the endpoint raises before anything of the batch is written."""
        from hub_tools.synthesis.image_payload import prepare_payloads

        prepare_payloads(images)  # conversions, if any, at once in the process pool
        bodies = [self.request_body(im, t, max_new_tokens) for im, t in zip(images, texts)]
        replies = self.pool.post_many("/chat/completions", bodies, max_new_tokens=max_new_tokens)
        raise_endpoint_errors(replies)
        out = []
        for n, reply in enumerate(replies):
            if isinstance(reply, RequestRejected):
                self.guard.hold(n, reply)
                out.append(reply)
                continue
            self.guard.release()
            content = (reply["choices"][0].get("message") or {}).get("content")
            out.append(content if isinstance(content, str) else "")
        return out
