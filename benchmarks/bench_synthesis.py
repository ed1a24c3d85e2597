"""Synthesis benchmarks; prints one JSON line per result.

CPU section (always):
- pairs/s of the tiny LLaVA-NeXT synthesizer at batch 1 and batch 16, in the same run, with
  generation forced to full length; prints the ratio;
- parse throughput: ``parse_triplets`` over 100,000 synthetic outputs (generated texts/s).

GPU section (only when CUDA is available): the Qwen2-VL-2B and LLaVA-NeXT-8B architectures from
their published configs with random bf16 weights, new tokens/s at batch 64 and 256 with
generation forced to full length (``min_new_tokens == max_new_tokens``), dynamic vs static KV
cache. Processors reuse the offline tiny tokenizers (ids are valid for the random weights) with
the real image-processing settings. ``--gpu-budget-s`` skips the configs that would not fit.

    python benchmarks/bench_synthesis.py [--skip-cpu] [--skip-gpu] [--new-tokens 256]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Published architecture configs (Qwen/Qwen2-VL-2B-Instruct, llava-hf/llama3-llava-next-8b-hf).
QWEN2_VL_2B_TEXT = {
    "hidden_size": 1536,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "intermediate_size": 8960,
    "vocab_size": 151936,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
}
QWEN2_VL_2B_VISION = {
    "depth": 32,
    "embed_dim": 1280,
    "hidden_size": 1536,
    "num_heads": 16,
    "mlp_ratio": 4,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "in_channels": 3,
}
LLAMA3_8B_TEXT = {
    "model_type": "llama",
    "hidden_size": 4096,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "intermediate_size": 14336,
    "vocab_size": 128256,
    "max_position_embeddings": 8192,
    "rms_norm_eps": 1e-5,
    "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0},
}
CLIP_L_336 = {
    "model_type": "clip_vision_model",
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "image_size": 336,
    "patch_size": 14,
    "projection_dim": 768,
}
LLAVA_NEXT_PINPOINTS = [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]]


def emit(**row) -> None:
    """Print one result as a JSON line."""
    print(json.dumps(row), flush=True)


def sample_batch(n: int, size: tuple[int, int], seed: int = 0):
    """``n`` (image, caption, None) items with the bundled sample captions and noise images."""
    import numpy as np
    from PIL import Image

    from hub_tools.miniature.samples import sample_records

    rng = random.Random(seed)
    captions = [caption for _, _, caption, _ in sample_records(seed)]
    arr = np.random.default_rng(seed).integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
    return [(Image.fromarray(arr), rng.choice(captions), None) for _ in range(n)]


# ---------------------------------------------------------------------------------------------
# CPU
# ---------------------------------------------------------------------------------------------
def synthetic_outputs(n: int, seed: int = 0) -> list[str]:
    """Plausible synthesizer outputs: 2-6 question pairs, some truncated, some with junk."""
    from hub_tools.synthesis.parse import EOT, INFORMATIVE_HINT, PRECISE_HINT, QA_SEPARATOR, USER_HEADER

    rng = random.Random(seed)
    words = [
        "the",
        "image",
        "shows",
        "a",
        "scan",
        "of",
        "kidney",
        "liver",
        "lesion",
        "left",
        "right",
        "plate",
        "pasta",
        "sauce",
        "with",
        "small",
        "round",
    ]
    out = []
    for _ in range(n):
        turns = []
        for _ in range(rng.randint(2, 6)):
            q = " ".join(rng.choices(words, k=rng.randint(5, 15))) + "?"
            for hint in rng.sample([PRECISE_HINT, INFORMATIVE_HINT], 2):
                a = " ".join(rng.choices(words, k=rng.randint(2, 60))) + "."
                turns.append(f"{hint}{q}{QA_SEPARATOR}{a}{EOT}")
        text = USER_HEADER.join(turns)
        if rng.random() < 0.3:
            text = text[: rng.randint(0, len(text))]
        out.append(text)
    return out


def bench_parse(n: int = 100_000) -> None:
    """parse_triplets throughput over ``n`` synthetic outputs."""
    from hub_tools.synthesis import parse_triplets

    texts = synthetic_outputs(n)
    start = time.perf_counter()
    found = sum(len(parse_triplets(t)) for t in texts)
    took = time.perf_counter() - start
    emit(bench="parse_triplets", outputs=n, triplets=found, seconds=round(took, 3), outputs_per_s=round(n / took))


def bench_cpu_engine(n_pairs: int = 32, new_tokens: int = 32) -> None:
    """Tiny synthesizer pairs/s at batch 1 vs batch 16, generation forced to ``new_tokens``."""
    import torch

    from hub_tools.defaults import default_tiny_cache_dir
    from hub_tools.miniature.tiny_models import build_tiny_models
    from hub_tools.synthesis import TransformersEngine

    paths = build_tiny_models(default_tiny_cache_dir())
    batch = sample_batch(n_pairs, (160, 160))
    rates = {}
    for bs in (1, 16):
        engine = TransformersEngine(
            str(paths["llava_next"]), batch_size=bs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, device="cpu"
        )
        engine.generate(batch[:2])  # warm-up
        start = time.perf_counter()
        engine.generate(batch)
        took = time.perf_counter() - start
        rates[bs] = n_pairs / took
        emit(
            bench="cpu_tiny_synthesizer",
            model="tiny llava_next",
            batch_size=bs,
            pairs=n_pairs,
            new_tokens=new_tokens,
            seconds=round(took, 3),
            pairs_per_s=round(rates[bs], 2),
            threads=torch.get_num_threads(),
        )
    emit(bench="cpu_tiny_synthesizer_ratio", batch16_over_batch1=round(rates[16] / rates[1], 2))


# ---------------------------------------------------------------------------------------------
# GPU
# ---------------------------------------------------------------------------------------------
def qwen2_vl_2b(tiny_dir: Path, device: str = "cuda"):
    """Random-weight Qwen2-VL-2B (bf16, SDPA, on CUDA) + a processor with the real image settings."""
    import torch
    from transformers import (
        AutoProcessor,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
    )

    proc = AutoProcessor.from_pretrained(tiny_dir / "qwen2_vl")
    proc.image_processor = Qwen2VLImageProcessor(size={"shortest_edge": 56 * 56, "longest_edge": 28 * 28 * 1280})
    tok = proc.tokenizer
    ids = {
        t: tok.convert_tokens_to_ids(t)
        for t in ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>")
    }
    text = dict(
        QWEN2_VL_2B_TEXT, bos_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id
    )
    config = Qwen2VLConfig(
        text_config=text,
        vision_config=QWEN2_VL_2B_VISION,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    config._attn_implementation = "sdpa"
    with torch.device(device):
        model = Qwen2VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    return model.eval(), proc


def llava_next_8b(tiny_dir: Path, device: str = "cuda"):
    """Random-weight LLaVA-NeXT-8B (Llama-3-8B + CLIP-L/336, bf16, SDPA) + a processor with real settings."""
    import torch
    from transformers import AutoProcessor, LlavaNextConfig, LlavaNextForConditionalGeneration, LlavaNextImageProcessor

    proc = AutoProcessor.from_pretrained(tiny_dir / "llava_next")
    proc.image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336}, image_grid_pinpoints=LLAVA_NEXT_PINPOINTS
    )
    tok = proc.tokenizer
    text = dict(
        LLAMA3_8B_TEXT,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.convert_tokens_to_ids("<|end_of_text|>"),
        pad_token_id=tok.pad_token_id,
    )
    config = LlavaNextConfig(
        text_config=text,
        vision_config=CLIP_L_336,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=LLAVA_NEXT_PINPOINTS,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        projector_hidden_act="gelu",
    )
    config._attn_implementation = "sdpa"
    with torch.device(device):
        model = LlavaNextForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    return model.eval(), proc


def bench_gpu(new_tokens: int, budget_s: float, models: list[str], batches: list[int], caches: list[str]) -> None:
    """New tokens/s of the random-weight architectures, forced to ``new_tokens`` per sequence."""
    import torch

    from hub_tools.miniature.tiny_models import build_tiny_models
    from hub_tools.synthesis import TransformersEngine

    t0 = time.perf_counter()
    tiny_dir = Path(tempfile.mkdtemp()) / "tiny"
    build_tiny_models(tiny_dir)
    builders = {"qwen2_vl_2b": (qwen2_vl_2b, (336, 336)), "llava_next_8b": (llava_next_8b, (336, 336))}
    for name in models:
        build, image_size = builders[name]
        model, proc = build(tiny_dir)
        for cache in caches:
            for bs in batches:
                if time.perf_counter() - t0 > budget_s:
                    emit(bench="gpu_generate", model=name, batch_size=bs, cache=cache, skipped="over --gpu-budget-s")
                    continue
                engine = TransformersEngine(
                    model=model,
                    processor=proc,
                    batch_size=bs,
                    max_new_tokens=new_tokens,
                    min_new_tokens=new_tokens,
                    cache_implementation="static" if cache == "static" else None,
                    device="cuda",
                )
                batch = sample_batch(bs, image_size)
                try:
                    start = time.perf_counter()
                    enc = engine.collate([engine.encode(b) for b in batch])
                    prep = time.perf_counter() - start
                    runs = []
                    for _ in range(2 if cache == "static" else 1):  # static: first call compiles
                        torch.cuda.synchronize()
                        start = time.perf_counter()
                        ids = engine.generate_ids(enc)
                        torch.cuda.synchronize()
                        runs.append(time.perf_counter() - start)
                    took = runs[-1]
                    emit(
                        bench="gpu_generate",
                        model=name,
                        device=torch.cuda.get_device_name(),
                        batch_size=bs,
                        cache=cache,
                        prompt_tokens=int(enc["input_ids"].shape[1]),
                        new_tokens=int(ids.shape[1]),
                        preprocess_s=round(prep, 2),
                        generate_s=round(took, 2),
                        first_call_s=round(runs[0], 2),
                        new_tokens_per_s=round(bs * ids.shape[1] / took),
                        peak_mem_gib=round(torch.cuda.max_memory_allocated() / 2**30, 1),
                    )
                except torch.OutOfMemoryError:
                    emit(bench="gpu_generate", model=name, batch_size=bs, cache=cache, error="CUDA out of memory")
                finally:
                    torch.cuda.empty_cache()
                    torch.cuda.reset_peak_memory_stats()
        del model
        torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> int:
    """Run the selected sections."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--skip-cpu", action="store_true")
    p.add_argument("--skip-gpu", action="store_true")
    p.add_argument("--parse-outputs", type=int, default=100_000)
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--gpu-budget-s", type=float, default=200.0)
    p.add_argument("--models", default="qwen2_vl_2b,llava_next_8b")
    p.add_argument("--batches", default="64,256")
    p.add_argument("--caches", default="dynamic,static")
    args = p.parse_args(argv)
    if not args.skip_cpu:
        bench_parse(args.parse_outputs)
        bench_cpu_engine()
    if not args.skip_gpu:
        import torch

        if torch.cuda.is_available():
            bench_gpu(
                args.new_tokens,
                args.gpu_budget_s,
                args.models.split(","),
                [int(b) for b in args.batches.split(",")],
                args.caches.split(","),
            )
        else:
            emit(bench="gpu_generate", skipped="CUDA not available")
    return 0


if __name__ == "__main__":
    sys.exit(main())
