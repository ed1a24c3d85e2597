"""The paper's ablations in miniature: ``adamllm ablate`` / ``make ablate``.

Reuses the quickstart's parts: the miniature world (:mod:`hub_tools.miniature.world`), its tuned tiny synthesizer
(:func:`hub_tools.miniature.synthesizer.tune_tiny_synthesizer`), the pipeline with the lexical checker, the SFT
recipe (:mod:`hub_tools.training.sft`) and the mini benchmark (:func:`hub_tools.evaluation.harness.evaluate_model`).

Stages, under ``OUTPUT``:

1. ``world/``                the world (seed 0, fixed before any result was seen).
2. ``synthesizer/main``      the quickstart's synthesizer (``--small``: the tiny cache's tuned one, no tuning).
3. ``synthesizer/<variant>`` the synthesizer-inputs block: from one starting point (the text-pretrained init),
   one synthesizer per input variant, each tuned on the same reduced step budget, measured on the held-out pairs.
4. ``run/``                  synthesize -> filter (lexical) on the domain pairs with the main synthesizer: one run dir
   whose tasks every data condition shares (:mod:`hub_tools.miniature.ablate_data`).
5. ``student/general-S``     the general student of seed S: a tiny model trained on general (seed-set) tasks.
6. ``student/<cond>-S``      each data condition post-trained from ``general-S`` with the same SFT recipe.
7. ``eval/<cond>-S``         every model on the mini benchmark; bootstrap intervals over items and seeds.
8. ``ABLATIONS.md`` and ``ablations.json`` (:mod:`hub_tools.miniature.ablate_report`).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from hub_tools.miniature.ablate_data import DATA_CONDITIONS
from hub_tools.miniature.quickstart import BENCHMARK_TASKS, QuickstartConfig

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


@dataclass
class AblationConfig:
    """Sizes of the ablation run; :meth:`small` is the test suite's (under two minutes)."""

    seeds: int = 3
    # the world and the main synthesizer are the quickstart's (its defaults, read from QuickstartConfig)
    world_seed: int = QuickstartConfig.seed
    seed_images: int = QuickstartConfig.seed_images
    pairs: int = QuickstartConfig.pairs
    benchmark_per_task: int = QuickstartConfig.benchmark_per_task
    pretrain_steps: int = QuickstartConfig.pretrain_steps
    tune_steps: int = QuickstartConfig.tune_max_steps
    variant_steps: int = 400
    synthesizer_inputs: bool = True
    measure_pairs: int | None = QuickstartConfig.measure_pairs
    synth_max_new_tokens: int = QuickstartConfig.synth_max_new_tokens
    general_rows: int = 1000
    general_epochs: float = 3.0
    sft_epochs: float = 8.0
    sft_learning_rate: float = 1e-3
    eval_max_new_tokens: int = 32
    bootstrap: int = 200
    cached_synthesizer: bool = False
    """Use the tiny cache's tuned synthesizer as the main one (no tuning): the small run's shortcut."""
    threads: int | str = "auto"

    @classmethod
    def small(cls, seeds: int = 2) -> AblationConfig:
        """A reduced run that exercises every condition and block (the test suite runs it)."""
        return cls(
            seeds=seeds,
            seed_images=24,
            pairs=16,
            benchmark_per_task=4,
            pretrain_steps=0,
            tune_steps=0,
            variant_steps=4,
            measure_pairs=2,
            synth_max_new_tokens=96,
            general_rows=16,
            general_epochs=1.0,
            sft_epochs=1.0,
            eval_max_new_tokens=6,
            bootstrap=20,
            cached_synthesizer=True,
        )


def _stage(title: str) -> float:
    print(f"\n=== {title} ===", flush=True)
    return time.monotonic()


def _done(started: float, timings: dict, key: str) -> None:
    timings[key] = round(time.monotonic() - started, 1)
    print(f"    done in {timings[key]} s", flush=True)


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
    from hub_tools.miniature.world import world_files
    from hub_tools.training.seed_data import build_seed_data

    files = world_files(world_dir)
    seed_dir = out / "seed_data"
    build_seed_data(
        files["caption_set"],
        files["precise_set"],
        files["informative_set"],
        seed_dir,
        seed=seed,
        image_folder=files["seed_images"],
        blank_size=112,
        blank_fraction=SYNTHESIZER_VARIANTS[variant],
    )
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
            "diversity": diversity(types),
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


# ---------------------------------------------------------------------------------------------
# students
# ---------------------------------------------------------------------------------------------
def train_student(
    start: Path, rows_file: Path, out: Path, seed: int, epochs: float, cfg: AblationConfig, stages="one"
):
    """The quickstart's SFT recipe from ``start`` on ``rows_file`` (a JSONL under ``DATA/compose/``); returns ``out``."""
    from trl import ModelConfig

    from hub_tools.training.arguments import ScriptArguments, SFTConfig
    from hub_tools.training.sft import main as sft_main

    script_args = ScriptArguments(
        dataset_dir=str(rows_file), dataset_split="train", domain="miniature world", stages=stages
    )
    training_args = SFTConfig(
        output_dir=str(out),
        use_cpu=True,
        bf16=False,
        learning_rate=cfg.sft_learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.1,
        weight_decay=0.1,
        num_train_epochs=epochs,
        per_device_train_batch_size=8,
        logging_steps=10,
        save_strategy="no",
        report_to="none",
        seed=seed,
        dataloader_num_workers=0,
    )
    sft_main(script_args, training_args, ModelConfig(model_name_or_path=str(start), dtype="float32"))
    return out


