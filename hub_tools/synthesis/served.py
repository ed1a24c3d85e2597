"""The synthesizer on OpenAI-compatible servers: :class:`ServedSynthesizer`, the engine interface over HTTP.

``generate(batch) -> list[str]`` as the in-process engines (:mod:`hub_tools.synthesis.engines`), with the same
outputs under greedy decoding: the client loads the synthesizer's *processor* only (tokenizer, chat template,
image token; no weights) and builds the exact prompt string the in-process engine tokenizes; each request carries
it through a per-request chat template (:data:`VERBATIM_TEMPLATE`) that renders the user text verbatim, with the
image as an ``image_url`` data URL: the source's own bytes where every server decodes them to the in-process
pixels, else a lossless PNG of those pixels (:mod:`hub_tools.synthesis.image_payload`). The server kinds and what
they need (:data:`SERVER_KINDS`):

- ``transformers`` (``transformers serve``): the template goes in ``chat_template_kwargs``, the decoding in a
  ``generation_config`` JSON (the model's own config, greedy, our stop tokens as ``eos_token_id`` so that the
  turn end never stops it, ``max_new_tokens``). ``transformers serve`` drops special tokens from replies unless
  the served folder's tokenizer declares a response template; a folder prepared by :func:`prepare_served_folder`
  (``adamllm serve-folder MODEL DIR``) declares one that returns the raw decode, turn markers included. Without it
  the markers are lost and the run is refused (there is nothing to split turns on).
- ``vllm`` (``vllm serve``): ``chat_template`` at the top level, ``skip_special_tokens: false``,
  ``spaces_between_special_tokens: false``, ``ignore_eos: true`` with our ``stop_token_ids``, ``temperature: 0``.

The endpoints are opened by :func:`~hub_tools.synthesis.endpoint_probe.open_pool` (probed for the model before the
first record). A record the server refuses (a 4xx about the request) is returned as a
:class:`~hub_tools.errors.BadInput` in its slot; an answer about the endpoint stops the run
(:mod:`hub_tools.synthesis.endpoint_client` classifies every answer).
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path
from typing import Any

from hub_tools.synthesis.endpoint_client import EndpointPool, raise_endpoint_errors
from hub_tools.synthesis.endpoint_probe import SERVER_KINDS, open_pool

VERBATIM_TEMPLATE = (
    "{% for message in messages %}{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for part in message['content'] %}{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{% endfor %}"
)
"""A chat template that renders the messages' text verbatim: the prompt we send is the prompt the model sees."""
RAW_RESPONSE_TEMPLATE = {
    "start_anchor_pattern": r"\Z",
    "fields": {"content": {"content": "text", "content_args": {"strip": False}}},
}
"""A ``response_template`` under which ``transformers serve`` returns the raw decode (special tokens kept)."""
NO_RAW_REPLIES = (
    "transformers serve drops special tokens (the synthesizer's turn markers) from its replies unless the served "
    "folder declares a raw response template; serve a copy made with: adamllm serve-folder {model} SERVED_DIR "
    "(then: transformers serve SERVED_DIR, and pass --synthesizer SERVED_DIR)"
)


def prepare_served_folder(source: str, out_dir: str) -> Path:
    """Copy model folder ``source`` to ``out_dir`` with :data:`RAW_RESPONSE_TEMPLATE` in its tokenizer config (and
    ``clean_up_tokenization_spaces`` off, as the in-process decode).

    The weights are linked, not copied, where the filesystem allows (``transformers serve`` only reads them).
    """
    src, out = Path(source), Path(out_dir)
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"{source} is not a model folder (no config.json)")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out_dir} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_dir():
            shutil.copytree(item, out / item.name)
        elif item.suffix in (".safetensors", ".bin"):
            try:
                (out / item.name).hardlink_to(item)
            except OSError:
                shutil.copy2(item, out / item.name)
        else:
            shutil.copy2(item, out / item.name)
    config_path = out / "tokenizer_config.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config["response_template"] = RAW_RESPONSE_TEMPLATE
    config["clean_up_tokenization_spaces"] = False  # the server's decode then equals the in-process one
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False))
    return out


