"""The LLM consistency checker: few-shot prompt, greedy label generation, shared-prefix KV cache.

The default decision is the released rule (generate up to 2 tokens, keep iff the text is ``yes``); the
prompt's shared prefix is encoded once and reused, which gives the same tokens as running each prompt whole
(tested). How both work: :class:`LLMChecker`.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub_tools.defaults import DEFAULT_CHECKER
from hub_tools.filtering.prompt import LABELS, Item, PromptTemplate

DECISIONS = ("released", "label-logits")
"""``released``: greedy generation, keep iff the text is ``yes``; ``label-logits``: argmax of the 3 label logits."""
MAX_CONTEXT = 8192
"""The released checker's context length (Meta-Llama-3-8B)."""
MAX_NEW_TOKENS = 2
"""Tokens the released checker generates at most."""


def released_verdict(generated: str) -> str:
    """``Yes`` iff ``generated.strip().lower() == "yes"`` (the released keep rule); ``No`` / ``Open`` likewise; else ``Other``."""
    return {"yes": "Yes", "no": "No", "open": "Open"}.get(generated.strip().lower(), "Other")


def label_token_ids(tokenizer, labels: Sequence[str] = LABELS) -> list[int]:
    """First token id of each label word as a continuation (``" Yes"``); raises if two collide."""
    ids = []
    for label in labels:
        toks = tokenizer(" " + label, add_special_tokens=False)["input_ids"]
        if not toks:
            raise ValueError(f"the tokenizer produced no token for {label!r}")
        ids.append(toks[0])
    if len(set(ids)) != len(ids):
        shown = {lab: tokenizer.convert_ids_to_tokens(i) for lab, i in zip(labels, ids)}
        raise ValueError(f"label words share a first token with this tokenizer: {shown}")
    return ids


def _ids(value) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    k = 0
    while k < n and a[k] == b[k]:
        k += 1
    return k


