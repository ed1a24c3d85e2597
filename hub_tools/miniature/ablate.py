"""The paper's ablations in miniature: ``adamllm ablate`` / ``make ablate``.

Reuses the quickstart's parts: the miniature world (:mod:`hub_tools.miniature.world`), its tuned tiny synthesizer
(:func:`hub_tools.miniature.synthesizer.tune_tiny_synthesizer`) and the pipeline with the lexical checker; adds the
ablation's own world (:mod:`hub_tools.miniature.ablate_world`: general shapes, domain pairs outside the benchmark's
combinations, a balanced benchmark) and student (:mod:`hub_tools.miniature.ablate_student`: a tiny Qwen2-VL that
reads images, one training loop, likelihood scoring). The synthesizer-inputs block lives in
:mod:`hub_tools.miniature.ablate_synth` (re-exported here).

Stages, under ``OUTPUT``:

1. ``world/``, ``ablate_world/`` the quickstart's world (the synthesizer's seed data) and the ablation's world.
2. ``synthesizer/main``      the quickstart's synthesizer (``--small``: the tiny cache's tuned one, no tuning).
3. ``synthesizer/<variant>`` the synthesizer-inputs block: from one starting point (the text-pretrained init),
   one synthesizer per input variant, each tuned on the same reduced step budget, measured on the held-out pairs.
4. ``run/``                  synthesize -> filter (lexical) on the domain pairs with the main synthesizer: one run dir
   whose tasks every data condition shares (:mod:`hub_tools.miniature.ablate_data`).
5. ``student/general-S``     the general student of seed S, trained on general rows only; the **feasibility gate**
   (it must read images: dev accuracy >= question-only prior + 20, gray-image accuracy within 3 of the prior).
6. registration            post-training lr and epochs chosen on the general dev split, written to
   ``ablations.json`` before any condition is scored.
7. ``student/<cond>-S``      each data condition post-trained from ``general-S`` (early stopping on 10% of its rows).
8. ``eval/<cond>-S.json``     every model on the benchmark (likelihood scoring) and the general dev split.
9. ``ABLATIONS.md`` and ``ablations.json`` (:mod:`hub_tools.miniature.ablate_report`): paired-bootstrap intervals,
   Holm-corrected verdicts, the run's minimum detectable difference.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

from hub_tools.miniature.ablate_config import AblationConfig  # noqa: F401 (re-exported)
from hub_tools.miniature.ablate_data import DATA_CONDITIONS
from hub_tools.miniature.ablate_student import ReleasedMetrics
from hub_tools.miniature.ablate_synth import (  # noqa: F401 (re-exported)
    NO_CAPTION,
    SYNTHESIZER_VARIANTS,
    _cached_synthesizer,
    _tuned_before,
    synthesizer_inputs,
    tune_variant,
)


def _stage(title: str) -> float:
    print(f"\n=== {title} ===", flush=True)
    return time.monotonic()


def _done(started: float, timings: dict, key: str) -> None:
    timings[key] = round(time.monotonic() - started, 1)
    print(f"    done in {timings[key]} s", flush=True)


# ---------------------------------------------------------------------------------------------
# students, the gate, registration
# ---------------------------------------------------------------------------------------------
_SHARED: dict = {}
"""The image and text caches of the current run's students (one tokenizer and image processor per run)."""


def _student(path: Path):
    from hub_tools.miniature.ablate_student import Student

    return Student(path, _SHARED)


def measure_gate(student, dev: list[dict], root: Path, prior: dict, cfg: AblationConfig) -> dict:
    """The feasibility gate's figures for one general student: dev accuracy, gray-image accuracy, the prior."""
    from hub_tools.miniature.ablate_world import chance, prior_accuracy

    dev_acc, hits = student.accuracy(dev, root)
    gray_acc, _ = student.accuracy(dev, root, gray=True)
    prior_acc = prior_accuracy(prior, dev)
    passed = dev_acc >= prior_acc + cfg.gate_margin and abs(gray_acc - prior_acc) <= cfg.gray_tolerance
    return {
        "passed": bool(passed),
        "dev_accuracy": round(dev_acc, 1),
        "question_only_prior": round(prior_acc, 1),
        "gray_image_accuracy": round(gray_acc, 1),
        "general_dev_chance": round(chance(dev), 1),
        "items": len(dev),
    }


