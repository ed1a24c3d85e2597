"""The synthesizer side of ``adamllm ablate``: the main synthesizer's reuse and the synthesizer-inputs block.

Split from :mod:`hub_tools.miniature.ablate` (which re-exports these names): from one starting point (the
text-pretrained init), one synthesizer per input variant, each tuned on the same reduced step budget and measured on
the quickstart world's held-out pairs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub_tools.miniature.ablate_config import AblationConfig

SYNTHESIZER_VARIANTS = {
    "untuned": None,
    "image only": 0.0,
    "caption only": 1.0,
    "image + caption": 0.0,
    "image + caption + 10% blank": 0.1,
}
"""Synthesizer input variants and the share of blank images in their tuning data (``None``: not tuned).

*Caption only* is tuned and measured with every image blank; *image only* with the caption replaced by
:data:`NO_CAPTION`."""
NO_CAPTION = "An image."


# ---------------------------------------------------------------------------------------------
# synthesizers
# ---------------------------------------------------------------------------------------------
def _cached_synthesizer() -> Path:
    from hub_tools.defaults import default_tiny_cache_dir
    from hub_tools.miniature.tiny_tuned import build_all_tiny_models

    path = default_tiny_cache_dir() / "synthesizer"
    if not (path / "config.json").is_file():
        build_all_tiny_models(default_tiny_cache_dir())
    return path


def _tuned_before(path: Path, cfg: AblationConfig) -> bool:
    """Whether ``path`` holds a main synthesizer tuned with ``cfg``'s steps (an earlier run into the same folder)."""
    summary = path / "synthesizer.json"
    if not (summary.is_file() and (path / "model.safetensors").is_file()):
        return False
    tuned = json.loads(summary.read_text())
    pre = tuned.get("text_pretraining") or {}
    return tuned.get("steps") == cfg.tune_steps and pre.get("steps", 0) == cfg.pretrain_steps


def _variant_seed_data(world_dir: Path, out: Path, variant: str, seed: int) -> Path:
    from hub_tools.miniature.synthesizer import world_seed_data

    seed_dir = world_seed_data(world_dir, out / "seed_data", seed, blank_fraction=SYNTHESIZER_VARIANTS[variant])
    if variant == "image only":
        for split in ("train", "validation"):
            path = seed_dir / f"{split}.jsonl"
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            for row in rows:  # the caption turn's answer is the second message
                row["messages"][1]["content"] = [{"type": "text", "text": NO_CAPTION}]
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return seed_dir


def tune_variant(init: Path, world_dir: Path, out: Path, variant: str, cfg: AblationConfig) -> Path:
    """Tune the synthesizer ``init`` for ``cfg.variant_steps`` steps on the seed data of ``variant``."""
    import torch

    from hub_tools.miniature.synthesizer import TINY_TRAINING
    from hub_tools.miniature.threads import torch_threads
    from hub_tools.training import synthesizer as recipe

    seed_dir = _variant_seed_data(world_dir, out, variant, cfg.world_seed)
    torch.manual_seed(cfg.world_seed)
    settings = {**TINY_TRAINING, "seed": cfg.world_seed, "max_steps": cfg.variant_steps, "logging_steps": 50}
    settings["warmup_steps"] = min(settings["warmup_steps"], max(1, cfg.variant_steps // 10))
    with torch_threads(None if cfg.threads == "auto" else cfg.threads):
        args = recipe.sft_config(out / "synthesizer", **settings)
        return recipe.train(init, seed_dir, out / "synthesizer", args=args, prompt_format="chat", cache_rows=True)


def _measure_records(records: list[dict], variant: str, blank_rel: str) -> list[dict]:
    """The held-out pairs as the variant sees them: blank images for *caption only*, no caption for *image only*."""
    out = []
    for record in records:
        record = json.loads(json.dumps(record))
        if variant == "caption only":
            record["images"] = [blank_rel]
        if variant == "image only":
            record["messages"][-1]["content"] = NO_CAPTION
        out.append(record)
    return out


def synthesizer_inputs(init: Path, world_dir: Path, out: Path, cfg: AblationConfig) -> dict:
    """The synthesizer-inputs block: per variant, diversity and accuracy (0-100) of its tasks on held-out pairs."""
    from PIL import Image

    from hub_tools.miniature.ablate_data import diversity
    from hub_tools.miniature.synthesizer import measure_synthesizer
    from hub_tools.miniature.world import load_pairs, world_files

    heldout_file = world_files(world_dir)["heldout_pairs"]
    records = load_pairs(heldout_file)[: cfg.measure_pairs or None]
    blank_rel = "images/ablate_blank.png"
    Image.new("RGB", (112, 112), (255, 255, 255)).save(world_dir / blank_rel)
    results = {}
    for variant in SYNTHESIZER_VARIANTS:
        started = time.monotonic()
        slug = variant.replace(" + ", "+").replace("% ", "pct-").replace(" ", "-")
        model = (
            init if SYNTHESIZER_VARIANTS[variant] is None else tune_variant(init, world_dir, out / slug, variant, cfg)
        )
        measured = measure_synthesizer(
            model,
            _measure_records(records, variant, blank_rel),
            image_root=heldout_file.parent,
            max_new_tokens=cfg.synth_max_new_tokens,
            samples=0,
            threads=cfg.threads,
        )
        types = [kind for kind, n in measured["by_question_type"].items() for _ in range(n.get("triplets", 0))]
        stats = {
            "diversity": diversity(types, cfg.domain),
            "accuracy": round(100 * measured["triplet_grounded_share"], 1) if types else None,
            "tasks": len(types),
        }
        results[variant] = {
            "diversity": stats["diversity"],
            "accuracy": stats["accuracy"],
            "triplets": stats["tasks"],
            "pairs": measured["pairs"],
            "pairs_with_triplet": measured.get("with_triplet", 0),
            "tuning_steps": 0 if SYNTHESIZER_VARIANTS[variant] is None else cfg.variant_steps,
            "seconds": round(time.monotonic() - started, 1),
        }
        print(f"    {variant}: {results[variant]}", flush=True)
    return results
