"""The LLM consistency checker: few-shot prompt, verdict from next-token label logits, shared prefix.

One forward pass per item, no sampling: the verdict is the label word (`` Yes`` / `` No`` /
`` Open``, first token of each as a continuation of ``Verdict:``) with the highest next-token
logit, and the stored probabilities are the softmax over those three logits.

**Shared prefix.** The instruction and worked examples (:func:`~hub_tools.filtering.prompt.prefix_text`)
are the same for every item, so their KV cache is computed once per checker (batch 1) and, for
each batch, expanded to the batch size and extended with the item suffixes only. Suffixes are
padded *on the left, between the prefix and the suffix*: the attention mask hides the pad slots,
position ids continue from the prefix for each item's real tokens, and every item's last real
token sits in the last column, so one ``logits_to_keep=1`` forward serves the whole batch. The
token sequence each item sees is exactly ``prefix_ids + suffix_ids``, the same as the naive mode
(which runs the whole prompt per item), so verdicts are equal up to float rounding (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

from hub_tools.filtering.prompt import LABELS, Item, item_text, prefix_text

DEFAULT_CHECKER = "meta-llama/Meta-Llama-3-8B"


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


class LLMChecker:
    """Judge items with a causal LM (default ``meta-llama/Meta-Llama-3-8B``).

    ``shared_prefix=True`` (default) reuses the prefix KV cache; ``False`` runs the whole prompt
    per item (the naive baseline). ``model`` / ``tokenizer`` may be passed already loaded.
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
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = model_id
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
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
        self.prefix_text = prefix if prefix is not None else prefix_text()
        # The tokenizer adds BOS (if it has one) to the prefix; suffixes are encoded without specials.
        self.prefix_ids: list[int] = tokenizer(self.prefix_text)["input_ids"]
        self._prefix_kv = None

    # -- tokens ---------------------------------------------------------------------------------
    def suffix_ids(self, item: Item) -> list[int]:
        """Token ids of an item's suffix (no special tokens)."""
        return self.tokenizer(item_text(item), add_special_tokens=False)["input_ids"]

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

    def _expanded_cache(self, batch: int):
        """A fresh ``DynamicCache`` holding the prefix for ``batch`` rows, without copying the prefix.

        Plain dynamic layers get stride-0 batch views of the batch-1 prefix tensors; the forward pass
        concatenates the suffix onto them into new tensors, so the stored prefix is never written.
        Other layer types (e.g. sliding window) are filled through their own ``update``.
        """
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        cache = DynamicCache(config=self.model.config)
        for layer, (k, v) in zip(cache.layers, self._prefix_cache()):
            k, v = k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)
            if type(layer) is DynamicLayer:
                layer.lazy_initialization(k, v)
                layer.keys, layer.values = k, v
            else:
                layer.update(k, v)
        return cache

    def _label_logits_shared(self, suffixes: list[list[int]]):
        import torch

        prefix_len = len(self.prefix_ids)
        batch, width = len(suffixes), max(len(s) for s in suffixes)
        ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, prefix_len + width), dtype=torch.long)
        mask[:, :prefix_len] = 1
        pos = torch.full((batch, width), prefix_len, dtype=torch.long)
        for i, s in enumerate(suffixes):
            pad = width - len(s)
            ids[i, pad:] = torch.tensor(s)
            mask[i, prefix_len + pad :] = 1
            pos[i, pad:] = torch.arange(prefix_len, prefix_len + len(s))
        cache = self._expanded_cache(batch)
        with torch.inference_mode():
            out = self.model(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=pos.to(self.device),
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        return out.logits[:, -1, self.label_ids].float()

    def _label_logits_naive(self, suffixes: list[list[int]]):
        import torch

        seqs = [self.prefix_ids + s for s in suffixes]
        batch, width = len(seqs), max(len(s) for s in seqs)
        ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, width - len(s) :] = torch.tensor(s)
            mask[i, width - len(s) :] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            out = self.model(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=pos.to(self.device),
                use_cache=False,
                logits_to_keep=1,
            )
        return out.logits[:, -1, self.label_ids].float()

    def label_logits(self, items: list[Item], shared_prefix: bool | None = None):
        """``(len(items), 3)`` float tensor of label logits (Yes, No, Open) for one batch."""
        shared = self.shared_prefix if shared_prefix is None else shared_prefix
        suffixes = [self.suffix_ids(it) for it in items]
        return self._label_logits_shared(suffixes) if shared else self._label_logits_naive(suffixes)

    def judge(self, items: list[Item], shared_prefix: bool | None = None) -> list[dict]:
        """Verdicts ``{"label", "probs": {"Yes", "No", "Open"}}`` for one batch of items, in order."""
        if not items:
            return []
        probs = self.label_logits(items, shared_prefix).softmax(-1).cpu().tolist()
        verdicts = []
        for p in probs:
            best = max(range(len(LABELS)), key=lambda j: p[j])
            verdicts.append({"label": LABELS[best], "probs": dict(zip(LABELS, (float(x) for x in p)))})
        return verdicts


def load_checker(spec: str, **kwargs):
    """``"lexical"`` -> :class:`~hub_tools.filtering.lexical.LexicalChecker`; anything else -> :class:`LLMChecker`."""
    if spec == "lexical":
        from hub_tools.filtering.lexical import LexicalChecker

        return LexicalChecker()
    return LLMChecker(spec, **kwargs)
