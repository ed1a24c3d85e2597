"""The whole method in miniature, on CPU and offline: ``adamllm quickstart`` / ``make quickstart``.

Stages (each prints a header; outputs under ``OUTPUT``):

1. ``world/``        a procedurally drawn miniature world (:mod:`hub_tools.miniature.world`): domain pairs,
                     seed sets in the three raw layouts, and a small benchmark in the evaluation schema
                     (``domain="remote-sensing"``: aerial scenes, scored on CLRS / FloodNet / NWPU-Captions).
2. ``synthesizer/``  tune a tiny Qwen2-VL synthesizer on the seed set (:mod:`hub_tools.miniature.synthesizer`).
3. measure it on held-out pairs (parameter combinations absent from the seed set): share of pairs with a
   strict triplet and with a grounded one (true of the image, checked against the world's parameters).
4. ``run/``          synthesize -> filter (lexical checker) -> compose (single-stage) on the domain pairs.
5. ``dataset/``      the Hub dataset folder (parquet + card).
6. ``student/``      single-stage SFT of a tiny student (TRL, :mod:`hub_tools.training.sft`).
7. ``eval/``         base and tuned student on the miniature benchmark; ``compare.png``.
8. ``REPORT.md``     counts, a sample of synthesized tasks, the score table and the chart.

The models are tiny and trained from scratch for minutes: the report shows the machinery working end
to end with numbers as measured; it does not reproduce the paper's results.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from hub_tools.miniature.quickstart_report import (  # noqa: F401  (re-exported: ablate, the tests)
    BENCHMARK_TASKS,
    FULL_RUN_MINUTES,
    REMOTE_SENSING_TASKS,
    _budget_lines,
    _sample_tasks,
    _sft_steps,
    _stage_rows,
    benchmark_tasks,
    write_report,
)
from hub_tools.miniature.world.params import DEFAULT_DOMAIN


@dataclass
class QuickstartConfig:
    """Sizes and budgets of the quickstart; :meth:`small` is the reduced CI version."""

    seed: int = 0
    seed_images: int = 1000
    pairs: int = 120
    benchmark_per_task: int = 30
    pretrain_steps: int = 1000
    tune_max_steps: int = 1300
    tune_minutes: float | None = None
    measure_pairs: int | None = None
    synth_max_new_tokens: int = 256
    sft_epochs: float = 20.0
    sft_learning_rate: float = 1e-3
    eval_max_new_tokens: int = 32
    domain: str = DEFAULT_DOMAIN
    """The world's domain: ``biomed+food`` (scans and plates) or ``remote-sensing`` (aerial scenes, evaluated on the
    CLRS / FloodNet / NWPU-Captions tasks)."""
    threads: int | str = "auto"
    """Torch threads of the tiny synthesizer: ``"auto"`` picks the faster of 1 and all cores while training
    (thread counts round floats differently, ~1e-8 in a step's gradients; a fixed count takes the load out
    of the arithmetic)."""

    budget_minutes: float | None = None
    """Set by :meth:`scaled`: the run was scaled down to fit this many minutes (for the report)."""
    full_steps: dict | None = None
    """Set by :meth:`scaled`: the unscaled step budgets (``pretrain_steps``, ``tune_max_steps``, ``sft_epochs``)."""

    def scaled(self, minutes: float) -> QuickstartConfig:
        """This config with its training scaled down to fit ``minutes`` (a copy; unchanged at or above the budget).

        The default run is sized for :data:`FULL_RUN_MINUTES` on a 2-core box half as fast as the
        development box; ``minutes`` below that scales text pretraining, seed-set tuning and the student's
        SFT epochs by ``minutes / FULL_RUN_MINUTES`` (the fixed stages, world, measuring and evaluation, are
        not scaled). The scale depends on ``minutes`` only, never on how fast the machine runs, so a
        given budget gives the same results everywhere.
        """
        from dataclasses import replace

        if minutes <= 0:
            raise ValueError(f"the budget must be positive, not {minutes} minutes")
        share = min(1.0, minutes / FULL_RUN_MINUTES)
        if share >= 1.0:
            return replace(self)
        return replace(
            self,
            pretrain_steps=max(1, round(self.pretrain_steps * share)) if self.pretrain_steps > 0 else 0,
            tune_max_steps=max(1, round(self.tune_max_steps * share)) if self.tune_max_steps > 0 else 0,
            sft_epochs=max(0.1, round(self.sft_epochs * share, 2)),
            budget_minutes=minutes,
            full_steps={
                "pretrain_steps": self.pretrain_steps,
                "tune_max_steps": self.tune_max_steps,
                "sft_epochs": self.sft_epochs,
            },
        )

    @classmethod
    def small(cls, seed: int = 0, domain: str = DEFAULT_DOMAIN) -> QuickstartConfig:
        """A reduced run (under a minute) that exercises every stage: the slow test uses it.

        Enough steps that the synthesizer writes a few complete triplets (with 12 steps and 48 new tokens
        it wrote none, and the student had no task rows to train on)."""
        return cls(
            seed=seed,
            seed_images=60,
            pairs=16,
            benchmark_per_task=6,
            pretrain_steps=150,
            tune_max_steps=200,
            measure_pairs=8,
            synth_max_new_tokens=128,
            sft_epochs=1.0,
            eval_max_new_tokens=8,
            domain=domain,
        )


def _stage(n: int, title: str) -> float:
    print(f"\n=== [{n}/8] {title} ===", flush=True)
    return time.monotonic()


def _done(started: float) -> None:
    print(f"    done in {time.monotonic() - started:.1f} s", flush=True)


QUICKSTART_WRITER = "adamllm quickstart"
QUICKSTART_OUTPUTS = (
    "world",
    "synthesizer",
    "run",
    "dataset",
    "student",
    "eval",
    "compare.png",
    "report.json",
    "REPORT.md",
)
"""What the quickstart writes into its ``--output`` (its ownership marker lists these; ``--overwrite`` removes them)."""
QUICKSTART_REPORTS = ("REPORT.md", "report.json")


def prepare_quickstart(output: str | Path, overwrite: bool = False) -> Path:
    """Before any work: refuse an ``output`` that is not the quickstart's, or holds a finished run's report without
    ``overwrite`` (one line, :class:`~hub_tools.rundir.ownership.OutputRefused`); with ``overwrite`` remove the earlier
    run's outputs (only those its marker lists). An interrupted run's folder is resumed."""
    from hub_tools.rundir.ownership import start_folder

    return start_folder(
        output, QUICKSTART_WRITER, QUICKSTART_OUTPUTS, overwrite=overwrite, reports=QUICKSTART_REPORTS, legacy=True
    )


def run_quickstart(output: str | Path, config: QuickstartConfig | None = None, overwrite: bool = False) -> dict:
    """Run every stage into ``output``; returns the report's numbers (also in ``output/report.json``).

    Each stage reuses what an interrupted run left in the same folder where its stage resumes (synthesis,
    filter, compose, evaluation); the world and the models are rebuilt deterministically from the seed. A folder
    holding a finished run's report is refused before any work unless ``overwrite`` (:func:`prepare_quickstart`).
    """
    from hub_tools.miniature import world as world_mod
    from hub_tools.miniature.synthesizer import (
        build_tiny_synthesizer,
        measure_synthesizer,
        tune_tiny_synthesizer,
    )

    cfg = config or QuickstartConfig()
    out = prepare_quickstart(output, overwrite)
    t0 = time.monotonic()
    timings: dict[str, float] = {}

    # 1. world --------------------------------------------------------------------------------
    started = _stage(1, "build the miniature world")
    world_dir = world_mod.build_world(
        out / "world",
        seed=cfg.seed,
        seed_images=cfg.seed_images,
        pairs=cfg.pairs,
        benchmark_per_task=cfg.benchmark_per_task,
        domain=cfg.domain,
    )
    tasks = benchmark_tasks(cfg.domain)
    remote = cfg.domain == world_mod.REMOTE_SENSING
    files = world_mod.world_files(world_dir)
    world_meta = json.loads((world_dir / "world.json").read_text())
    print(f"    seed sets {world_meta['seed']}, pairs {world_meta['pairs']}, benchmark {world_meta['benchmark']}")
    timings["world"] = time.monotonic() - started
    _done(started)

    # 2. synthesizer ----------------------------------------------------------------------------
    if cfg.tune_max_steps > 0:
        budget = f"{cfg.tune_max_steps} steps" + (f", capped at {cfg.tune_minutes} min" if cfg.tune_minutes else "")
    elif cfg.tune_minutes:
        budget = f"a {cfg.tune_minutes}-minute time budget"
    else:
        raise ValueError("seed-set tuning needs a step budget (tune_max_steps > 0) or a time budget (tune_minutes)")
    started = _stage(
        2, f"tune the tiny synthesizer: {cfg.pretrain_steps} text-pretraining steps, then the seed set ({budget})"
    )
    training = {"max_steps": cfg.tune_max_steps} if cfg.tune_max_steps > 0 else {}
    synthesizer = tune_tiny_synthesizer(
        world_dir,
        out / "synthesizer",
        seed=cfg.seed,
        max_minutes=cfg.tune_minutes,
        pretrain_steps=cfg.pretrain_steps,
        threads=cfg.threads,
        **training,
    )
    tuning = json.loads((synthesizer / "synthesizer.json").read_text())
    if tuning["stopped_by_time_budget"]:
        print(
            f"    the {cfg.tune_minutes}-minute cap stopped tuning at step {tuning['steps']} of {cfg.tune_max_steps}"
        )
    timings["tune_synthesizer"] = time.monotonic() - started
    _done(started)

    # 3. measure --------------------------------------------------------------------------------
    started = _stage(3, "measure the synthesizer on held-out pairs")
    heldout = world_mod.load_pairs(files["heldout_pairs"])
    if cfg.measure_pairs:
        heldout = heldout[: cfg.measure_pairs]
    measured = measure_synthesizer(
        synthesizer,
        heldout,
        image_root=files["heldout_pairs"].parent,
        max_new_tokens=cfg.synth_max_new_tokens,
        threads=cfg.threads,
    )
    print(
        f"    {measured['pairs']} held-out pairs: strict triplet {measured['strict_share']:.0%}, "
        f"grounded triplet {measured['grounded_share']:.0%}"
    )
    timings["measure"] = time.monotonic() - started
    _done(started)

    # 4. pipeline -------------------------------------------------------------------------------
    started = _stage(4, "synthesize -> filter (lexical) -> compose (single-stage)")
    from hub_tools.compose import ComposeOptions
    from hub_tools.filtering import load_checker
    from hub_tools.pipeline import format_summary, run_pipeline
    from hub_tools.synthesis.runner import SynthesisConfig

    run_dir = out / "run"
    synthesis = SynthesisConfig(
        pairs=str(files["pairs"]),
        output=str(run_dir),
        synthesizer=str(synthesizer),
        max_new_tokens=cfg.synth_max_new_tokens,
        batch_size=16,
        seed=cfg.seed,
    )
    summary = run_pipeline(synthesis, lambda: load_checker("lexical"), compose=ComposeOptions(seed=cfg.seed))
    print(format_summary(summary))
    timings["pipeline"] = time.monotonic() - started
    _done(started)

    # 5. dataset --------------------------------------------------------------------------------
    started = _stage(5, "build the Hub dataset folder")
    from hub_tools.publish.dataset import build_visual_instructions

    dataset_dir = out / "dataset"
    built = build_visual_instructions(
        run_dir,
        dataset_dir,
        overwrite=True,
        pretty_name="adamllm-hub quickstart (miniature " + ("remote-sensing world)" if remote else "world)"),
    )
    print("\n".join(f"    {line}" for line in built.summary_lines()))
    timings["dataset"] = time.monotonic() - started
    _done(started)

    # 6. SFT -----------------------------------------------------------------------------------
    started = _stage(6, "single-stage SFT of the tiny student")
    from trl import ModelConfig

    from hub_tools.training.arguments import ScriptArguments, SFTConfig
    from hub_tools.training.callbacks import StepProgress
    from hub_tools.training.sft import main as sft_main

    base = build_tiny_synthesizer(out / "student" / "base", world_mod.world_corpus(world_dir), seed=cfg.seed + 1)
    tuned = out / "student" / "tuned"
    kept = json.loads((run_dir / "stats.json").read_text()).get("kept", 0)
    dataset_config = "image_caption_and_synthetic_task" if kept else "image_caption_pairs"
    if not kept:
        print("    no task was kept: the student trains on the image-caption pairs only")
    script_args = ScriptArguments(
        dataset_name=str(dataset_dir),
        dataset_config=dataset_config,
        dataset_split="train",
        domain="miniature remote-sensing world" if remote else "miniature world",
    )
    training_args = SFTConfig(
        output_dir=str(tuned),
        use_cpu=True,
        bf16=False,
        learning_rate=cfg.sft_learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.1,
        weight_decay=0.1,
        num_train_epochs=cfg.sft_epochs,
        per_device_train_batch_size=8,
        logging_steps=2,
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
        dataloader_num_workers=0,
    )
    model_args = ModelConfig(model_name_or_path=str(base), dtype="float32")
    sft_summary = sft_main(script_args, training_args, model_args, progress=StepProgress("student SFT"))
    timings["sft"] = time.monotonic() - started
    _done(started)

    # 7. evaluate ---------------------------------------------------------------------------------
    started = _stage(7, "evaluate base and tuned student on the miniature benchmark")
    from hub_tools.evaluation.harness import evaluate_model
    from hub_tools.evaluation.report import compare

    scores = {}
    for name, model in (("base", base), ("tuned", tuned)):
        scores[name] = evaluate_model(
            str(model),
            tasks=tasks,
            output_dir=out / "eval" / name,
            benchmark_dir=files["benchmark"],
            max_new_tokens=cfg.eval_max_new_tokens,
            batch_size=16,
            device="cpu",
            dtype="float32",
            min_pixels=None,
            max_pixels=None,
        )
    chart = out / "compare.png"
    rows = compare(out / "eval" / "base", out / "eval" / "tuned", chart, labels=("base student", "tuned student"))
    timings["evaluate"] = time.monotonic() - started
    _done(started)

    # 8. report ---------------------------------------------------------------------------------
    started = _stage(8, "write REPORT.md")
    stats = json.loads((run_dir / "stats.json").read_text())
    report = {
        "domain": cfg.domain,
        "benchmark_tasks": tasks,
        "config": asdict(cfg),
        "world": world_meta,
        "synthesizer": {k: v for k, v in measured.items() if k != "samples"},
        "synthesizer_training": {
            key: tuning.get(key)
            for key in ("steps", "max_steps", "seconds", "stopped_by_time_budget", "eval_loss", "text_pretraining")
        },
        "pipeline": summary,
        "stats": stats,
        "student_dataset_config": dataset_config,
        "sft": {k: v for k, v in sft_summary.items() if isinstance(v, (int, float, str, list, dict, type(None)))},
        "scores": rows,
        "random_fallbacks": {
            name: {
                task: r["results"]["num_random_fallback"]
                for task, r in run["tasks"].items()
                if "num_random_fallback" in r["results"]
            }
            for name, run in scores.items()
        },
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    timings["report"] = time.monotonic() - started
    total = time.monotonic() - t0
    report["timings_s"] = {**{k: round(v, 1) for k, v in timings.items()}, "total": round(total, 1)}
    report["stages"] = _stage_rows(timings, total, cfg, tuning, measured, sft_steps=_sft_steps(tuned), scores=scores)
    report["budget"] = _budget_lines(cfg, tuning)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    write_report(out / "REPORT.md", report, _sample_tasks(run_dir), measured.get("samples", []), chart)
    print(f"    {out / 'REPORT.md'}")
    print(f"\nquickstart finished in {total / 60:.1f} min: {out / 'REPORT.md'}")
    return report
