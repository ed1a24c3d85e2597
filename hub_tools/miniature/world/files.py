"""Writing a world: :class:`WorldConfig`, the three seed sets, the domain pairs, the mini benchmark, and readers.

:func:`build_world` writes everything the quickstart needs into one folder::

    WORLD/
      world.json                      seed, sizes, held-out combinations, counts, task names
      pairs.json                      domain image-caption pairs (ShareGPT, read by hub_tools.data);
                                      each record also carries "params" and "heldout"
      heldout_pairs.json              the pairs whose parameter combination is not in the seed set
      images/pairs/*.png
      seed/ALLaVA-Caption-VFLAN-4V.json     caption set       (ALLaVA-Caption-VFLAN-4V layout)
      seed/metadata.json                    precise answers   (Vision-Flan metadata.json layout)
      seed/ALLaVA-Instruct-VFLAN-4V.json    informative answers (ALLaVA-Instruct-VFLAN-4V layout)
      seed/images_191task_1k/*.png          seed images (Vision-Flan's image folder name)
      benchmark/<Task>/test.jsonl + images/  mini benchmark in the evaluation schema
      benchmark/<Task>/vocabulary.json       (multilabel task) the label vocabulary

The seed sets use the published layouts and are joined by image file name; a few seed images are written to
only one or two of the sets (as in the real data), so a builder must join. Everything is deterministic from
``seed``: the same config gives byte-identical files.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.defaults import CAPTION_PROMPT, WORLD_BENCHMARK_PER_TASK, WORLD_PAIRS, WORLD_SEED_IMAGES
from hub_tools.miniature.world.aerial import AERIAL_TASK_NAMES, write_aerial_benchmark
from hub_tools.miniature.world.draw import draw, png_bytes
from hub_tools.miniature.world.params import (
    COLORS,
    DEFAULT_DOMAIN,
    INGREDIENTS,
    MODALITIES,
    ORGANS,
    REMOTE_SENSING,
    WORLD_DOMAINS,
    Food,
    Params,
    _kind_for,
    _rng,
    choose_aerial_heldout,
    choose_heldout,
    params_to_dict,
    sample_food,
    sample_params,
    sample_scan,
)
from hub_tools.miniature.world.task_folder import bench_row, write_task_folder
from hub_tools.miniature.world.text import QA, caption, questions, scan_questions

AERIAL_SEED_WEIGHTS = {
    "landuse": 2,
    "obj_count": 2,
    "obj_presence": 2,
    "obj_side": 2,
    "obj_side_check": 1,
    "obj_kind": 1,
}
"""How often each aerial question type (:mod:`~hub_tools.miniature.world.aerial`) is drawn for the seed set."""

WORLD_FORMAT_VERSION = "1"

DEFAULT_TASK_NAMES = {"closed_open": "SLAKE", "multiple_choice": "PMC-VQA", "multilabel": "FoodSeg103"}
"""Which harness task folder each world benchmark fills (see ``hub_tools.evaluation.tasks``)."""
ALLAVA_IMAGE_PREFIX = "allava_vflan/images/images_191task_1k/"
VFLAN_IMAGE_PREFIX = "images_191task_1k/"
SEED_IMAGE_DIR = "images_191task_1k"


@dataclass
class WorldConfig:
    """Sizes of the world.

    ``seed_images`` images are in all three seed sets and ``partial_seed_images`` more in only one or
    two; each seed image has a number of distinct questions drawn from ``questions_per_image``, each
    asked under both hints (question types weighted by :data:`SEED_QUESTION_WEIGHTS`). ``pairs`` domain
    pairs, ``heldout_fraction`` of them from held-out combinations; ``benchmark_per_task`` rows per
    benchmark task; square images of ``image_size`` pixels; ``food_share`` of the images are plates.
    ``domain`` ``remote-sensing`` draws aerial scenes only (:mod:`~hub_tools.miniature.world.aerial`: its own
    held-out (land use, object) pairs and benchmark tasks); the default world never draws one, and its files do
    not name the setting (they stay byte-identical to a world written before it existed).
    """

    seed: int = 0
    seed_images: int = WORLD_SEED_IMAGES
    partial_seed_images: int = 12
    pairs: int = WORLD_PAIRS
    heldout_fraction: float = 0.5
    benchmark_per_task: int = WORLD_BENCHMARK_PER_TASK
    image_size: int = 112
    food_share: float = 0.5
    max_ingredient_kinds: int = 3
    questions_per_image: list[int] = field(default_factory=lambda: [1, 1, 1, 1, 2])
    task_names: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TASK_NAMES))
    domain: str = DEFAULT_DOMAIN


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_png(path: Path, img) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(img))


SEED_QUESTION_WEIGHTS = {
    "count": 2, "presence": 2, "color": 2, "ingredients": 1, "total": 1,
    "lesion": 2, "side": 2, "size": 2, "side_check": 1, "organ": 2, "modality": 2,
    **AERIAL_SEED_WEIGHTS,
}  # fmt: skip
"""How often each question type is drawn for the seed set (the synthesizer learns this mix)."""


def seed_entries(params: Params, rng: random.Random, n_questions: int) -> list[QA]:
    """The seed questions of one image: ``n_questions`` distinct question types, weighted by
    :data:`SEED_QUESTION_WEIGHTS`, drawn by ``rng``."""
    pool = questions(params, rng)
    chosen = []
    while pool and len(chosen) < n_questions:
        weights = [SEED_QUESTION_WEIGHTS[qa.task] for qa in pool]
        chosen.append(pool.pop(rng.choices(range(len(pool)), weights=weights)[0]))
    return chosen


def _task_name(params: Params, task: str) -> str:
    return f"world_{params.kind}+{task}"


def _world_kind(rng: random.Random, cfg: WorldConfig) -> str:
    """The kind of the next image: ``aerial`` in the remote-sensing world (no draw), else food or scan."""
    return "aerial" if cfg.domain == REMOTE_SENSING else _kind_for(rng, cfg.food_share)


def write_seed_sets(out: Path, cfg: WorldConfig, heldout: set[str]) -> dict:
    """Write the three seed sets (and their images) under ``out``; returns counts."""
    captions, precise, informative = [], [], []
    n_full, n_partial = cfg.seed_images, cfg.partial_seed_images
    missing_kinds = ["informative", "precise", "both"]
    for index in range(n_full + n_partial):
        rng = _rng(cfg.seed, "seed-image", index)
        kind = _world_kind(rng, cfg)
        params = sample_params(rng, kind, heldout, want_heldout=False, max_kinds=cfg.max_ingredient_kinds)
        file = f"world_{kind}_{index:05d}.png"
        _write_png(out / SEED_IMAGE_DIR / file, draw(params, rng, cfg.image_size))
        cap = caption(params, rng)
        captions.append(
            {
                "id": f"allava_vflan_cap_{index}",
                "image": ALLAVA_IMAGE_PREFIX + file,
                "conversations": [
                    {"from": "human", "value": "<image>\n" + rng.choice(_CAPTION_INSTRUCTIONS)},
                    {"from": "gpt", "value": cap},
                ],
            }
        )
        missing = missing_kinds[index % 3] if index >= n_full else None
        for qa in seed_entries(params, rng, rng.choice(cfg.questions_per_image)):
            if missing not in ("precise", "both"):
                precise.append(
                    {
                        "id": f"{_task_name(params, qa.task)}_{index}",
                        "task_name": _task_name(params, qa.task),
                        "image": VFLAN_IMAGE_PREFIX + file,
                        "conversations": [
                            {"from": "human", "value": f"<image>\n{qa.question}"},
                            {"from": "gpt", "value": qa.precise},
                        ],
                    }
                )
            if missing not in ("informative", "both"):
                informative.append(
                    {
                        "id": f"allava_vflan_inst_{len(informative)}",
                        "image": ALLAVA_IMAGE_PREFIX + file,
                        "conversations": [
                            {"from": "human", "value": f"<image>\n{qa.question}"},
                            {"from": "gpt", "value": qa.informative},
                        ],
                    }
                )
    _write_json(out / "ALLaVA-Caption-VFLAN-4V.json", captions)
    _write_json(out / "metadata.json", precise)
    _write_json(out / "ALLaVA-Instruct-VFLAN-4V.json", informative)
    return {"images": n_full + n_partial, "in_all_three": n_full, "captions": len(captions),
            "precise": len(precise), "informative": len(informative)}  # fmt: skip


_CAPTION_INSTRUCTIONS = [
    "Please describe the picture in detail.",
    "Write a short caption for this image.",
    "What does this image show?",
    "Give a description of the image.",
]


def pair_record(pair_id: str, rel: str, params: Params, rng: random.Random, heldout: bool) -> dict:
    """One domain pair in the world's pairs layout: its image ``rel``, the caption prompt, a caption of ``params``
    (phrased by ``rng``), the parameter record and whether its combination is held out."""
    return {
        "id": pair_id,
        "images": [rel],
        "messages": [
            {"role": "user", "content": f"<image>\n{CAPTION_PROMPT}"},
            {"role": "assistant", "content": caption(params, rng)},
        ],
        "params": params_to_dict(params),
        "heldout": heldout,
    }


def write_pairs(out: Path, cfg: WorldConfig, heldout: set[str]) -> dict:
    """Write the domain pairs (ShareGPT JSON with params) and the held-out subset; returns counts."""
    pairs = []
    n_heldout = round(cfg.pairs * cfg.heldout_fraction)
    for index in range(cfg.pairs):
        rng = _rng(cfg.seed, "pair", index)
        kind = _world_kind(rng, cfg)
        is_heldout = index < n_heldout
        params = sample_params(rng, kind, heldout, want_heldout=is_heldout, max_kinds=cfg.max_ingredient_kinds)
        rel = f"images/pairs/world_pair_{index:05d}.png"
        _write_png(out / rel, draw(params, rng, cfg.image_size))
        pairs.append(pair_record(f"world_pair_{index:05d}", rel, params, rng, is_heldout))
    order = list(range(len(pairs)))
    _rng(cfg.seed, "pair-order").shuffle(order)
    pairs = [pairs[i] for i in order]
    _write_json(out / "pairs.json", pairs)
    _write_json(out / "heldout_pairs.json", [p for p in pairs if p["heldout"]])
    return {"pairs": len(pairs), "heldout_pairs": n_heldout}


# -- benchmark ----------------------------------------------------------------------------------
_MC_INSTRUCTION = "Answer with the option's letter from the given choices directly."
_ML_INSTRUCTION = "Which ingredients are on the plate? List them, separated by commas."


def _mc_row(params: Params, rng: random.Random) -> tuple[str, dict[str, str], str]:
    """A multiple-choice question (A-D) about ``params``: ``(question, options, answer letter)``."""
    if isinstance(params, Food):
        item = rng.choice(params.items)
        ing = INGREDIENTS[item.name]
        if rng.random() < 0.5:
            question, truth = f"How many {ing.plural} are on the plate?", str(item.count)
            pool = [str(k) for k in range(1, 9) if k != item.count]
        else:
            question, truth = f"What color are the {ing.plural}?", ing.color
            pool = [c for c in COLORS if c != ing.color]
    else:
        if rng.random() < 0.5:
            question, truth, pool = "Which organ is shown in the image?", params.organ, ["heart", "liver", "stomach"]
            pool = [o for o in ORGANS if o != params.organ] + pool
        else:
            question, truth = "What imaging modality is used?", params.modality
            pool = [m for m in MODALITIES if m != params.modality] + ["ultrasound", "PET"]
    choices = [truth] + rng.sample(pool, 3)
    rng.shuffle(choices)
    options = dict(zip("ABCD", choices))
    letter = "ABCD"[choices.index(truth)]
    return question, options, letter


def write_benchmark(out: Path, cfg: WorldConfig) -> dict:
    """Write the mini benchmark: one folder per task in the evaluation schema; returns row counts per task.

    Three harness task folders, named by ``cfg.task_names``: ``closed_open`` (default ``SLAKE``; scan
    questions, CLOSED yes/no and OPEN organ / modality / side / size labels, column ``answer_type``),
    ``multiple_choice`` (default ``PMC-VQA``; food counts and colours, scan organs and modalities, options in
    columns ``A``-``D`` and listed in ``input``, the label a letter) and ``multilabel`` (default
    ``FoodSeg103``; the ingredient list, with ``vocabulary.json``). Each holds ``test.jsonl`` (``id``,
    ``image`` (a path in the folder), ``input``, ``label``, ..., ``params`` as a JSON string) and ``images/``.
    """
    if cfg.domain == REMOTE_SENSING:
        return write_aerial_benchmark(out, cfg)
    names = {**DEFAULT_TASK_NAMES, **cfg.task_names}
    unknown = set(names) - set(DEFAULT_TASK_NAMES)
    if unknown:
        raise ValueError(f"unknown world benchmark(s) {sorted(unknown)}; expected {sorted(DEFAULT_TASK_NAMES)}")
    counts = {}
    for key, task in names.items():
        folder = out / task
        rows = []
        for index in range(cfg.benchmark_per_task):
            rng = _rng(cfg.seed, "bench", key, index)
            if key == "closed_open":
                params = sample_scan(rng)
                qas = [qa for qa in scan_questions(params, rng) if qa.task in ("lesion", "side_check", "side",
                                                                                "size", "organ", "modality")]  # fmt: skip
                closed = index % 2 == 0
                pick = [qa for qa in qas if (qa.precise in ("Yes", "No")) == closed]
                qa = rng.choice(pick)
                row = {"input": qa.question, "label": qa.precise.lower() if closed else qa.precise,
                       "answer_type": "CLOSED" if closed else "OPEN"}  # fmt: skip
            elif key == "multiple_choice":
                params = sample_food(rng, max_kinds=cfg.max_ingredient_kinds) if index % 2 == 0 else sample_scan(rng)
                question, options, letter = _mc_row(params, rng)
                listing = "\n".join(f"{k}. {v}" for k, v in options.items())
                row = {"input": f"{question}\n{listing}\n{_MC_INSTRUCTION}", "label": letter, **options}
            else:
                params = sample_food(rng, max_kinds=cfg.max_ingredient_kinds)
                row = {"input": _ML_INSTRUCTION, "label": sorted(params.names())}
            rows.append(bench_row(folder, task, index, params, rng, cfg.image_size, row))
        counts[task] = write_task_folder(folder, rows, sorted(INGREDIENTS) if key == "multilabel" else None)
    return counts


WORLD_WRITER = "adamllm world"
WORLD_OUTPUTS = ("seed", "images", "benchmark", "pairs.json", "heldout_pairs.json", "world.json")
"""What a world writes into its folder (listed by its ownership marker, :mod:`hub_tools.rundir.ownership`)."""


def _claim_world(out: Path) -> Path:
    """Check ``out`` (new, empty, or a world: its files are rewritten, byte-identical for the same config) and
    mark it as the world's; a folder that is not a world's is refused in one line (``OutputRefused``)."""
    from hub_tools.rundir.ownership import claim, prepare_folder, read_owner, refuse_link

    refuse_link(out, WORLD_WRITER)
    if out.is_dir() and read_owner(out) is None and (out / "world.json").is_file():
        names = {p.name for p in out.iterdir()}
        if names <= set(WORLD_OUTPUTS) and not any((out / n).is_symlink() for n in names):
            claim(out, WORLD_WRITER, sorted(names))  # a world an older version wrote
    prepare_folder(out, WORLD_WRITER, overwrite=True)
    claim(out, WORLD_WRITER, WORLD_OUTPUTS)
    return out


def build_world(out_dir: str | Path, config: WorldConfig | None = None, **overrides: Any) -> Path:
    """Write the miniature world (see the module doc) to ``out_dir``; returns ``out_dir``.

    ``overrides`` set :class:`WorldConfig` fields (``seed=1, pairs=40, ...``). The same config gives
    byte-identical files.
    """
    cfg = config or WorldConfig()
    for key, value in overrides.items():
        if not hasattr(cfg, key):
            raise TypeError(f"unknown world setting {key!r}")
        setattr(cfg, key, value)
    if cfg.seed_images < 1 or cfg.pairs < 1 or cfg.benchmark_per_task < 1:
        raise ValueError("seed_images, pairs and benchmark_per_task must be positive")
    if not 28 <= cfg.image_size <= 448:
        raise ValueError(f"image_size must be in [28, 448], not {cfg.image_size}")
    if cfg.domain not in WORLD_DOMAINS:
        raise ValueError(f"unknown world domain {cfg.domain!r}; expected one of {list(WORLD_DOMAINS)}")
    aerial = cfg.domain == REMOTE_SENSING
    if aerial and cfg.task_names == DEFAULT_TASK_NAMES:
        cfg.task_names = dict(AERIAL_TASK_NAMES)
    out = _claim_world(Path(out_dir))
    if aerial:
        heldout = set(choose_aerial_heldout(cfg.seed))
    else:
        heldout = set(choose_heldout(cfg.seed, max_kinds=cfg.max_ingredient_kinds))
    seed_counts = write_seed_sets(out / "seed", cfg, heldout)
    pair_counts = write_pairs(out, cfg, heldout)
    bench_counts = write_benchmark(out / "benchmark", cfg)
    config = asdict(cfg)
    if not aerial:  # the default world's world.json stays as it was before the setting existed
        config.pop("domain")
    _write_json(
        out / "world.json",
        {
            "format_version": WORLD_FORMAT_VERSION,
            "config": config,
            "heldout_combinations": sorted(heldout),
            "seed": seed_counts,
            "pairs": pair_counts,
            "benchmark": bench_counts,
            "files": {
                "pairs": "pairs.json",
                "heldout_pairs": "heldout_pairs.json",
                "caption_set": "seed/ALLaVA-Caption-VFLAN-4V.json",
                "precise_set": "seed/metadata.json",
                "informative_set": "seed/ALLaVA-Instruct-VFLAN-4V.json",
                "seed_images": f"seed/{SEED_IMAGE_DIR}",
                "benchmark": "benchmark",
            },
        },
    )
    return out


def world_files(world_dir: str | Path) -> dict[str, Path]:
    """Absolute paths of a built world's files (from its ``world.json``)."""
    world_dir = Path(world_dir)
    meta = world_dir / "world.json"
    if not meta.is_file():
        raise FileNotFoundError(f"{str(world_dir)!r} is not a world folder (no world.json); build it with build_world")
    files = json.loads(meta.read_text(encoding="utf-8"))["files"]
    return {key: world_dir / rel for key, rel in files.items()}


def load_pairs(path: str | Path) -> list[dict]:
    """Read a world pairs file; every record has ``id``, ``images``, ``messages`` and ``params``."""
    records = json.loads(Path(path).read_text(encoding="utf-8"))
    for index, record in enumerate(records):
        if "params" not in record:
            raise ValueError(f"{path}: record {index} has no 'params' (not a world pairs file?)")
    return records


def world_corpus(world_dir: str | Path) -> list[str]:
    """Every text of the world (captions, questions, answers), one string per line: for training a tokenizer."""
    files = world_files(world_dir)
    lines = []
    for key in ("caption_set", "precise_set", "informative_set"):
        for entry in json.loads(files[key].read_text(encoding="utf-8")):
            lines += [turn["value"].replace("<image>\n", "") for turn in entry["conversations"]]
    for pair in load_pairs(files["pairs"]):
        lines += [m["content"].replace("<image>\n", "") for m in pair["messages"]]
    return lines