def register_hyperparameters(general: Path, probe: list[dict], root: Path, dev, dev_root, cfg, timings) -> dict:
    """Choose the post-training lr and epochs on the general dev split (never on the benchmark).

    From the seed-0 general student, one post-training per lr of ``cfg.lr_grid`` on ``probe`` (fresh general
    rows, as many as the method's domain rows: no domain data, no benchmark) for ``cfg.max_epochs`` epochs; the
    general dev accuracy is measured after every epoch. Registered: the (lr, epochs) with the highest general dev
    accuracy (ties: the larger lr, then more epochs: the most room to learn the domain). Early stopping on each
    condition's own held-out 10% then picks the epoch within that cap.
    """
    trials = []
    for lr in cfg.lr_grid:
        student = _student(general)
        curve = []

        def measure(epoch, student=student, curve=curve):
            acc, _ = student.accuracy(dev, dev_root)
            curve.append({"epoch": epoch, "general_dev_accuracy": round(acc, 1)})
            return {"general_dev_accuracy": round(acc, 1)}

        student.train(
            probe,
            root,
            lr=lr,
            seed=0,
            epochs=cfg.max_epochs,
            batch_size=cfg.post_batch,
            on_epoch=measure,
            tune_threads=cfg.threads == "auto",
        )
        trials.append({"lr": lr, "curve": curve})
        print(f"    lr {lr:g}: general dev {[c['general_dev_accuracy'] for c in curve]}", flush=True)
    best = max(
        ((t["lr"], c["epoch"], c["general_dev_accuracy"]) for t in trials for c in t["curve"]),
        key=lambda x: (x[2], x[0], x[1]),
    )
    return {
        "lr": best[0],
        "epochs": best[1],
        "chosen_on": "general-dev",
        "general_dev_accuracy_at_choice": best[2],
        "rule": "highest general-dev accuracy after post-training the seed-0 general student on fresh general rows "
        "(as many as the method's domain rows); ties: larger lr, then more epochs; early stopping on each "
        "condition's own held-out 10% of rows (loss) within the registered epochs",
        "probe_rows": len(probe),
        "trials": trials,
        "batch_size": cfg.post_batch,
        "patience": cfg.patience,
    }


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------
ABLATE_WRITER = "adamllm ablate"
ABLATE_OUTPUTS = (
    "world",
    "ablate_world",
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
    (:func:`prepare_ablations`). When the gate fails and ``config.allow_failed_gate`` is off, stops after the gate:
    the report then holds the gate's figures only, and ``result["gate"]["passed"]`` is False (``adamllm ablate``
    exits 1)."""
    from hub_tools.compose import ComposeOptions
    from hub_tools.filtering import load_checker
    from hub_tools.miniature import ablate_world as aw
    from hub_tools.miniature import world as world_mod
    from hub_tools.miniature.ablate_data import build_conditions
    from hub_tools.miniature.ablate_report import bootstrap_scores, write_report
    from hub_tools.miniature.ablate_student import build_student, split_heldout
    from hub_tools.miniature.synthesizer import build_tiny_synthesizer, tune_tiny_synthesizer
    from hub_tools.miniature.threads import torch_threads
    from hub_tools.pipeline import format_summary, run_pipeline
    from hub_tools.synthesis.runner import SynthesisConfig

    cfg = config or AblationConfig()
    if cfg.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, not {cfg.seeds}")
    out = prepare_ablations(output, overwrite)
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    student_threads = None if cfg.threads == "auto" else int(cfg.threads)  # auto: tuned while training

    started = _stage("[1/9] the worlds: the quickstart's (synthesizer data) and the ablation's")
    world_dir = world_mod.build_world(
        out / "world",
        seed=cfg.world_seed,
        seed_images=cfg.seed_images,
        pairs=cfg.pairs,
        benchmark_per_task=1,
        domain=cfg.domain,
    )
    aw_dir = out / "ablate_world"
    aw_dir.mkdir(parents=True, exist_ok=True)
    general_train = aw.write_general(aw_dir, cfg.general_rows, cfg.world_seed, "train")
    general_dev = [i for i in aw.write_general(aw_dir, cfg.general_dev, cfg.world_seed, "dev") if i["candidates"]]
    general_probe = aw.write_general(aw_dir, cfg.domain_pairs, cfg.world_seed, "probe")
    domain_pairs = aw.write_domain_pairs(aw_dir, cfg.domain_pairs, cfg.world_seed, domain=cfg.domain)
    bench = aw.write_benchmark(aw_dir, cfg.benchmark_per_task, cfg.world_seed, domain=cfg.domain)
    prior = aw.question_prior(general_train)
    harness_order = aw.write_harness_benchmark(aw_dir / "harness", bench, cfg.generated_items)
    chances = {task: round(aw.chance(items), 1) for task, items in bench.items()}
    print(f"    benchmark items { ({t: len(v) for t, v in bench.items()}) }, chance {chances}", flush=True)
    _done(started, timings, "world")

    started = _stage("[2/9] the main synthesizer (the quickstart's)")
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
        started = _stage(f"[3/9] synthesizer inputs: one synthesizer per variant, {cfg.variant_steps} steps each")
        inputs = synthesizer_inputs(init, world_dir, out / "synthesizer", cfg)
        _done(started, timings, "synthesizer_inputs")
    else:
        print("\n=== [3/9] synthesizer inputs: skipped (--no-synthesizer-inputs) ===")

    started = _stage("[4/9] synthesize -> filter (lexical) on the domain pairs; the data conditions")
    run_dir = out / "run"
    synthesis = SynthesisConfig(
        pairs=str(domain_pairs),
        output=str(run_dir),
        synthesizer=str(main_synth),
        max_new_tokens=cfg.synth_max_new_tokens,
        batch_size=16,
        seed=cfg.world_seed,
    )
    summary = run_pipeline(synthesis, lambda: load_checker("lexical"), compose=ComposeOptions(seed=cfg.world_seed))
    print(format_summary(summary))
    data_dir = out / "data"
    general_pool = [aw.item_row(i) for i in general_train]
    built = build_conditions(
        run_dir, domain_pairs, data_dir, general_pool, aw_dir, seed=cfg.world_seed, domain=cfg.domain
    )
    for name, c in built["conditions"].items():
        print(f"    {name}: {c['rows']} rows {c['kinds']}")
    _done(started, timings, "pipeline_and_data")

    result: dict = {
        "smoke_test": cfg.smoke_test,
        "domain": cfg.domain,
        "config": asdict(cfg),
        "filter": built["filter"],
        "synthesizer_inputs": inputs,
        "task_sources": built["task_sources"],
        "pipeline": {k: v for k, v in summary.items() if isinstance(v, (int, float, str, dict))},
        "benchmark": {
            task: {"items": len(items), "format": aw.TASK_FORMATS[task], "chance": chances[task]}
            for task, items in bench.items()
        },
        "timings_s": timings,
    }

    started = _stage(
        f"[5/9] general students ({min(cfg.general_students, cfg.seeds)}): {cfg.general_steps} steps on general rows; gate"
    )
    _SHARED.clear()  # this run's students share one tokenizer and image processor
    base = build_student(out / "student" / "base", world_mod.world_corpus(world_dir) + _general_corpus(general_train),
                         seed=cfg.world_seed + 1)  # fmt: skip
    generals, gate_per_seed, general_training = {}, [], {}
    n_general = max(1, min(cfg.general_students, cfg.seeds))
    with torch_threads(student_threads):
        for s in range(n_general):
            student = _student(base)
            rows = [aw.item_row(i) for i in general_train]
            general_training[s] = student.train(
                rows,
                aw_dir,
                lr=cfg.general_lr,
                seed=s,
                steps=cfg.general_steps,
                batch_size=cfg.general_batch,
                tune_threads=cfg.threads == "auto",
            )
            generals[s] = student.save(out / "student" / f"general-{s}")
            gate_per_seed.append({"seed": s, **measure_gate(student, general_dev, aw_dir, prior, cfg)})
            print(f"    general-{s}: {gate_per_seed[-1]} ({general_training[s]['seconds']} s)", flush=True)
        for s in range(n_general, cfg.seeds):
            generals[s] = generals[s % n_general]
    gate = {
        "passed": all(g["passed"] for g in gate_per_seed),
        "dev_accuracy": round(sum(g["dev_accuracy"] for g in gate_per_seed) / n_general, 1),
        "question_only_prior": gate_per_seed[0]["question_only_prior"],
        "gray_image_accuracy": round(sum(g["gray_image_accuracy"] for g in gate_per_seed) / n_general, 1),
        "chance": {"general-dev": gate_per_seed[0]["general_dev_chance"], **chances},
        "required": {"over_prior": cfg.gate_margin, "gray_within": cfg.gray_tolerance},
        "per_seed": gate_per_seed,
        "dev_items": len(general_dev),
    }
    result["gate"] = gate
    result["general_student"] = (
        f"{n_general} general student{'s' if n_general > 1 else ''} (seed s post-trains from general student "
        f"s mod {n_general}): the ablation's tiny student (Qwen2-VL text side hidden 64 x 2 layers, vision tower embed 64 x 2 blocks, "
        f"64 image tokens; seed {cfg.world_seed + 1}) trained for {cfg.general_steps} steps (batch "
        f"{cfg.general_batch}, lr {cfg.general_lr:g}) on {cfg.general_rows} general rows (coloured shapes: "
        "colours, counts, yes/no, A-D letters, captions; no domain word) before any domain data"
    )
    result["general_training"] = general_training
    _done(started, timings, "general_students")
    if not gate["passed"] and not cfg.allow_failed_gate:
        timings["total"] = round(time.monotonic() - t0, 1)
        _write_json(out / "ablations.json", result)
        write_report(out / "ABLATIONS.md", result, out / "ablations.png")
        print("\nthe feasibility gate failed: the general student does not read images; stopped before the "
              f"comparisons (--allow-failed-gate writes them anyway): {out / 'ABLATIONS.md'}")  # fmt: skip
        return result

    started = _stage("[6/9] registration: post-training lr and epochs chosen on the general dev split")
    n_probe = built["conditions"]["single-stage"]["rows"] or len(general_probe)
    probe = [aw.item_row(i) for i in general_probe[:n_probe]]
    with torch_threads(student_threads):
        registered = register_hyperparameters(generals[0], probe, aw_dir, general_dev, aw_dir, cfg, timings)
    result["registered"] = registered
    _write_json(out / "ablations.json", result)  # registered before any condition is scored
    print(f"    registered: lr {registered['lr']:g}, epochs {registered['epochs']} (written to ablations.json)")
    _done(started, timings, "registration")

    started = _stage(f"[7/9] post-training: {len(DATA_CONDITIONS)} conditions x {cfg.seeds} seeds")
    conditions: dict[str, dict] = {"general": {"data": {"rows": 0}, "trained": False, "training": {}}}
    hits: dict[tuple[str, int], dict[str, list[int]]] = {}
    retention: dict[str, list[float]] = {
        "general": [gate_per_seed[s % n_general]["dev_accuracy"] for s in range(cfg.seeds)]
    }
    eval_dir = out / "eval"
    eval_dir.mkdir(parents=True, exist_ok=True)

    released = ReleasedMetrics(aw_dir / "harness", harness_order, bench, aw_dir)
    generated: dict[str, list[dict]] = {}

    def evaluate(name: str, s: int, student) -> None:
        per_task = {}
        for task, items in bench.items():
            _, per_task[task] = student.accuracy(items, aw_dir)
        hits[(name, s)] = per_task
        dev_acc, _ = student.accuracy(general_dev, aw_dir)
        retention.setdefault(name, []).append(round(dev_acc, 1))
        generated.setdefault(name, []).append(released(student))
        _write_json(
            eval_dir / f"{name}-{s}.json",
            {"hits": per_task, "general_dev_accuracy": dev_acc, "generated": generated[name][-1]},
        )

    with torch_threads(student_threads):
        for s in range(cfg.seeds):
            if s >= n_general:  # the same general student: the same scores
                hits[("general", s)] = hits[("general", s % n_general)]
                generated["general"].append(generated["general"][s % n_general])
                continue
            student = _student(generals[s])
            for task, items in bench.items():
                hits.setdefault(("general", s), {})[task] = student.accuracy(items, aw_dir)[1]
            generated.setdefault("general", []).append(released(student))
            _write_json(
                eval_dir / f"general-{s}.json", {"hits": hits[("general", s)], "generated": generated["general"][-1]}
            )
        for name in DATA_CONDITIONS:
            info = built["conditions"][name]
            rows = [json.loads(line) for line in (out / info["file"]).read_text().splitlines() if line.strip()]
            stages = [rows]
            if name == "two-stage":
                stages = [[r for r in rows if r["kind"] == "caption_only"], [r for r in rows if r["kind"] == "task"]]
            trained = all(stages) and bool(rows)
            conditions[name] = {"data": info, "trained": trained, "training": {}}
            for s in range(cfg.seeds):
                student = _student(generals[s])
                if trained:
                    log = []
                    for k, stage_rows in enumerate(stages):
                        train_rows, held = split_heldout(stage_rows, seed=s * 100 + k)
                        log.append(
                            student.train(
                                train_rows, data_dir, lr=registered["lr"], seed=s, epochs=registered["epochs"],
                                batch_size=cfg.post_batch, heldout=held, patience=cfg.patience,
                                tune_threads=cfg.threads == "auto",
                            )
                        )  # fmt: skip
                    conditions[name]["training"][s] = log
                evaluate(name, s, student)
                print(f"    {name}, seed {s}: retention {retention[name][-1]}, "
                      f"epochs {[x['best_epoch'] for x in conditions[name]['training'].get(s, [])]}", flush=True)  # fmt: skip
    _done(started, timings, "post_training_and_scoring")

    started = _stage("[8/9] statistics: paired bootstrap over items and seeds, Holm correction, power")
    names = ["general", *DATA_CONDITIONS]
    stats = bootstrap_scores(hits, names, cfg.seeds, cfg.bootstrap)
    for name in names:
        block = conditions[name]
        block["scores"] = {
            f"{task}/accuracy": [
                round(100 * sum(hits[(name, s)][task]) / len(bench[task]), 2) for s in range(cfg.seeds)
            ]
            for task in bench
        }
        block["summary"] = stats["conditions"][name]
        block["generated"] = {key: [g[key] for g in generated[name]] for key in generated[name][0]}
        block["retention"] = {
            "general_dev_accuracy": round(sum(retention[name]) / len(retention[name]), 1),
            "per_seed": retention[name],
        }
    result["conditions"] = conditions
    result["differences"] = stats["differences"]
    result["power"] = {**stats["power"], "seeds": cfg.seeds, "items": {t: len(v) for t, v in bench.items()}}
    _done(started, timings, "statistics")

    started = _stage("[9/9] ABLATIONS.md and ablations.json")
    _done(started, timings, "report")
    timings["total"] = round(time.monotonic() - t0, 1)
    _write_json(out / "ablations.json", result)
    write_report(out / "ABLATIONS.md", result, out / "ablations.png")
    print(f"\nablations finished in {timings['total'] / 60:.1f} min: {out / 'ABLATIONS.md'}")
    return result


def _general_corpus(items: list[dict]) -> list[str]:
    """The general rows' texts (for the student's tokenizer)."""
    return [i["question"] for i in items[:600]] + [i["answer"] for i in items[:600]]
