"""One GPU round: every fast path against its plain baseline, on one card, in one run.

Sections (each run as its own process by ``benchmarks/gpu_round.sh``; each writes ``$OUT/<section>.json``):

- ``synth_qwen``: Qwen2-VL-2B architecture (random bf16 weights), batch 256, 336x336 images, new tokens
  forced: ``model.generate`` with the dynamic cache, ``model.generate`` with the static cache (transformers
  compiles the forward), and our compiled decode loop (``decode="compiled"``: batched prefill, CUDA-graph
  one-token step with argmax and stop checks inside); new tokens/s, first-call (compile) seconds, peak
  memory, and how many greedy tokens the compiled loop shares with ``generate`` (bf16 near-ties on random
  weights may flip a few);
- ``synth_llava``: LLaVA-NeXT-8B architecture (Llama-3-8B + CLIP-L/336), batch 64: dynamic ``generate``
  vs the compiled loop;
- ``filter``: the consistency checker on the Llama-3-8B architecture, the released 2-token rule, batch 32,
  ~1,900-token prompts: naive (whole prompt per item), shared prefix on unsorted batches, shared prefix on
  batches sorted by suffix length; items/s and verdict agreement;
- ``sft``: Qwen2-VL-2B architecture, no checkpointing, chunked cross-entropy, batch 16, one 448x448 image
  per row: fixed 1,024-token rows (reference), rows of 768-1,280 tokens in random order (baseline), the
  same rows in the order of transformers' ``LengthGroupedSampler`` (what ``--train_sampling_strategy
  group_by_length`` gives with our length column), and fully sorted batches; tokens/s, MFU, padding
  share, peak memory.

``--smoke`` runs every section on tiny models on the CPU (a code check: the figures mean nothing).
``python benchmarks/gpu_round.py --summary`` prints the table of whatever JSON is in ``$OUT``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SECTIONS = ("synth_qwen", "synth_llava", "filter", "sft")


def out_dir() -> Path:
    """``$OUT`` (set by the device tool), else ``./gpu_round_out``."""
    path = Path(os.environ.get("OUT") or "gpu_round_out")
    path.mkdir(parents=True, exist_ok=True)
    return path


def env_info(device: str) -> dict:
    import torch
    import transformers

    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    return {"device": name, "torch": torch.__version__, "transformers": transformers.__version__}


def save(section: str, payload: dict) -> None:
    """Write ``$OUT/<section>.json`` (rewritten after every row, so a timeout keeps what was measured)."""
    (out_dir() / f"{section}.json").write_text(json.dumps(payload, indent=2) + "\n")


def _sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _reset_peak(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak(device: str) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 1) if device == "cuda" else None


# ---------------------------------------------------------------------------------------------
# synthesis
# ---------------------------------------------------------------------------------------------
def _shared_tokens(a, b, stops: set[int]) -> float:
    """Share of rows whose greedy tokens (up to the first stop) are identical."""

    def cut(row):
        for n, t in enumerate(row):
            if t in stops:
                return row[: n + 1]
        return row

    return sum(cut(x) == cut(y) for x, y in zip(a, b)) / max(1, len(a))


def synth_section(section: str, smoke: bool, budget_s: float) -> dict:
    import torch

    from hub_tools.miniature.tiny_models import build_tiny_models
    from hub_tools.synthesis import TransformersEngine

    device = "cpu" if smoke else "cuda"
    t0 = time.perf_counter()
    tiny_dir = Path(tempfile.mkdtemp()) / "tiny"
    paths = build_tiny_models(tiny_dir)
    if smoke:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        key = "qwen2_vl" if section == "synth_qwen" else "llava_next"
        model = AutoModelForImageTextToText.from_pretrained(paths[key]).eval()
        proc = AutoProcessor.from_pretrained(paths[key])
        batch_size, new_tokens, arch = 4, 16, f"tiny {key}"
    else:
        from bench_synthesis import llava_next_8b, qwen2_vl_2b

        build = qwen2_vl_2b if section == "synth_qwen" else llava_next_8b
        model, proc = build(tiny_dir)
        batch_size = 256 if section == "synth_qwen" else 64
        new_tokens = 128
        arch = "Qwen2-VL-2B" if section == "synth_qwen" else "LLaVA-NeXT-8B"
    from bench_synthesis import sample_batch

    result = {"section": section, "arch": arch, **env_info(device), "batch": batch_size, "new_tokens": new_tokens}
    result["rows"] = []
    modes = [("generate", "dynamic", 1), ("generate", "static", 2), ("compiled", "static", 2)]
    if section == "synth_llava":
        modes = [("generate", "dynamic", 1), ("compiled", "static", 2), ("generate", "static", 2)]
    items = sample_batch(batch_size, (336, 336) if not smoke else (96, 96))
    reference = None
    for decode, cache, runs in modes:
        if time.perf_counter() - t0 > budget_s:
            result["rows"].append({"decode": decode, "cache": cache, "skipped": "section budget"})
            continue
        _reset_peak(device)
        try:
            engine = TransformersEngine(
                model=model,
                processor=proc,
                batch_size=batch_size,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                cache_implementation="static" if (decode == "generate" and cache == "static") else None,
                decode=decode,
                device=device,
                compile_decode=None if not smoke else False,
            )
            enc = engine.collate([engine.encode(b) for b in items])
            times = []
            for _ in range(runs):  # the first call of a compiled path compiles
                _sync(device)
                start = time.perf_counter()
                ids = engine.generate_ids(enc)
                _sync(device)
                times.append(time.perf_counter() - start)
            rows = ids.tolist()
            if reference is None:
                reference = rows
            row = {
                "decode": decode,
                "cache": cache,
                "compiled": engine.compile_decode if decode == "compiled" else (cache == "static" and not smoke),
                "prompt_tokens": int(enc["input_ids"].shape[1]),
                "new_tokens": int(ids.shape[1]),
                "first_call_s": round(times[0], 2),
                "generate_s": round(times[-1], 3),
                "new_tokens_per_s": round(batch_size * ids.shape[1] / times[-1]),
                "ms_per_step": round(1000 * times[-1] / ids.shape[1], 2),
                "peak_mem_gib": _peak(device),
                "rows_equal_to_first_mode": round(_shared_tokens(rows, reference, set(engine.stop_ids)), 3),
            }
        except torch.OutOfMemoryError:
            row = {"decode": decode, "cache": cache, "error": "CUDA out of memory"}
        except Exception as err:  # noqa: BLE001 - report and go on with the other modes
            row = {"decode": decode, "cache": cache, "error": repr(err)[:400]}
        result["rows"].append(row)
        print(json.dumps({"section": section, **row}), flush=True)
        save(section, result)
        engine = None  # noqa: F841 - drop its static cache before the next mode
    result["elapsed_s"] = round(time.perf_counter() - t0, 1)
    return result


# ---------------------------------------------------------------------------------------------
# filter
# ---------------------------------------------------------------------------------------------
def filter_section(smoke: bool, budget_s: float) -> dict:
    import torch
    from bench_filter import llama3_8b_config, make_items, padded_prefix
    from transformers import AutoTokenizer, LlamaForCausalLM

    from hub_tools.filtering import LLMChecker
    from hub_tools.miniature.tiny_models import build_tiny_llama
    from hub_tools.training.collator import padding_share

    device = "cpu" if smoke else "cuda"
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = AutoTokenizer.from_pretrained(build_tiny_llama(Path(tmp) / "llama"))
    config = llama3_8b_config(tokenizer, small={"hidden": 128, "heads": 4} if smoke else None)
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM._from_config(config, dtype=torch.bfloat16, attn_implementation="sdpa").eval()
    batch, n_items, n_naive = (8, 32, 16) if smoke else (32, 512, 96)
    items = make_items(n_items, seed=2)  # sorted by suffix text length
    from hub_tools.filtering import item_text

    mean_suffix = sum(len(tokenizer(item_text(it), add_special_tokens=False)["input_ids"]) for it in items) / len(
        items
    )
    prefix = padded_prefix(tokenizer, 300 if smoke else 1900, mean_suffix)
    checker = LLMChecker("llama-3-8b-arch-random", model=model, tokenizer=tokenizer, device=device, prefix=prefix)
    suffix_len = [len(checker.suffix_ids(it)) for it in items]
    shuffled = list(range(len(items)))
    random.Random(0).shuffle(shuffled)
    by_length = sorted(range(len(items)), key=lambda i: suffix_len[i])
    result = {"section": "filter", "arch": "tiny Llama" if smoke else "Llama-3-8B", **env_info(device)}
    result.update(batch=batch, decision=checker.decision, prefix_tokens=len(checker.prefix_ids))
    result["mean_suffix_tokens"] = round(sum(suffix_len) / len(suffix_len), 1)
    result["rows"] = []

    def run(name, order, shared, limit=None):
        order = order[:limit] if limit else order
        checker.judge([items[i] for i in order[:batch]], shared_prefix=shared)  # warm-up
        _reset_peak(device)
        labels = {}
        _sync(device)
        start = time.perf_counter()
        for b in range(0, len(order), batch):
            idx = order[b : b + batch]
            for i, v in zip(idx, checker.judge([items[i] for i in idx], shared_prefix=shared)):
                labels[i] = v["label"]
        _sync(device)
        took = time.perf_counter() - start
        row = {
            "mode": name,
            "items": len(order),
            "items_per_s": round(len(order) / took, 1),
            "suffix_padding_share": round(padding_share(suffix_len, batch, order), 3),
            "peak_mem_gib": _peak(device),
        }
        result["rows"].append(row)
        print(json.dumps({"section": "filter", **row}), flush=True)
        save("filter", result)
        return labels

    naive_order = shuffled[:n_naive]
    naive = run("naive, unsorted", naive_order, shared=False)
    unsorted = run("shared prefix, unsorted", shuffled, shared=True)
    if time.perf_counter() - t0 < budget_s:
        sorted_labels = run("shared prefix, sorted by suffix length", by_length, shared=True)
        agree = sum(sorted_labels[i] == unsorted[i] for i in unsorted) / len(unsorted)
        result["verdict_agreement_sorted_vs_unsorted"] = round(agree, 4)
    result["verdict_agreement_naive_vs_shared"] = round(sum(naive[i] == unsorted[i] for i in naive) / len(naive), 4)
    result["elapsed_s"] = round(time.perf_counter() - t0, 1)
    return result


# ---------------------------------------------------------------------------------------------
# SFT
# ---------------------------------------------------------------------------------------------
def sft_section(smoke: bool, budget_s: float, peak_tflops: float) -> dict:
    import importlib.util

    import torch
    from bench_sft import QWEN2_VL_2B, TINY, build_model, run_config, synthetic_rows
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from hub_tools.training.collator import padding_share

    device = torch.device("cpu" if smoke else "cuda")
    dtype = torch.float32 if smoke else torch.bfloat16
    cfg = TINY if smoke else QWEN2_VL_2B
    seq_len, image_px = (64, 56) if smoke else (1024, 448)
    batch, steps, warmup = (4, 2, 1) if smoke else (16, 6, 2)
    t0 = time.perf_counter()
    result = {"section": "sft", "arch": "tiny Qwen2-VL" if smoke else "Qwen2-VL-2B", **env_info(device.type)}
    result.update(batch=batch, steps=steps, warmup=warmup, seq_len=seq_len, image_px=image_px, rows=[])
    result["liger"] = importlib.util.find_spec("liger_kernel") is not None
    model = build_model(cfg, device, dtype, "sdpa")
    common = {"cfg": cfg, "steps": steps, "warmup": warmup, "peak": peak_tflops, "device": device, "dtype": dtype}
    n = batch * (steps + warmup)
    fixed = synthetic_rows(cfg, n, seq_len, image_px, vary=False)
    # A pool as large as a real dataset's sampler sees (the sampler sorts within mega-batches of 50 batches;
    # on a pool of only n rows it would hardly group); the timed steps take the first n rows of each order.
    pool = synthetic_rows(cfg, 200 * batch, seq_len, image_px, vary=True, seed=1)
    lengths = [len(r["ids"]) for r in pool]
    shuffled = list(range(len(pool)))
    random.Random(0).shuffle(shuffled)
    grouped = list(LengthGroupedSampler(batch, lengths=lengths, generator=torch.Generator().manual_seed(0)))
    chunks = [sorted(range(len(pool)), key=lengths.__getitem__)[i : i + batch] for i in range(0, len(pool), batch)]
    random.Random(0).shuffle(chunks)
    full_sort = [i for c in chunks for i in c]
    result["length_pool"] = {
        "rows": len(pool),
        "padding_share_random": round(padding_share(lengths, batch, shuffled), 4),
        "padding_share_length_grouped_sampler": round(padding_share(lengths, batch, grouped), 4),
        "padding_share_sorted": round(padding_share(lengths, batch, full_sort), 4),
    }
    plan = [
        ("fixed_length", fixed, None),
        ("varlen_random_order", [pool[i] for i in shuffled[:n]], None),
        ("varlen_length_grouped_sampler", [pool[i] for i in grouped[:n]], None),
        ("varlen_sorted_batches", [pool[i] for i in full_sort[:n]], None),
    ]
    for name, rows, _ in plan:
        if time.perf_counter() - t0 > budget_s:
            result["rows"].append({"config": name, "skipped": "section budget"})
            continue
        try:
            record = run_config(model, name=name, batch=batch, ckpt=False, loss_mode="chunked", rows=rows, **common)
        except torch.OutOfMemoryError:
            record = {"config": name, "error": "CUDA out of memory"}
            torch.cuda.empty_cache()
        result["rows"].append(record)
        print(json.dumps({"section": "sft", **record}), flush=True)
        save("sft", result)
    result["elapsed_s"] = round(time.perf_counter() - t0, 1)
    return result


# ---------------------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------------------
def summary() -> str:
    """A plain-text table of every ``$OUT/*.json`` written by the sections."""
    lines = []
    for section in SECTIONS:
        path = out_dir() / f"{section}.json"
        if not path.is_file():
            lines.append(f"{section}: no result")
            continue
        data = json.loads(path.read_text())
        head = f"{section}: {data.get('arch')} on {data.get('device')} (torch {data.get('torch')}, "
        head += f"transformers {data.get('transformers')}), {data.get('elapsed_s', '?')} s"
        lines.append(head)
        for row in data.get("rows", []):
            if "error" in row or "skipped" in row:
                name = row.get("mode") or row.get("config") or f"{row.get('decode')}/{row.get('cache')}"
                lines.append(f"  {name:<42} {row.get('error') or row.get('skipped')}")
            elif section.startswith("synth"):
                name = f"{row['decode']} / {row['cache']} cache"
                lines.append(
                    f"  {name:<42} {row['new_tokens_per_s']:>9,} new tok/s  {row['ms_per_step']:>7} ms/step  "
                    f"first call {row['first_call_s']} s  peak {row['peak_mem_gib']} GiB  "
                    f"rows equal {row['rows_equal_to_first_mode']}"
                )
            elif section == "filter":
                lines.append(
                    f"  {row['mode']:<42} {row['items_per_s']:>9} items/s  suffix padding "
                    f"{row['suffix_padding_share']:.1%}  peak {row['peak_mem_gib']} GiB"
                )
            else:
                lines.append(
                    f"  {row['config']:<42} {row['tokens_per_s']:>9,} tok/s  MFU {row['mfu']:.1%}  padding "
                    f"{row['padding_fraction']:.1%}  peak {row.get('peak_mem_gib')} GiB"
                )
        if "length_pool" in data:
            lp = data["length_pool"]
            lines.append(
                f"  padding share over {lp['rows']} rows of 0.75-1.25 x seq_len, batch {data['batch']}: random "
                f"{lp['padding_share_random']:.1%}, LengthGroupedSampler {lp['padding_share_length_grouped_sampler']:.1%}, "
                f"sorted {lp['padding_share_sorted']:.1%}"
            )
        for key in ("verdict_agreement_naive_vs_shared", "verdict_agreement_sorted_vs_unsorted"):
            if key in data:
                lines.append(f"  {key}: {data[key]:.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--section", choices=SECTIONS)
    p.add_argument("--smoke", action="store_true", help="tiny models on the CPU (a code check)")
    p.add_argument("--budget-s", type=float, default=100.0, help="later rows of a section are skipped after this")
    p.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak for MFU (H100/H200 SXM)")
    p.add_argument("--summary", action="store_true", help="print the table of $OUT/*.json")
    args = p.parse_args(argv)
    if args.summary:
        print(summary())
        return 0
    if args.section is None:
        p.error("--section or --summary is required")
    import torch

    if not args.smoke and not torch.cuda.is_available():
        save(args.section, {"section": args.section, "skipped": "CUDA not available", "rows": []})
        print(f"{args.section}: skipped, CUDA not available")
        return 0
    if args.smoke:
        torch.set_num_threads(min(2, torch.get_num_threads()))
    if args.section.startswith("synth"):
        save(args.section, synth_section(args.section, args.smoke, args.budget_s))
    elif args.section == "filter":
        save("filter", filter_section(args.smoke, args.budget_s))
    else:
        save("sft", sft_section(args.smoke, args.budget_s, args.peak_tflops))
    return 0


if __name__ == "__main__":
    sys.exit(main())
