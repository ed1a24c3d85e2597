"""Throughput of SFT post-training: the tiny CPU recipe, and Qwen2-VL-2B on a GPU.

Prints one JSON object per line.

CPU section: ``hub_tools.training.sft.main`` with ``recipes/tiny/sft/config.yaml`` on demo rows (tiny Qwen2-VL,
offline); tokens/s = tokens the trainer saw (non-padding, image tokens included) / train runtime.

GPU section (only when CUDA is available): the Qwen2-VL-2B-Instruct architecture built from its published
config with random weights, bf16 weights and fused AdamW, synthetic rows of ``--seq-len`` tokens (default
1,024) each holding one 448x448 image (1,024 patches -> 256 image tokens after the 2x2 merge); labels
on every text token. Configurations:

- ``baseline``: batch 8, gradient checkpointing, SDPA, fused AdamW, the model's own loss (full logits);
- ``no_ckpt``: no checkpointing, chunked cross-entropy (logits never materialised), batch 8 and 16;
- ``liger``: Liger kernels (RMSNorm, LayerNorm, SwiGLU, M-RoPE, fused linear cross-entropy) when
  ``liger_kernel`` is importable, no checkpointing, batch 16 (and 32 when memory allows);
- ``flash``: flash-attention 2 when ``flash_attn`` is importable;
- a variable-length pair (lengths uniform in [0.75, 1.25] x seq-len): padded batches in random order vs
  length-grouped batches (the padding removal available to SDPA, which has no varlen path here).

MFU = model FLOPs / (time x peak). Model FLOPs per step = 6 x (N_lm x T + N_vision x P): N_lm = language
model parameters (the tied embedding counted once, as the LM head), T = non-padding tokens in the
language model (image tokens included), N_vision = vision tower parameters (merger included), P = image
patches (1,024 per image). Attention score FLOPs are not counted (about 3% at 1,024 tokens). Peak:
``--peak-tflops`` (default 989 TFLOP/s, the H100/H200 SXM dense bf16 figure).

Run: ``python benchmarks/bench_sft.py`` (both sections), ``--skip-gpu`` / ``--skip-cpu``;
``--arch tiny --device cpu`` runs the GPU code path on a tiny architecture (a smoke test).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Qwen/Qwen2-VL-2B-Instruct config.json (published values).
QWEN2_VL_2B = {
    "text_config": {
        "vocab_size": 151936,
        "hidden_size": 1536,
        "intermediate_size": 8960,
        "num_hidden_layers": 28,
        "num_attention_heads": 12,
        "num_key_value_heads": 2,
        "hidden_act": "silu",
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
        "tie_word_embeddings": True,
        "bos_token_id": 151643,
        "eos_token_id": 151645,
    },
    "vision_config": {
        "depth": 32,
        "embed_dim": 1280,
        "hidden_size": 1536,
        "hidden_act": "quick_gelu",
        "mlp_ratio": 4,
        "num_heads": 16,
        "in_channels": 3,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    },
    "image_token_id": 151655,
    "video_token_id": 151656,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
    "tie_word_embeddings": True,
}
TINY = {
    "text_config": {
        "vocab_size": 1024,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        "tie_word_embeddings": True,
    },
    "vision_config": {"depth": 2, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "mlp_ratio": 2},
    "image_token_id": 1000,
    "video_token_id": 1001,
    "vision_start_token_id": 1002,
    "vision_end_token_id": 1003,
    "tie_word_embeddings": True,
}


def emit(record: dict) -> None:
    """Print one JSON line (flushed)."""
    print(json.dumps(record), flush=True)


# ---------------------------------------------------------------------------------------------
# CPU: the tiny recipe end to end
# ---------------------------------------------------------------------------------------------
def bench_cpu(steps: int, batch: int) -> dict:
    """Tokens/s of ``hub_tools.training.sft.main`` with the tiny recipe on demo rows (CPU, offline)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from hub_tools.defaults import default_tiny_cache_dir
    from hub_tools.miniature.sft_demo import write_demo_rows
    from hub_tools.miniature.tiny_models import build_tiny_models
    from hub_tools.training.sft import main, parse_args

    models = build_tiny_models(default_tiny_cache_dir())
    with tempfile.TemporaryDirectory() as tmp:
        rows = write_demo_rows(Path(tmp) / "rows", num_rows=max(32, batch * 4))
        argv = [
            "--config",
            str(REPO / "recipes/tiny/sft/config.yaml"),
            "--model_name_or_path",
            str(models["qwen2_vl"]),
        ]
        argv += ["--dataset_dir", str(rows), "--output_dir", str(Path(tmp) / "out"), "--max_steps", str(steps)]
        argv += ["--per_device_train_batch_size", str(batch), "--save_strategy", "no", "--disable_tqdm", "true"]
        argv += ["--log_level", "error"]
        summary = main(*parse_args(argv))
        state = json.loads((Path(summary["output_dir"]) / "trainer_state.json").read_text())
    stage = summary["stages"][0]
    runtime = stage["metrics"]["train_runtime"]
    tokens = max((e["num_tokens"] for e in state["log_history"] if "num_tokens" in e), default=None)
    return {
        "section": "cpu",
        "recipe": "recipes/tiny/sft/config.yaml",
        "steps": steps,
        "batch": batch,
        "train_runtime_s": round(runtime, 3),
        "tokens": tokens,
        "tokens_per_s": round(tokens / runtime, 1) if tokens else None,
        "samples_per_s": stage["metrics"].get("train_samples_per_second"),
        "threads": __import__("torch").get_num_threads(),
    }