def image_data_url(image: Any) -> str:
    """A lossless ``data:image/png;base64,...`` URL of a PIL image's pixels (the road before images went as their
    own bytes; kept for comparison: ``benchmarks/bench_endpoint.py``). Requests use
    :func:`~hub_tools.synthesis.image_payload.image_url_for`."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class ServedSynthesizer:
    """The synthesizer ``model`` (the served name; its processor must load here) behind ``urls``.

    ``prompt_format`` / ``max_new_tokens`` as :class:`~hub_tools.synthesis.engines.TransformersEngine`;
    ``concurrency`` requests in flight per URL; the key from ``$api_key_env`` (default ``HF_TOKEN``).
    ``pipelined``: the runner may call :meth:`generate` for the next window while one is in flight (thread-safe).
    """

    pipelined = True

    def __init__(
        self,
        model: str,
        urls: list[str],
        *,
        max_new_tokens: int = 512,
        prompt_format: str = "auto",
        concurrency: int | None = None,
        api_key_env: str | None = None,
        server: str = "auto",
        request_timeout: float | None = None,
        image_size: Any = None,
        pool: EndpointPool | None = None,
    ):
        from transformers import AutoProcessor, GenerationConfig

        from hub_tools.errors import loading
        from hub_tools.synthesis.engines import _PromptMixin, stop_token_ids

        if server not in SERVER_KINDS:
            raise ValueError(f"--server must be one of {', '.join(SERVER_KINDS)}, not {server!r}")
        self.model = model
        with loading("synthesizer", model):
            self.processor = AutoProcessor.from_pretrained(model)
        try:
            self.generation_config = GenerationConfig.from_pretrained(model)
        except OSError:
            self.generation_config = GenerationConfig()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self._prompts = _PromptMixin()
        self._prompts.processor = self.processor
        self._prompts._setup_format(prompt_format)
        self.prompt_format = self._prompts.prompt_format
        self.turn_format = self._prompts.turn_format
        self.max_new_tokens = max_new_tokens
        self.image_size = image_size  # the stages' one image-size contract (hub_tools.data.image_size), as in-process
        self.stop_ids = stop_token_ids(self.tokenizer, self.turn_format, self.generation_config)
        self._stop_texts = [self.tokenizer.convert_ids_to_tokens(i) for i in self.stop_ids]
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.stop_ids[0] if self.stop_ids else 0)
        self.pool = pool or open_pool(
            urls,
            model,
            api_key_env=api_key_env,
            concurrency=concurrency,
            request_timeout=request_timeout,
            server=server,
        )
        self.server = getattr(self.pool, "server", None) or ("transformers" if server == "auto" else server)
        if (
            self.server == "transformers"
            and getattr(self.tokenizer, "response_template", None) != RAW_RESPONSE_TEMPLATE
        ):
            self.pool.close()
            raise ValueError(NO_RAW_REPLIES.format(model=model))
        self.batch_size = self.pool.size

    def close(self) -> None:
        """Close the connections."""
        self.pool.close()

    def prompt_string(self, caption: str, caption_prompt: str | None = None) -> str:
        """The text sent for one pair: the in-process prompt, with the tokenizer's own BOS in front for the
        released format (in-process it is tokenized with special tokens on; the servers tokenize a rendered chat
        without adding any)."""
        text = self._prompts.prompt(caption, caption_prompt)
        if self.prompt_format == "released":
            bos = self.tokenizer.bos_token
            if bos and self.tokenizer("x")["input_ids"][:1] == [self.tokenizer.bos_token_id]:
                text = bos + text
        return text

    def request_body(self, image: Any, caption: str, caption_prompt: str | None = None) -> dict:
        """The ``/chat/completions`` body of one pair for this server kind; the image (under the stages' image-size
        contract) goes as its source's own bytes where a server sees the in-process pixels from them, else as a PNG of
        the pixels (:mod:`hub_tools.synthesis.image_payload`)."""
        from hub_tools.data.image_size import apply
        from hub_tools.synthesis.image_payload import image_url_for

        content = [
            {
                "type": "image_url",
                "image_url": {"url": image_url_for(apply(image, getattr(self, "image_size", None)))},
            },
            {"type": "text", "text": self.prompt_string(caption, caption_prompt)},
        ]
        body: dict[str, Any] = {"model": self.model, "messages": [{"role": "user", "content": content}]}
        if self.server == "vllm":
            body.update(
                chat_template=VERBATIM_TEMPLATE,
                add_special_tokens=False,
                temperature=0.0,
                max_tokens=self.max_new_tokens,
                skip_special_tokens=False,
                spaces_between_special_tokens=False,
                ignore_eos=True,
                stop_token_ids=self.stop_ids,
            )
        else:
            config = self.generation_config.to_dict()
            config.update(
                do_sample=False,
                max_new_tokens=self.max_new_tokens,
                eos_token_id=self.stop_ids or None,
                pad_token_id=self.pad_id,
            )
            for key in ("transformers_version", "_from_model_config", "temperature", "top_p", "top_k"):
                config.pop(key, None)
            body.update(
                chat_template_kwargs={"chat_template": VERBATIM_TEMPLATE},
                generation_config=json.dumps(config),
            )
        return body

    def text_of(self, reply: dict) -> str:
        """The generation in a reply, cut before a trailing stop token (in-process decoding stops there)."""
        choice = reply["choices"][0]
        text = (choice.get("message") or {}).get("content")
        if text is None:
            text = choice.get("text") or ""
        if not isinstance(text, str):
            raise TypeError(f"the reply's content is {type(text).__name__}, not text")
        for stop in self._stop_texts:
            if stop and text.endswith(stop):
                return text[: -len(stop)]
        return text

    def generate(self, batch: list) -> list:
        """One raw generation per ``(image, caption, caption_prompt)`` item, in order, all in flight at once.

        A record the server refused comes back as a :class:`RequestRejected` in its slot (the runner holds it, see
        :class:`~hub_tools.synthesis.endpoint_client.RefusalGuard`); an answer about the endpoint
        (:class:`~hub_tools.synthesis.endpoint_client.EndpointError`) is raised: nothing of the batch is written.
        """
        from hub_tools.data.image_size import apply
        from hub_tools.synthesis.engines import _item
        from hub_tools.synthesis.image_payload import prepare_payloads

        items = [
            (apply(im, getattr(self, "image_size", None)), caption, prompt)
            for im, caption, prompt in map(_item, batch)
        ]
        prepare_payloads([image for image, _, _ in items])  # conversions, if any, at once in the process pool
        bodies, out = [], []
        for image, caption, caption_prompt in items:
            bodies.append(self.request_body(image, caption, caption_prompt))
        replies = self.pool.post_many("/chat/completions", bodies, max_new_tokens=self.max_new_tokens)
        raise_endpoint_errors(replies)
        for reply in replies:
            if isinstance(reply, BaseException):
                out.append(reply)
            else:
                try:
                    out.append(self.text_of(reply))
                except (KeyError, IndexError, TypeError, AttributeError) as err:
                    out.append(RuntimeError(f"the server's reply has no generation ({type(err).__name__}: {err})"))
        return out


ENDPOINT_ENV = "ADAMLLM_SYNTHESIZER_ENDPOINT"
"""The Space's served synthesizer: comma-separated base URLs; ``ADAMLLM_SYNTHESIZER`` names the served model."""


def served_synthesizer_from_env(model: str, max_new_tokens: int, env: dict | None = None) -> ServedSynthesizer | None:
    """A :class:`ServedSynthesizer` of ``model`` when ``$ADAMLLM_SYNTHESIZER_ENDPOINT`` is set (the demo then loads
    no weights: a CPU Space can front the real 8B synthesizer), else ``None``. The key: ``$HF_TOKEN``."""
    import os

    urls = [u.strip() for u in ((os.environ if env is None else env).get(ENDPOINT_ENV) or "").split(",") if u.strip()]
    return ServedSynthesizer(model, urls, max_new_tokens=max_new_tokens, concurrency=1) if urls else None