def evaluate_student(model: Path, out: Path, benchmark: Path, cfg: AblationConfig) -> dict:
    """Scores (0-100) of ``model`` on the mini benchmark: ``{"TASK/METRIC": value}`` (primary metrics)."""
    from hub_tools.evaluation.harness import evaluate_model

    scores = evaluate_model(
        str(model),
        tasks=BENCHMARK_TASKS,
        output_dir=out,
        benchmark_dir=benchmark,
        max_new_tokens=cfg.eval_max_new_tokens,
        batch_size=16,
        device="cpu",
        dtype="float32",
        min_pixels=None,
        max_pixels=None,
        progress=False,
    )
    flat = {}
    for task, entry in scores["tasks"].items():
        for metric in entry["primary"]:
            flat[f"{task}/{metric}"] = round(100 * float(entry["results"][metric]), 2)
    return flat


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------
ABLATE_WRITER = "adamllm ablate"
ABLATE_OUTPUTS = (
    "world",
    "synthesizer",
    "run",
    "data",
    "student",
    "eval",
    "ablations.png",
    "ablations.json",
    "ABLATIONS.md",
)
"""What ``adamllm ablate`` writes into its ``--output`` (its ownership marker lists these; ``--overwrite`` removes them)."""
ABLATE_REPORTS = ("ABLATIONS.md", "ablations.json")


def prepare_ablations(output: str | Path, overwrite: bool = False) -> Path:
    """Before any work: refuse an ``output`` that is not ``adamllm ablate``'s, or holds a finished run's report
    without ``overwrite`` (one line, :class:`~hub_tools.rundir.ownership.OutputRefused`); with ``overwrite`` remove the
    earlier run's outputs (only those its marker lists). An interrupted run's folder is resumed."""
    from hub_tools.rundir.ownership import start_folder

    return start_folder(
        output, ABLATE_WRITER, ABLATE_OUTPUTS, overwrite=overwrite, reports=ABLATE_REPORTS, legacy=True
    )