# ---------------------------------------------------------------------------------------------
# GPU: Qwen2-VL-2B architecture, random weights
# ---------------------------------------------------------------------------------------------
def count_params(model) -> tuple[int, int]:
    """``(language-model params incl. LM head once, vision params incl. merger)``."""
    vision = sum(p.numel() for p in model.model.visual.parameters())
    total = sum(p.numel() for p in model.parameters())  # tied weights are counted once by .parameters()
    return total - vision, vision


def synthetic_rows(cfg: dict, n: int, seq_len: int, image_px: int, vary: bool, seed: int = 0) -> list[dict]:
    """``n`` rows: a few prompt tokens, one image (vision start, image tokens, vision end), then text."""
    rng = random.Random(seed)
    patch, merge = cfg["vision_config"].get("patch_size", 14), cfg["vision_config"].get("spatial_merge_size", 2)
    grid = image_px // patch
    n_image = (grid // merge) ** 2
    vocab = cfg["text_config"]["vocab_size"]
    special = {cfg["image_token_id"], cfg["video_token_id"], cfg["vision_start_token_id"], cfg["vision_end_token_id"]}
    rows = []
    for _ in range(n):
        length = rng.randint(int(seq_len * 0.75), int(seq_len * 1.25)) if vary else seq_len
        text = [t for t in (rng.randrange(min(vocab, 150000)) for _ in range(length)) if t not in special]
        text = (text * 2)[: length - n_image - 2]
        prompt = text[:8]
        ids = prompt + [cfg["vision_start_token_id"]] + [cfg["image_token_id"]] * n_image
        ids += [cfg["vision_end_token_id"]] + text[8:]
        rows.append({"ids": ids, "grid": (1, grid, grid)})
    return rows


def collate(rows: list[dict], cfg: dict, device, dtype):
    """Right-padded batch with labels on text tokens, pixel values and grid sizes."""
    import torch

    length = max(len(r["ids"]) for r in rows)
    ids = torch.zeros(len(rows), length, dtype=torch.long)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r["ids"])] = torch.tensor(r["ids"])
        mask[i, : len(r["ids"])] = 1
    labels = ids.clone()
    labels[mask == 0] = -100
    for token in (cfg["image_token_id"], cfg["vision_start_token_id"], cfg["vision_end_token_id"]):
        labels[ids == token] = -100
    labels[:, :8] = -100
    vc = cfg["vision_config"]
    patch_dim = vc.get("in_channels", 3) * vc.get("temporal_patch_size", 2) * vc.get("patch_size", 14) ** 2
    n_patches = sum(r["grid"][0] * r["grid"][1] * r["grid"][2] for r in rows)
    return {
        "input_ids": ids.to(device),
        "attention_mask": mask.to(device),
        "labels": labels.to(device),
        "mm_token_type_ids": (ids == cfg["image_token_id"]).long().to(device),
        "pixel_values": torch.randn(n_patches, patch_dim, dtype=dtype, device=device),
        "image_grid_thw": torch.tensor([r["grid"] for r in rows], device=device),
        "_tokens": int(mask.sum()),
        "_patches": n_patches,
        "_padded": int(mask.numel()),
    }


