"""The consistency checker on OpenAI-compatible servers: :class:`ServedChecker`, ``judge(items)`` over HTTP.

The released decision, as :class:`~hub_tools.filtering.llm.LLMChecker`: each item's whole few-shot prompt goes to
``/v1/completions`` (the server tokenizes it with its special tokens, as the released checker and the in-process
one do), greedy, up to 2 new tokens (fewer near the context limit), stopping at the model's end-of-text tokens;
the reply text (special tokens skipped) is judged by :func:`~hub_tools.filtering.llm.released_verdict`. The client
loads the checker's *tokenizer* only, to refuse a prompt longer than the context (verdict ``Other`` with the
reason, as in-process) without sending it. ``probs`` (the label-logit diagnostic) is ``None``: a server does not
return those logits. The ``label-logits`` decision needs logits and is not offered here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from hub_tools.filtering.llm import MAX_CONTEXT, MAX_NEW_TOKENS, _ids, released_verdict
from hub_tools.filtering.prompt import Item, PromptTemplate
from hub_tools.synthesis.endpoint_client import EndpointPool, RefusalGuard, RequestRejected, raise_endpoint_errors


class ServedChecker:
    """The checker ``model`` (the served name; its tokenizer must load here) behind ``urls``; see the module doc."""

    decision = "released"

    def __init__(
        self,
        model: str,
        urls: list[str],
        *,
        template: PromptTemplate | None = None,
        concurrency: int | None = None,
        api_key_env: str | None = None,
        server: str = "auto",
        max_context: int = MAX_CONTEXT,
        max_new_tokens: int = MAX_NEW_TOKENS,
        request_timeout: float | None = None,
        pool: EndpointPool | None = None,
    ):
        from transformers import AutoTokenizer, GenerationConfig

        from hub_tools.errors import loading
        from hub_tools.synthesis.endpoint_probe import SERVER_KINDS, open_pool

        if server not in SERVER_KINDS:
            raise ValueError(f"--server must be one of {', '.join(SERVER_KINDS)}, not {server!r}")
        self.name = model
        with loading("checker", model):
            self.tokenizer = AutoTokenizer.from_pretrained(model)
        try:
            generation_config = GenerationConfig.from_pretrained(model)
        except OSError:
            generation_config = None
        self.eos_ids = sorted(
            set(_ids(self.tokenizer.eos_token_id)) | set(_ids(getattr(generation_config, "eos_token_id", None)))
        )
        self.template = template if template is not None else PromptTemplate.default()
        self.max_context = max_context
        self.max_new_tokens = max_new_tokens
        self.pool = pool or open_pool(
            urls,
            model,
            api_key_env=api_key_env,
            concurrency=concurrency,
            request_timeout=request_timeout,
            server=server,
            probe_path="/completions",
        )
        self.server = getattr(self.pool, "server", None) or ("transformers" if server == "auto" else server)
        self.batch_size = self.pool.size
        self.guard = RefusalGuard()

    def close(self) -> None:
        """Close the connections."""
        self.pool.close()

    def request_body(self, prompt: str, budget: int) -> dict:
        """The ``/completions`` body of one prompt with ``budget`` new tokens at most."""
        body = {"model": self.name, "prompt": prompt}
        if self.server == "vllm":
            body.update(temperature=0.0, max_tokens=budget, skip_special_tokens=True)
        else:
            config = {"do_sample": False, "max_new_tokens": budget, "eos_token_id": self.eos_ids or None}
            body["generation_config"] = json.dumps(config)
        return body

    def judge(self, items: Sequence[Item]) -> list[dict]:
        """Verdicts ``{"label", "generated", "probs": None}`` for ``items``, in order, all in flight at once.

        A prompt longer than the context: ``Other`` with the reason, not sent. A request the server refuses:
        ``Other`` with the server's reason, counted by :attr:`guard` (a run of refusals with one status stops the
        run). An answer about the endpoint raises (:class:`~hub_tools.synthesis.endpoint_client.EndpointError`):
        nothing of the batch is written, a rerun judges it again.
        """
        prompts = [self.template.render(it) for it in items]
        verdicts: list[dict | None] = [None] * len(items)
        send, bodies = [], []
        for i, prompt in enumerate(prompts):
            n = len(self.tokenizer(prompt)["input_ids"])
            if n > self.max_context:
                reason = f"prompt exceeds {self.max_context} tokens"
                verdicts[i] = {"label": "Other", "generated": None, "probs": None, "reason": reason}
                continue
            send.append(i)
            bodies.append(self.request_body(prompt, min(self.max_new_tokens, self.max_context - n + 1)))
        replies = self.pool.post_many("/completions", bodies, max_new_tokens=self.max_new_tokens)
        raise_endpoint_errors(replies)
        for i, reply in zip(send, replies):
            if isinstance(reply, RequestRejected):
                self.guard.hold(i, reply)  # raises on a run of refusals: the endpoint's fault
                verdicts[i] = {"label": "Other", "generated": None, "probs": None, "reason": reply.reason}
                continue
            self.guard.release()
            text = reply["choices"][0].get("text")
            if not isinstance(text, str):
                text = ""
            verdicts[i] = {"label": released_verdict(text), "generated": text, "probs": None}
        return verdicts  # type: ignore[return-value]