def run_ablations(output: str | Path, config: AblationConfig | None = None, overwrite: bool = False) -> dict:
    """Run every stage (see the module doc) into ``output``; returns ``ablations.json``'s content.

    A folder holding an earlier run's report is refused before any work unless ``overwrite``
    (:func:`prepare_ablations`)."""
    from hub_tools.compose import ComposeOptions
    from hub_tools.filtering import load_checker
    from hub_tools.miniature import world as world_mod
    from hub_tools.miniature.ablate_data import build_conditions, general_rows
    from hub_tools.miniature.ablate_report import bootstrap_scores, write_report
    from hub_tools.miniature.synthesizer import build_tiny_synthesizer, tune_tiny_synthesizer
    from hub_tools.pipeline import format_summary, run_pipeline
    from hub_tools.synthesis.runner import SynthesisConfig

    cfg = config or AblationConfig()
    if cfg.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, not {cfg.seeds}")
    out = prepare_ablations(output, overwrite)
    t0 = time.monotonic()
    timings: dict[str, float] = {}

    started = _stage("[1/8] the miniature world")
    world_dir = world_mod.build_world(
        out / "world",
        seed=cfg.world_seed,
        seed_images=cfg.seed_images,
        pairs=cfg.pairs,
        benchmark_per_task=cfg.benchmark_per_task,
    )
    files = world_mod.world_files(world_dir)
    _done(started, timings, "world")

    started = _stage("[2/8] the main synthesizer (the quickstart's)")
    init = out / "synthesizer" / "main" / "init"
    if cfg.cached_synthesizer:
        main_synth = _cached_synthesizer()
        print(f"    the tiny cache's tuned synthesizer: {main_synth}")
        build_tiny_synthesizer(init, world_mod.world_corpus(world_dir), seed=cfg.world_seed)
    elif _tuned_before(out / "synthesizer" / "main" / "synthesizer", cfg):
        main_synth = out / "synthesizer" / "main" / "synthesizer"
        print(f"    reusing the synthesizer an earlier run of this folder tuned with these steps: {main_synth}")
    else:
        main_synth = tune_tiny_synthesizer(
            world_dir,
            out / "synthesizer" / "main",
            seed=cfg.world_seed,
            max_minutes=None,
            pretrain_steps=cfg.pretrain_steps,
            threads=cfg.threads,
            max_steps=cfg.tune_steps,
        )
    _done(started, timings, "main_synthesizer")

    inputs: dict = {}
    if cfg.synthesizer_inputs:
        started = _stage(f"[3/8] synthesizer inputs: one synthesizer per variant, {cfg.variant_steps} steps each")
        inputs = synthesizer_inputs(init, world_dir, out / "synthesizer", cfg)
        _done(started, timings, "synthesizer_inputs")
    else:
        print("\n=== [3/8] synthesizer inputs: skipped (--no-synthesizer-inputs) ===")

    started = _stage("[4/8] synthesize -> filter (lexical) on the domain pairs; the data conditions")
    run_dir = out / "run"
    synthesis = SynthesisConfig(
        pairs=str(files["pairs"]),
        output=str(run_dir),
        synthesizer=str(main_synth),
        max_new_tokens=cfg.synth_max_new_tokens,
        batch_size=16,
        seed=cfg.world_seed,
    )
    summary = run_pipeline(synthesis, lambda: load_checker("lexical"), compose=ComposeOptions(seed=cfg.world_seed))
    print(format_summary(summary))
    data_dir = out / "data"
    built = build_conditions(run_dir, world_dir, data_dir, seed=cfg.world_seed)
    for name, c in built["conditions"].items():
        print(f"    {name}: {c['rows']} rows {c['kinds']}")
    _done(started, timings, "pipeline_and_data")

    started = _stage(f"[5/8] general students ({cfg.seeds} seeds): {cfg.general_rows} seed-set tasks each")
    base = build_tiny_synthesizer(out / "student" / "base", world_mod.world_corpus(world_dir), seed=cfg.world_seed + 1)
    generals = {}
    general_data = {}
    for s in range(cfg.seeds):
        rows_file = data_dir / "compose" / f"general-{s}.jsonl"
        rows = general_rows(world_dir, data_dir, cfg.general_rows, s)
        rows_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
        general_data[s] = {"file": str(rows_file.relative_to(out)), "rows": len(rows), "sha256": _sha(rows_file)}
        generals[s] = train_student(base, rows_file, out / "student" / f"general-{s}", s, cfg.general_epochs, cfg)
    _done(started, timings, "general_students")

    started = _stage(f"[6/8] post-training: {len(DATA_CONDITIONS)} conditions x {cfg.seeds} seeds")
    models: dict[str, dict[int, Path]] = {"general": dict(generals)}
    conditions: dict[str, dict] = {
        "general": {"data": {"rows": 0, "general_data": general_data}, "trained": False},
    }
    for name in DATA_CONDITIONS:
        info = built["conditions"][name]
        conditions[name] = {"data": info, "trained": info["rows"] > 0}
        models[name] = {}
        kinds = info["kinds"]
        stages = "two" if name == "two-stage" else "one"
        if stages == "two" and not (kinds.get("caption_only") and kinds.get("task")):
            conditions[name]["trained"] = False
        for s in range(cfg.seeds):
            if not conditions[name]["trained"]:
                models[name][s] = generals[s]  # nothing to train on: the model stays the general one
                continue
            target = out / "student" / f"{name}-{s}"
            print(f"    {name}, seed {s}", flush=True)
            models[name][s] = train_student(
                generals[s], data_dir / "compose" / f"{name}.jsonl", target, s, cfg.sft_epochs, cfg, stages
            )
            shutil.rmtree(target / "stage1", ignore_errors=True)
    _done(started, timings, "post_training")

    started = _stage("[7/8] evaluate every model on the mini benchmark")
    for name, by_seed in models.items():
        per_metric: dict[str, list[float]] = {}
        for s, model in by_seed.items():
            flat = evaluate_student(model, out / "eval" / f"{name}-{s}", files["benchmark"], cfg)
            for key, value in flat.items():
                per_metric.setdefault(key, []).append(value)
        conditions[name]["scores"] = per_metric
        print(f"    {name}: {json.dumps(per_metric)}", flush=True)
    intervals = bootstrap_scores(out / "eval", files["benchmark"], list(models), cfg.seeds, cfg.bootstrap)
    for name, block in intervals["conditions"].items():
        conditions[name]["summary"] = block
    _done(started, timings, "evaluate")

    started = _stage("[8/8] ABLATIONS.md and ablations.json")
    result = {
        "conditions": conditions,
        "filter": built["filter"],
        "synthesizer_inputs": inputs,
        "task_sources": built["task_sources"],
        "differences": intervals["differences"],
        "pipeline": {k: v for k, v in summary.items() if isinstance(v, (int, float, str, dict))},
        "config": asdict(cfg),
        "general_student": (
            f"the tiny student (the quickstart's architecture, seed {cfg.world_seed + 1}) trained for "
            f"{cfg.general_epochs:g} epochs on {cfg.general_rows} general tasks of the world (seed-set questions "
            "with precise or informative answers, drawn per seed) before any domain data"
        ),
        "timings_s": timings,
    }
    _done(started, timings, "report")
    timings["total"] = round(time.monotonic() - t0, 1)
    (out / "ablations.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    write_report(out / "ABLATIONS.md", result, out / "ablations.png")
    print(f"\nablations finished in {timings['total'] / 60:.1f} min: {out / 'ABLATIONS.md'}")
    return result