def chunked_causal_lm_loss(hidden, weight, labels, chunk: int = 4096):
    """Mean next-token cross-entropy over all positions, computed chunk by chunk without keeping logits."""
    import torch
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    h = hidden[:, :-1].reshape(-1, hidden.shape[-1])
    y = labels[:, 1:].reshape(-1)
    count = (y != -100).sum().clamp(min=1)

    def part(h_chunk, y_chunk):
        return F.cross_entropy((h_chunk @ weight.t()).float(), y_chunk, ignore_index=-100, reduction="sum")

    total = torch.zeros((), device=hidden.device, dtype=torch.float32)
    for start in range(0, h.shape[0], chunk):
        total = total + checkpoint(part, h[start : start + chunk], y[start : start + chunk], use_reentrant=False)
    return total / count


def build_model(cfg: dict, device, dtype, attn: str):
    """Qwen2VLForConditionalGeneration from a config dict, random weights, on ``device``."""
    import torch
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    config = Qwen2VLConfig(**json.loads(json.dumps(cfg)))
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2VLForConditionalGeneration._from_config(config, dtype=dtype, attn_implementation=attn)
    model.config.use_cache = False
    return model.train()


def run_config(model, cfg, name, batch, steps, warmup, ckpt, loss_mode, rows, peak, device, dtype, extra=None):
    """Time ``steps`` optimizer steps after ``warmup``; return a JSON-able record."""
    import torch

    if ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_disable()
    fused = device.type == "cuda"
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.1, fused=fused)
    n_lm, n_vis = count_params(model)
    batches = [rows[i : i + batch] for i in range(0, len(rows) - batch + 1, batch)]
    need = warmup + steps
    if len(batches) < need:
        raise ValueError(f"{name}: {len(batches)} batches for {need} steps")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    tokens = patches = padded = 0
    losses = []
    start = None
    for step in range(need):
        if step == warmup:
            sync()
            start = time.perf_counter()
            tokens = patches = padded = 0
        data = collate(batches[step], cfg, device, dtype)
        tokens, patches, padded = (
            tokens + data.pop("_tokens"),
            patches + data.pop("_patches"),
            padded + data.pop("_padded"),
        )
        if loss_mode == "chunked":
            labels = data.pop("labels")
            hidden = model.model(**data).last_hidden_state
            loss = chunked_causal_lm_loss(hidden, model.lm_head.weight, labels)
        else:  # the model's forward computes the loss (HF full logits, or Liger's fused linear CE)
            loss = model(**data).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step == need - 1 or step == warmup:
            losses.append(float(loss.detach()))
    sync()
    elapsed = time.perf_counter() - start
    flops = 6 * (n_lm * tokens + n_vis * patches)
    record = {
        "section": "gpu" if device.type == "cuda" else "gpu-path-on-cpu",
        "config": name,
        "batch": batch,
        "gradient_checkpointing": ckpt,
        "loss": loss_mode,
        "steps": steps,
        "tokens_per_s": round(tokens / elapsed, 1),
        "mfu": round(flops / elapsed / (peak * 1e12), 4),
        "padding_fraction": round(1 - tokens / padded, 4),
        "step_s": round(elapsed / steps, 4),
        "loss_value": [round(v, 4) for v in losses],
        "params_lm": n_lm,
        "params_vision": n_vis,
    }
    if device.type == "cuda":
        record["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
    record.update(extra or {})
    del optimizer
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return record


def bench_gpu(args) -> None:
    """Run the GPU configurations in order (plain kernels first: Liger patches the model in place)."""
    import importlib.util

    import torch

    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    cfg = QWEN2_VL_2B if args.arch == "qwen2-vl-2b" else TINY
    image_px = args.image_px if args.arch == "qwen2-vl-2b" else 56
    seq_len = args.seq_len if args.arch == "qwen2-vl-2b" else 64
    t0 = time.perf_counter()
    env = {"torch": torch.__version__, "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}
    import transformers

    env["transformers"] = transformers.__version__
    has_liger = importlib.util.find_spec("liger_kernel") is not None
    has_flash = importlib.util.find_spec("flash_attn") is not None
    emit({"section": "gpu-env", **env, "liger": has_liger, "flash_attn": has_flash, "peak_tflops": args.peak_tflops,
          "arch": args.arch, "seq_len": seq_len, "image_px": image_px})  # fmt: skip
    steps, warmup = args.steps, args.warmup
    pool = synthetic_rows(cfg, 32 * (steps + warmup), seq_len, image_px, vary=False)
    model = build_model(cfg, device, dtype, "sdpa")
    common = {"cfg": cfg, "steps": steps, "warmup": warmup, "peak": args.peak_tflops, "device": device, "dtype": dtype}
    plan = [
        ("baseline", 8, True, "hf"),
        ("no_ckpt_chunked_ce", 8, False, "chunked"),
        ("no_ckpt_chunked_ce", 16, False, "chunked"),
    ]
    best = None
    for name, batch, ckpt, loss in plan:
        if time.perf_counter() - t0 > args.time_budget:
            emit({"section": "gpu", "config": name, "skipped": "time budget"})
            continue
        try:
            record = run_config(model, name=name, batch=batch, ckpt=ckpt, loss_mode=loss, rows=pool, **common)
            emit(record)
            if best is None or record["tokens_per_s"] > best[0]:
                best = (record["tokens_per_s"], name, batch, ckpt, loss)
        except torch.OutOfMemoryError:
            emit({"section": "gpu", "config": name, "batch": batch, "error": "out of memory"})
            gc.collect()
            torch.cuda.empty_cache()
    # Variable lengths: padded random order vs length-grouped (plain kernels, the best plain config).
    if best is not None and time.perf_counter() - t0 < args.time_budget:
        _, name, batch, ckpt, loss = best
        varied = synthetic_rows(cfg, batch * (steps + warmup), seq_len, image_px, vary=True, seed=1)
        for grouped in (False, True):
            rows = sorted(varied, key=lambda r: len(r["ids"])) if grouped else varied
            if grouped:  # group by length, then shuffle the batches (as group_by_length does)
                chunks = [rows[i : i + batch] for i in range(0, len(rows), batch)]
                random.Random(0).shuffle(chunks)
                rows = [r for c in chunks for r in c]
            label = f"{name}_varlen_{'grouped' if grouped else 'padded'}"
            emit(run_config(model, name=label, batch=batch, ckpt=ckpt, loss_mode=loss, rows=rows, **common))
    if args.flash and has_flash and device.type == "cuda" and time.perf_counter() - t0 < args.time_budget:
        try:
            model.set_attn_implementation("flash_attention_2")
            emit(run_config(model, name="flash_attn2_chunked_ce", batch=16, ckpt=False, loss_mode="chunked",
                            rows=pool, **common))  # fmt: skip
            model.set_attn_implementation("sdpa")
        except Exception as err:  # noqa: BLE001 - report and go on
            emit({"section": "gpu", "config": "flash_attn2", "error": repr(err)[:300]})
    if has_liger and device.type == "cuda":
        try:
            from liger_kernel.transformers import apply_liger_kernel_to_qwen2_vl

            apply_liger_kernel_to_qwen2_vl(
                rope=True, rms_norm=True, layer_norm=True, swiglu=True, fused_linear_cross_entropy=True, model=model
            )
        except Exception as err:  # noqa: BLE001 - report and go on
            emit({"section": "gpu", "config": "liger", "error": repr(err)[:300]})
            has_liger = False
    if has_liger and device.type == "cuda":
        for batch in (16, 32):
            if time.perf_counter() - t0 > args.time_budget:
                emit({"section": "gpu", "config": "liger", "batch": batch, "skipped": "time budget"})
                continue
            try:
                emit(run_config(model, name="liger_no_ckpt", batch=batch, ckpt=False, loss_mode="hf", rows=pool,
                                **common))  # fmt: skip
            except torch.OutOfMemoryError:
                emit({"section": "gpu", "config": "liger_no_ckpt", "batch": batch, "error": "out of memory"})
                gc.collect()
                torch.cuda.empty_cache()
            except Exception as err:  # noqa: BLE001 - report and go on
                emit({"section": "gpu", "config": "liger_no_ckpt", "batch": batch, "error": repr(err)[:300]})
    emit({"section": "gpu-done", "elapsed_s": round(time.perf_counter() - t0, 1)})


def main(argv: list[str] | None = None) -> int:
    """Parse options and run the sections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--skip-gpu", action="store_true")
    parser.add_argument("--cpu-steps", type=int, default=12)
    parser.add_argument("--cpu-batch", type=int, default=4)
    parser.add_argument("--arch", choices=["qwen2-vl-2b", "tiny"], default="qwen2-vl-2b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=6, help="timed GPU steps per configuration")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--image-px", type=int, default=448)
    parser.add_argument("--peak-tflops", type=float, default=989.0)
    parser.add_argument("--time-budget", type=float, default=200.0, help="seconds; later GPU configs are skipped")
    parser.add_argument("--flash", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    if not args.skip_cpu:
        emit(bench_cpu(args.cpu_steps, args.cpu_batch))
    if not args.skip_gpu:
        import torch

        if args.device.startswith("cuda") and not torch.cuda.is_available():
            emit({"section": "gpu", "skipped": "CUDA not available"})
        else:
            bench_gpu(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