class LLMChecker:
    """Judge items with a causal LM (default ``meta-llama/Meta-Llama-3-8B``).

    ``decision``: ``"released"`` (default) or ``"label-logits"`` (below).
    ``template``: a :class:`~hub_tools.filtering.prompt.PromptTemplate` (default: ours; ``prefix``
    replaces only our worked-examples prefix). ``shared_prefix=True`` (default) reuses the prefix
    KV cache; ``False`` runs the whole prompt per item (the naive baseline). ``model`` /
    ``tokenizer`` may be passed already loaded.

    **Decisions.** ``decision="released"`` (default) is the released rule: the checker *generates* up to
    ``max_new_tokens=2`` tokens greedily over the whole vocabulary after the prompt (an end-of-text
    token stops it), the text is decoded with special tokens skipped, and the item is kept iff that
    text, stripped and lower-cased, equals ``yes``. The verdict label is :func:`released_verdict` of
    the text: ``Yes`` (kept), ``No`` / ``Open`` (the text is ``no`` / ``open``) or ``Other`` (anything
    else: ``Yes,``, ``The``, ...). ``decision="label-logits"`` is our variant: the label is the argmax
    of the next-token logits of the first tokens of `` Yes`` / `` No`` / `` Open`` (it never abstains
    and ignores `` yes``); nothing is generated. Both record ``probs``, the softmax over those three
    first-token logits, as a diagnostic.

    **Context.** The released checker (Meta-Llama-3-8B) had 8,192 tokens of context and left a longer
    prompt to vLLM, which refuses it (no verdict). Here a prompt longer than ``max_context`` is not run
    either: its verdict is ``Other`` (not kept, like every verdict but ``Yes``) with
    ``reason: "prompt exceeds 8192 tokens"``, so the run goes on and the item is counted. Values are not
    clipped to fit (the release inserts them as given; ``--clip-fields`` is the option). Generation stops
    at the context limit too.

    **Shared prefix.** The part of the prompt before the first placeholder
    (:attr:`~hub_tools.filtering.prompt.PromptTemplate.prefix`) is the same for every item, so its KV
    cache is computed once per checker (batch 1) and, for each batch, expanded to the batch size
    (stride-0 views, never written) and extended with the item suffixes only. Every item's prompt is
    tokenized whole (as the released checker did); the cached part is the longest run of prefix tokens
    that all items of the batch share, so a token that merges across the prefix boundary is simply
    recomputed. Suffixes are padded *on the left, between the prefix and the suffix*: the attention
    mask hides the pad slots, position ids continue from the prefix for each item's real tokens, and
    every item's last real token sits in the last column, so one ``logits_to_keep=1`` forward serves
    the whole batch. The second generated token is one more cached decode step for the whole batch
    (the first tokens fed back, positions continuing; rows that already stopped are ignored). The naive
    mode (``shared_prefix=False``) runs the whole prompt per item (left-padded batch, its own KV cache
    for the decode step); both see exactly the same token sequences, so generated text is equal and
    probabilities agree up to float rounding (tested, also against ``generate``).
    """

    def __init__(
        self,
        model_id: str = DEFAULT_CHECKER,
        *,
        model=None,
        tokenizer=None,
        device: str | None = None,
        dtype: str | None = None,
        shared_prefix: bool = True,
        prefix: str | None = None,
        template: PromptTemplate | None = None,
        decision: str = "released",
        max_context: int = MAX_CONTEXT,
        max_new_tokens: int = MAX_NEW_TOKENS,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r}; choose one of {', '.join(DECISIONS)}")
        if template is not None and prefix is not None:
            raise ValueError("pass either a prompt template or a prefix, not both")
        self.name = model_id
        self.decision = decision
        self.max_context = max_context
        self.max_new_tokens = max_new_tokens
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        from hub_tools.errors import loading

        with loading("checker", model_id):
            if tokenizer is None:
                tokenizer = AutoTokenizer.from_pretrained(model_id)
            if model is None:
                torch_dtype = dtype or ("bfloat16" if self.device.startswith("cuda") else "float32")
                model = AutoModelForCausalLM.from_pretrained(model_id, dtype=getattr(torch, torch_dtype))
                model.to(self.device)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.shared_prefix = shared_prefix
        self.label_ids = label_token_ids(tokenizer)
        pad = tokenizer.pad_token_id
        if pad is None:
            pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        self.pad_id = pad
        generation_config = getattr(model, "generation_config", None)
        self.eos_ids = set(_ids(tokenizer.eos_token_id)) | set(_ids(getattr(generation_config, "eos_token_id", None)))
        self.template = template if template is not None else PromptTemplate.default(prefix)
        self.prefix_text = self.template.prefix
        # Prompts are tokenized whole, with the tokenizer's special tokens (BOS); the prefix likewise.
        self.prefix_ids: list[int] = tokenizer(self.prefix_text)["input_ids"]
        self._prefix_kv = None

    # -- tokens ---------------------------------------------------------------------------------
    def prompt_ids(self, items: Sequence[Item]) -> list[list[int]]:
        """Token ids of each item's whole prompt (special tokens included, as the released checker)."""
        if not items:
            return []
        return self.tokenizer([self.template.render(it) for it in items])["input_ids"]

    def suffix_ids(self, item: Item) -> list[int]:
        """Token ids of an item's prompt after the prefix tokens it shares with every prompt."""
        ids = self.prompt_ids([item])[0]
        return ids[_common_prefix(ids, self.prefix_ids) :]

    # -- forward passes -------------------------------------------------------------------------
    def _prefix_cache(self):
        """The prefix's per-layer (keys, values) at batch size 1, computed once."""
        import torch

        if self._prefix_kv is None:
            ids = torch.tensor([self.prefix_ids], device=self.device)
            with torch.inference_mode():
                out = self.model(input_ids=ids, use_cache=True)
            cache = out.past_key_values
            self._prefix_kv = [(layer.keys, layer.values) for layer in cache.layers]
        return self._prefix_kv

    def _expanded_cache(self, batch: int, length: int):
        """A fresh ``DynamicCache`` holding the first ``length`` prefix tokens for ``batch`` rows, without copying.

        Plain dynamic layers get stride-0 batch views of the batch-1 prefix tensors; the forward pass
        concatenates the suffix onto them into new tensors, so the stored prefix is never written.
        Other layer types (e.g. sliding window) are filled through their own ``update``.
        """
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        cache = DynamicCache(config=self.model.config)
        for layer, (k, v) in zip(cache.layers, self._prefix_cache()):
            k = k[:, :, :length].expand(batch, -1, -1, -1)
            v = v[:, :, :length].expand(batch, -1, -1, -1)
            if type(layer) is DynamicLayer:
                layer.lazy_initialization(k, v)
                layer.keys, layer.values = k, v
            else:
                layer.update(k, v)
        return cache

    def _first_shared(self, seqs: list[list[int]]):
        """Last-position logits ``(batch, vocab)`` of each prompt via the prefix cache, plus the decode state."""
        import torch

        shared = min(min(_common_prefix(s, self.prefix_ids), len(s) - 1) for s in seqs)
        if shared <= 0:
            return self._first_naive(seqs)
        suffixes = [s[shared:] for s in seqs]
        batch, width = len(suffixes), max(len(s) for s in suffixes)
        ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        pos = torch.full((batch, width), shared, dtype=torch.long)
        for i, s in enumerate(suffixes):
            pad = width - len(s)
            ids[i, pad:] = torch.tensor(s)
            mask[i, shared + pad :] = 1
            pos[i, pad:] = torch.arange(shared, shared + len(s))
        cache = self._expanded_cache(batch, shared)
        mask = mask.to(self.device)
        with torch.inference_mode():
            out = self.model(
                input_ids=ids.to(self.device),
                attention_mask=mask,
                position_ids=pos.to(self.device),
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        state = {"cache": out.past_key_values, "mask": mask, "next_pos": [len(s) for s in seqs]}
        return out.logits[:, -1].float(), state

    def _first_naive(self, seqs: list[list[int]], use_cache: bool = True):
        """Last-position logits ``(batch, vocab)`` of each whole prompt (left-padded), plus the decode state."""
        import torch

        batch, width = len(seqs), max(len(s) for s in seqs)
        ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, width - len(s) :] = torch.tensor(s)
            mask[i, width - len(s) :] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        mask = mask.to(self.device)
        with torch.inference_mode():
            out = self.model(
                input_ids=ids.to(self.device),
                attention_mask=mask,
                position_ids=pos.to(self.device),
                use_cache=use_cache,
                logits_to_keep=1,
            )
        state = {"cache": out.past_key_values if use_cache else None, "mask": mask, "next_pos": [len(s) for s in seqs]}
        return out.logits[:, -1].float(), state

    def _next(self, state: dict, tokens: list[int]):
        """One cached decode step for the whole batch: feed one token per row, positions continuing."""
        import torch

        batch = len(tokens)
        state["mask"] = torch.cat([state["mask"], state["mask"].new_ones((batch, 1))], dim=1)
        pos = torch.tensor([[p] for p in state["next_pos"]], device=self.device)
        state["next_pos"] = [p + 1 for p in state["next_pos"]]
        with torch.inference_mode():
            out = self.model(
                input_ids=torch.tensor([[t] for t in tokens], device=self.device),
                attention_mask=state["mask"],
                position_ids=pos,
                past_key_values=state["cache"],
                use_cache=True,
                logits_to_keep=1,
            )
        return out.logits[:, -1].float()

    def _run(self, seqs: list[list[int]], budgets: list[int], shared: bool):
        """First-position logits ``(batch, vocab)`` and up to ``budgets[i]`` greedy tokens per row (EOS stops)."""
        logits, state = self._first_shared(seqs) if shared else self._first_naive(seqs, any(b > 0 for b in budgets))
        first = logits
        generated: list[list[int]] = [[] for _ in seqs]
        active = [b > 0 for b in budgets]
        while True:
            tokens = logits.argmax(-1).tolist()
            for i, t in enumerate(tokens):
                if not active[i]:
                    continue
                if t in self.eos_ids:
                    active[i] = False
                    continue
                generated[i].append(t)
                active[i] = len(generated[i]) < budgets[i]
            if not any(active):
                return first, generated
            logits = self._next(state, tokens)

    def label_logits(self, items: list[Item], shared_prefix: bool | None = None):
        """``(len(items), 3)`` float tensor of label logits (Yes, No, Open) for one batch."""
        shared = self.shared_prefix if shared_prefix is None else shared_prefix
        seqs = self.prompt_ids(items)
        first, _ = self._run(seqs, [0] * len(seqs), shared)
        return first[:, self.label_ids]

    def judge(self, items: list[Item], shared_prefix: bool | None = None) -> list[dict]:
        """Verdicts ``{"label", "generated", "probs"}`` for one batch of items, in order (see the module docstring).

        ``generated`` is the decoded greedy output (``None`` under ``label-logits``); an item whose
        prompt exceeds the context gets ``{"label": "Other", "generated": None, "probs": None, "reason": ...}``.
        """
        if not items:
            return []
        shared = self.shared_prefix if shared_prefix is None else shared_prefix
        seqs = self.prompt_ids(items)
        verdicts: list[dict | None] = [None] * len(items)
        run = []
        for i, s in enumerate(seqs):
            if len(s) > self.max_context:
                reason = f"prompt exceeds {self.max_context} tokens"
                verdicts[i] = {"label": "Other", "generated": None, "probs": None, "reason": reason}
            else:
                run.append(i)
        if run:
            released = self.decision == "released"
            budgets = [min(self.max_new_tokens, self.max_context - len(seqs[i]) + 1) if released else 0 for i in run]
            first, generated = self._run([seqs[i] for i in run], budgets, shared)
            probs = first[:, self.label_ids].softmax(-1).cpu().tolist()
            for i, p, gen in zip(run, probs, generated):
                probs_by_label = dict(zip(LABELS, (float(x) for x in p)))
                if released:
                    text = self.tokenizer.decode(gen, skip_special_tokens=True)
                    verdicts[i] = {"label": released_verdict(text), "generated": text, "probs": probs_by_label}
                else:
                    best = max(range(len(LABELS)), key=lambda j: p[j])
                    verdicts[i] = {"label": LABELS[best], "generated": None, "probs": probs_by_label}
        return verdicts


def load_checker(spec: str, **kwargs):
    """``"lexical"`` -> :class:`~hub_tools.filtering.lexical.LexicalChecker`; anything else -> :class:`LLMChecker`."""
    if spec == "lexical":
        from hub_tools.filtering.lexical import LexicalChecker

        return LexicalChecker()
    return LLMChecker(spec, **kwargs)
