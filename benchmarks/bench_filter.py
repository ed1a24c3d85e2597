"""Consistency-checker throughput: naive (whole prompt per item) vs shared-prefix KV cache.

CPU section: the tiny offline Llama checker over 256 items with the full few-shot prompt, both
modes in one run, items/s and the ratio (and a check that both modes give the same verdicts).

GPU section (only when CUDA is available): the Llama-3-8B architecture from its published config
(hidden 4096, 32 layers, 32 heads, 8 KV heads, intermediate 14336, vocab 128256, rope theta
500000) with random bf16 weights, batch 32, a ~1,900-token prompt (the few-shot prefix padded with
extra worked examples), both modes. Random weights measure speed only; the tokenizer is the tiny
Llama-3-style one (its ids are valid for the 128K vocabulary).

    python benchmarks/bench_filter.py            # CPU, then GPU if present
    python benchmarks/bench_filter.py --skip-cpu # GPU only
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

WORDS = [
    "the",
    "scan",
    "shows",
    "a",
    "small",
    "round",
    "lesion",
    "in",
    "the",
    "left",
    "kidney",
    "with",
    "a",
    "clear",
    "margin",
    "and",
    "no",
    "fluid",
    "around",
    "it",
    "a",
    "plate",
    "of",
    "rice",
    "with",
    "egg",
    "carrot",
    "peas",
    "and",
    "onion",
    "fried",
    "in",
    "soy",
    "sauce",
    "served",
    "in",
    "a",
    "white",
    "bowl",
    "on",
    "a",
    "table",
    "microscopy",
    "of",
    "tissue",
    "stained",
    "pink",
    "and",
    "purple",
    "shows",
    "dense",
    "cells",
    "with",
    "dark",
    "nuclei",
    "near",
    "the",
    "vessel",
    "wall",
]


def make_items(n: int, seed: int = 0):
    """``n`` deterministic synthetic items of varied length (question ~12 words, informative 20-90)."""
    from hub_tools.filtering import Item, item_text

    rng = random.Random(seed)

    def words(k):
        return " ".join(rng.choice(WORDS) for _ in range(k))

    items = [
        Item(words(rng.randint(6, 16)).capitalize() + "?", words(rng.randint(20, 90)) + ".", words(rng.randint(1, 4)))
        for _ in range(n)
    ]
    # Like `filter_run`, which batches items of similar length together (less padding).
    return sorted(items, key=lambda it: len(item_text(it)))


def time_modes(checker, items, batch_size: int, naive_items: int | None = None, sync=lambda: None):
    """Judge ``items`` batch by batch in both modes, interleaved so load changes hit both alike.

    The naive mode runs only on every k-th batch so that about ``naive_items`` items (default: all)
    are judged, spread over the whole (length-sorted) list. Returns ``{mode: (seconds, n_items,
    labels)}`` after one warm-up batch per mode; labels are compared on the batches both ran.
    """
    naive_items = len(items) if naive_items is None else naive_items
    every = max(1, len(items) // max(1, naive_items))
    for shared in (False, True):  # warm-up (and the prefix cache for shared)
        checker.judge(items[:batch_size], shared_prefix=shared)
    sync()
    result = {"naive": [0.0, 0, []], "shared": [0.0, 0, []]}
    for n, b in enumerate(range(0, len(items), batch_size)):
        modes = [("naive", False), ("shared", True)]
        for name, shared in modes if n % 2 == 0 else modes[::-1]:
            if name == "naive" and n % every:
                continue
            batch = items[b : b + batch_size]
            start = time.perf_counter()
            verdicts = checker.judge(batch, shared_prefix=shared)
            sync()
            result[name][0] += time.perf_counter() - start
            result[name][1] += len(batch)
            result[name][2].append((b, [v["label"] for v in verdicts]))
    return {k: tuple(v) for k, v in result.items()}


def report(tag: str, result: dict) -> None:
    """Print items/s per mode, the speed-up and the verdict agreement."""
    rates = {}
    for name, label in (("naive", "naive        "), ("shared", "shared prefix")):
        secs, n, _ = result[name]
        rates[name] = n / secs
        print(f"[{tag}] {label}: {rates[name]:8.1f} items/s  ({n} items, {secs:.2f} s)")
    shared_by_batch = dict(result["shared"][2])
    pairs = [(a, b) for start, labels in result["naive"][2] for a, b in zip(labels, shared_by_batch[start])]
    agree = sum(a == b for a, b in pairs) / len(pairs)
    print(
        f"[{tag}] speed-up {rates['shared'] / rates['naive']:.1f}x, verdict agreement {agree:.1%} "
        f"(over {len(pairs)} items)"
    )


def cpu_section(args) -> None:
    """Tiny checker, full few-shot prompt, naive vs shared prefix."""
    import torch

    from hub_tools.defaults import default_tiny_cache_dir
    from hub_tools.filtering import LLMChecker
    from hub_tools.miniature.tiny_models import build_tiny_models

    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    cache = default_tiny_cache_dir()
    paths = build_tiny_models(cache)
    checker = LLMChecker(str(paths["llama"]), device="cpu")
    items = make_items(args.cpu_items)
    suffix_tokens = sum(len(checker.suffix_ids(it)) for it in items) / len(items)
    print(
        f"[cpu] tiny Llama checker, {len(items)} items, batch {args.batch_size}, prefix {len(checker.prefix_ids)} tokens, "
        f"mean suffix {suffix_tokens:.0f} tokens, torch threads {torch.get_num_threads()}"
    )
    report("cpu", time_modes(checker, items, args.batch_size))


def padded_prefix(tokenizer, target_prompt_tokens: int, mean_suffix: float) -> str:
    """The few-shot prefix plus extra worked examples, so prefix + mean suffix is closest to the target."""
    from hub_tools.filtering import prefix_text

    extra, rng = [], random.Random(1)
    labels = ("Yes", "No", "Open")
    best = None
    while True:
        text = prefix_text(tuple(extra))
        total = len(tokenizer(text)["input_ids"]) + mean_suffix
        if best is None or abs(total - target_prompt_tokens) < best[0]:
            best = (abs(total - target_prompt_tokens), text)
        if total >= target_prompt_tokens:
            return best[1]
        it = make_items(1, seed=rng.randrange(10**6))[0]
        extra.append((it.question, it.informative, it.precise, labels[len(extra) % 3]))


def llama3_8b_config(tokenizer, small: dict | None = None):
    """Meta-Llama-3-8B's architecture (random weights) for ``tokenizer``'s special tokens; ``small`` shrinks it
    (``{"hidden": H, "heads": N}``: 2 layers, 2 KV heads) to check a code path without a GPU."""
    from transformers import LlamaConfig

    hidden, heads = (small["hidden"], small["heads"]) if small else (4096, 32)
    return LlamaConfig(
        vocab_size=128256,
        hidden_size=hidden,
        intermediate_size=2 * hidden if small else 14336,
        num_hidden_layers=2 if small else 32,
        num_attention_heads=heads,
        num_key_value_heads=2 if small else 8,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        rms_norm_eps=1e-5,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def gpu_section(args) -> None:
    """Llama-3-8B architecture, random bf16 weights, batch 32, ~1,900-token prompt."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from hub_tools.filtering import LLMChecker, item_text
    from hub_tools.miniature.tiny_models import build_tiny_llama

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = AutoTokenizer.from_pretrained(build_tiny_llama(Path(tmp) / "llama"))
    small = args.smoke  # a shrunk config to check this code path without a GPU
    config = llama3_8b_config(tokenizer, small={"hidden": 256, "heads": 8} if small else None)
    t0 = time.perf_counter()
    torch.manual_seed(0)
    device = "cpu" if small else "cuda"
    with torch.device(device):
        torch.set_default_dtype(torch.bfloat16)
        model = LlamaForCausalLM(config).eval()
        torch.set_default_dtype(torch.float32)
    name = "smoke test on CPU, shrunk config" if small else torch.cuda.get_device_name()
    print(
        f"[gpu] {name} | Llama-3-8B architecture, random bf16 weights "
        f"({sum(p.numel() for p in model.parameters()) / 1e9:.2f} B params, built in {time.perf_counter() - t0:.0f} s)"
    )
    items = make_items(max(args.gpu_items, args.gpu_naive_items), seed=2)
    mean_suffix = sum(len(tokenizer(item_text(it), add_special_tokens=False)["input_ids"]) for it in items) / len(
        items
    )
    prefix = padded_prefix(tokenizer, args.prompt_tokens, mean_suffix)
    checker = LLMChecker("llama-3-8b-arch-random", model=model, tokenizer=tokenizer, device=device, prefix=prefix)
    print(
        f"[gpu] batch {args.gpu_batch}, prompt ~{len(checker.prefix_ids) + mean_suffix:.0f} tokens "
        f"(prefix {len(checker.prefix_ids)}, mean suffix {mean_suffix:.0f})"
    )
    sync = (lambda: None) if small else torch.cuda.synchronize
    result = time_modes(checker, items[: args.gpu_items], args.gpu_batch, args.gpu_naive_items, sync=sync)
    report("gpu", result)
    if not small:
        print(f"[gpu] peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")


def main(argv=None) -> int:
    """Run the CPU and (if CUDA is available) GPU sections."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu-items", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=16, help="CPU batch size")
    p.add_argument("--gpu-batch", type=int, default=32)
    p.add_argument("--gpu-items", type=int, default=512, help="items for the shared-prefix GPU run")
    p.add_argument("--gpu-naive-items", type=int, default=128, help="items for the naive GPU run")
    p.add_argument("--prompt-tokens", type=int, default=1900)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads for the CPU section (default 1: stable timings on a shared machine)",
    )
    p.add_argument("--skip-cpu", action="store_true")
    p.add_argument("--skip-gpu", action="store_true")
    p.add_argument("--smoke", action="store_true", help="run the GPU section with a shrunk model on CPU (code check)")
    args = p.parse_args(argv)
    if not args.skip_cpu:
        cpu_section(args)
    if not args.skip_gpu:
        import torch

        if torch.cuda.is_available() or args.smoke:
            gpu_section(args)
        else:
            print("[gpu] skipped: CUDA is not available")
    return 0


if __name__ == "__main__":
    sys.exit(main())
