"""The domain benchmarks of AdaMLLM: data source, prompt, generation budget and metric of each.

Hub configs of ``AdaptLLM/biomed-VQA-benchmark`` / ``AdaptLLM/food-VQA-benchmark`` /
``AdaptLLM/remote-sensing-VQA-benchmark`` (the last: configs and columns not verified) (split ``test``: ``image``,
``input``, ``label``, plus ``answer_type`` or options where the task has them), or a local ``--benchmark-dir``
that mirrors them. What we know (and assume) of those datasets: ``docs/benchmarks.md``.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.evaluation import remote_sensing as RS
from hub_tools.evaluation import vocab as V

BIOMED_REPO = "AdaptLLM/biomed-VQA-benchmark"
FOOD_REPO = V.FOOD_REPO
REMOTE_SENSING_REPO = RS.REMOTE_SENSING_REPO
REPOS = {"biomed": BIOMED_REPO, "food": FOOD_REPO, RS.REMOTE_SENSING_DOMAIN: REMOTE_SENSING_REPO}
SPLIT = "test"
DEFAULT_MAX_NEW_TOKENS = 1024
SHORT_MAX_NEW_TOKENS = 256


@dataclass(frozen=True)
class Task:
    """One benchmark: its Hub config, metric module and how rows become metric inputs."""

    name: str
    domain: str  # "biomed" | "food" | "remote-sensing"
    metric: str  # module folder under metrics/
    kind: str  # "medical" | "letters" | "food101" | "multilabel" | "text" | "scene" | "rsvqa"
    primary: tuple[str, ...]  # result keys reported in tables and comparisons
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    vocabulary_file: str | None = None
    folder_aliases: tuple[str, ...] = ()

    @property
    def repo(self) -> str:
        """The Hub dataset repo holding this task."""
        return REPOS[self.domain]


_MED = ("open_recall", "closed_accuracy")
TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("SLAKE", "biomed", "medical_vqa", "medical", _MED, folder_aliases=("slake",)),
        Task("VQA_RAD", "biomed", "medical_vqa", "medical", _MED, folder_aliases=("vqa_rad", "vqa-rad")),
        Task("PathVQA", "biomed", "medical_vqa", "medical", _MED, folder_aliases=("pathvqa",)),
        Task("PMC-VQA", "biomed", "multiple_choice", "letters", ("accuracy",), folder_aliases=("pmc_vqa",)),
        Task("Recipe1M", "food", "rouge_l", "text", ("rouge_l",), folder_aliases=("food_eval_multitask_v2",)),
        Task(
            "Food101",
            "food",
            "multiple_choice",
            "food101",
            ("accuracy",),
            SHORT_MAX_NEW_TOKENS,
            V.FOOD101_MAP_FILE,
            ("food101",),
        ),
        Task(
            "FoodSeg103",
            "food",
            "multilabel",
            "multilabel",
            ("f1",),
            SHORT_MAX_NEW_TOKENS,
            V.FOODSEG103_MAP_FILE,
            ("foodseg103",),
        ),
        Task(
            "Nutrition5K",
            "food",
            "multilabel",
            "multilabel",
            ("recall",),
            SHORT_MAX_NEW_TOKENS,
            V.NUTRITION5K_FILE,
            ("nutrition50k", "nutrition5k"),
        ),
        # remote sensing (paper v4): names and schema as assumed in remote_sensing.py (not verified on the Hub)
        Task(
            "CLRS",
            "remote-sensing",
            "multiple_choice",
            "scene",
            ("accuracy",),
            SHORT_MAX_NEW_TOKENS,
            folder_aliases=("clrs",),
        ),  # fmt: skip
        Task(
            "UC_Merced",
            "remote-sensing",
            "multiple_choice",
            "scene",
            ("accuracy",),
            SHORT_MAX_NEW_TOKENS,
            folder_aliases=("ucmerced", "uc-merced"),
        ),  # fmt: skip
        Task("FloodNet", "remote-sensing", "medical_vqa", "rsvqa", _MED, folder_aliases=("floodnet",)),
        Task("NWPU-Captions", "remote-sensing", "rouge_l", "text", ("rouge_l",), folder_aliases=("nwpu_captions",)),
    )
}
GROUPS: dict[str, list[str]] = {
    "biomed": ["SLAKE", "VQA_RAD", "PathVQA", "PMC-VQA"],
    "food": ["Recipe1M", "Food101", "FoodSeg103", "Nutrition5K"],
    RS.REMOTE_SENSING_DOMAIN: ["CLRS", "UC_Merced", "FloodNet", "NWPU-Captions"],
}
GROUPS["all"] = GROUPS["biomed"] + GROUPS["food"] + GROUPS[RS.REMOTE_SENSING_DOMAIN]
GROUP_ALIASES = {"remote_sensing": RS.REMOTE_SENSING_DOMAIN, "remotesensing": RS.REMOTE_SENSING_DOMAIN}
PMC_OPTION_KEYS = ("A", "B", "C", "D")
METRIC_OPTIONS: dict[str, dict[str, Any]] = {}
"""Extra ``compute()`` keywords per metric module, used for every task scored with it (empty: the
modules' defaults, which are the published protocol). E.g. ``{"medical_vqa": {"mode": "token"}}`` for
the stricter yes/no gate; recorded in ``scores.json``."""


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def resolve_tasks(spec: str | Sequence[str]) -> list[Task]:
    """Turn ``"biomed"``, ``"food"``, ``"remote-sensing"``, ``"all"`` or comma-separated task names into tasks.

    Tasks come in order, once each.

    Names match case-insensitively, ignoring ``-`` / ``_`` (``pmc_vqa``, ``vqa-rad`` work).
    """
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    by_key = {_key(name): name for name in TASKS}
    chosen: list[str] = []
    for raw in parts:
        part = raw.strip()
        if not part:
            continue
        group = GROUP_ALIASES.get(part.lower(), part.lower())
        if group in GROUPS:
            names = GROUPS[group]
        elif _key(part) in by_key:
            names = [by_key[_key(part)]]
        else:
            known = ", ".join(list(GROUPS) + list(TASKS))
            raise ValueError(f"unknown task or group {part!r}; choose from: {known}")
        chosen.extend(n for n in names if n not in chosen)
    if not chosen:
        raise ValueError(f"no task selected by {spec!r}")
    return [TASKS[name] for name in chosen]


@dataclass
class Item:
    """One benchmark question: what the model sees, the stored label and the metric's per-item inputs."""

    id: int
    input: str
    label: Any  # as in the dataset (written to predictions/<task>.jsonl)
    reference: Any  # as the metric wants it
    metric_args: dict[str, Any] = field(default_factory=dict)  # per-item compute() kwargs (one value each)
    extra: dict[str, Any] = field(default_factory=dict)  # also written to the predictions file


class BenchmarkSplit:
    """A loaded test split of one task: items (no images decoded) plus lazy image access."""

    def __init__(self, task: Task, dataset, source: str, root: Path | None, benchmark_dir: Path | None):
        self.task = task
        self.dataset = dataset
        self.source = source
        self.root = root
        self.shared_kwargs: dict[str, Any] = {}
        self.vocabulary_source: str | None = None
        self.options: dict[str, str] | None = None
        self.metric_options: dict[str, Any] = dict(METRIC_OPTIONS.get(task.metric, {}))
        missing = [c for c in ("image", "input", "label") if c not in dataset.column_names]
        if missing:
            raise ValueError(f"{task.name} ({source}): missing column(s) {missing}; has {dataset.column_names}")
        self.items = self._build_items(benchmark_dir)

    def __len__(self) -> int:
        return len(self.items)

    # -- items ---------------------------------------------------------------------------------
    def _columns(self, names: list[str]) -> list[dict]:
        absent = [n for n in names if n not in self.dataset.column_names]
        if absent:
            raise ValueError(
                f"{self.task.name} ({self.source}): missing column(s) {absent}; has {self.dataset.column_names}"
            )
        table = self.dataset.select_columns(names).to_dict()
        return [dict(zip(names, values)) for values in zip(*(table[n] for n in names))]

    def _bad(self, index: int, why: str) -> ValueError:
        return ValueError(f"{self.task.name} ({self.source}) row {index}: {why}")

    def _build_items(self, benchmark_dir: Path | None) -> list[Item]:
        kind = self.task.kind
        extra_cols = {"medical": ["answer_type"], "letters": list(PMC_OPTION_KEYS)}.get(kind, [])
        if kind == "rsvqa" and "answer_type" in self.dataset.column_names:
            extra_cols = ["answer_type"]
        rows = self._columns(["input", "label", *extra_cols])
        if kind == "food101":
            self._load_food101_options(benchmark_dir)
        if kind == "scene":
            self._load_scene_options(benchmark_dir)
        if kind == "multilabel":
            self._load_multilabel_vocabulary(rows, benchmark_dir)
        items = []
        for index, row in enumerate(rows):
            text, label = row["input"], row["label"]
            if not isinstance(text, str) or not text.strip():
                raise self._bad(index, f"`input` must be non-empty text, got {text!r}")
            items.append(self._item(index, text, label, row))
        return items

    def _item(self, index: int, text: str, label: Any, row: dict) -> Item:
        kind = self.task.kind
        if kind == "text" and isinstance(label, (list, tuple)) and label and all(isinstance(x, str) for x in label):
            return Item(index, text, list(label), label[0])  # several reference captions: the first is scored
        if kind in ("medical", "text", "letters", "rsvqa", "scene") and (
            not isinstance(label, str) or not label.strip()
        ):
            raise self._bad(index, f"`label` must be non-empty text, got {label!r}")
        if kind == "rsvqa" and "answer_type" not in row:
            row = {**row, "answer_type": RS.answer_type(label)}
        if kind in ("medical", "rsvqa"):
            answer_type = row["answer_type"]
            if not isinstance(answer_type, str) or answer_type.upper() not in ("OPEN", "CLOSED"):
                raise self._bad(index, f"`answer_type` must be OPEN or CLOSED, got {answer_type!r}")
            return Item(index, text, label, label, {"answer_types": answer_type}, {"answer_type": answer_type})
        if kind == "letters":
            options = {}
            for key in PMC_OPTION_KEYS:
                value = row[key]
                if not isinstance(value, str):
                    raise self._bad(index, f"option column {key!r} must be text, got {value!r}")
                options[key] = value
            if label.strip() not in options:
                raise self._bad(index, f"`label` must be one of {list(PMC_OPTION_KEYS)}, got {label!r}")
            return Item(index, text, label, label.strip(), {"options": options})
        if kind == "food101":
            assert self.options is not None
            name = label.replace("_", " ").strip() if isinstance(label, str) else None
            key = self._food101_index.get(name) if name is not None else None
            if key is None:
                raise self._bad(index, f"`label` {label!r} is not a Food101 class ({self.vocabulary_source})")
            return Item(index, text, label, key, {"options": self.options})
        if kind == "scene":
            key = self._scene_index.get(RS.label_key(label))
            if key is None:
                raise self._bad(index, f"`label` {label!r} is not a {self.task.name} class ({self.vocabulary_source})")
            return Item(index, text, label, key, {"options": self.options})
        if kind == "multilabel":
            if isinstance(label, str) or not isinstance(label, (list, tuple)):
                raise self._bad(index, f"`label` must be a list of names, got {label!r}")
            unknown = [n for n in label if n not in self._vocabulary_set]
            if unknown:
                raise self._bad(index, f"label name(s) {unknown} not in the vocabulary ({self.vocabulary_source})")
            return Item(index, text, list(label), list(label))
        return Item(index, text, label, label)  # text (Recipe1M)

    def _load_food101_options(self, benchmark_dir: Path | None) -> None:
        names, source = V.load_vocabulary(V.FOOD101_MAP_FILE, self.root, benchmark_dir)
        self.vocabulary_source = source
        self.options = {str(i): name for i, name in enumerate(names)}
        self._food101_index = {name: str(i) for i, name in enumerate(names)}

    def _load_scene_options(self, benchmark_dir: Path | None) -> None:
        folders = [p for p in (self.root, benchmark_dir) if p is not None]
        names, self.vocabulary_source = RS.scene_vocabulary(self.task.name, folders)
        self.options = {str(i): name for i, name in enumerate(names)}
        self._scene_index = {RS.label_key(name): str(i) for i, name in enumerate(names)}

    def _load_multilabel_vocabulary(self, rows: list[dict], benchmark_dir: Path | None) -> None:
        found = V.load_vocabulary(self.task.vocabulary_file, self.root, benchmark_dir)
        if found is None:
            names = sorted({n for row in rows if isinstance(row["label"], (list, tuple)) for n in row["label"]})
            found = names, V.APPROXIMATE_SOURCE
            import warnings

            warnings.warn(
                f"{self.task.name}: no {self.task.vocabulary_file} found; using the union of the split's labels "
                "as the vocabulary (the score is approximate, labelled so in every table, not the benchmark's). "
                "Put the file in the benchmark folder to fix this.",
                stacklevel=2,
            )
        names, self.vocabulary_source = found
        self._vocabulary_set = set(names)
        self.shared_kwargs = {"vocabulary": list(names)}

    # -- images --------------------------------------------------------------------------------
    def image(self, index: int):
        """Decode the image of item ``index`` as RGB; raises :class:`hub_tools.data.BadInput` if unusable.

        A path (a string, or an ``Image`` cell without bytes) follows the image-path policy inside the task
        folder, or the Hub dataset's cache folder (:func:`hub_tools.data.resolve_image`). The image carries its
        source (:func:`hub_tools.synthesis.image_payload.attach_source`): a served model gets those bytes.
        """
        from hub_tools.data import BadInput, dataset_image_root, load_image, resolve_image
        from hub_tools.synthesis.image_payload import attach_source

        value = self.dataset[index]["image"]
        if value is None:
            raise BadInput("row has no image")
        root = self.root if self.root is not None else dataset_image_root(self.task.repo)
        value = resolve_image(value, root)
        return attach_source(load_image(value), value)

    # -- scoring -------------------------------------------------------------------------------
    def compute(self, metric, items: list[Item], predictions: list[str]) -> dict:
        """Run ``metric.compute`` over ``items`` (in the given order) and their predictions."""
        kwargs: dict[str, list] = {}
        for item in items:
            for name, value in item.metric_args.items():
                kwargs.setdefault(name, []).append(value)
        return metric.compute(
            predictions=list(predictions),
            references=[item.reference for item in items],
            **kwargs,
            **self.shared_kwargs,
            **self.metric_options,
        )

    def item_score(self, metric, item: Item, prediction: str) -> dict:
        """Score one item with the same metric; returns ``{"score": x, "scores": {...}}`` (+ fallback flag).

        For multiple choice an unparseable answer gets the contract's seeded draw with the item's
        dataset index (``random.Random(id).choice(keys)``), so per-item scores add up to the
        task score computed over the whole split.
        """
        scores = self.compute(metric, [item], [prediction])
        kind = self.task.kind
        out: dict[str, Any] = {"scores": scores}
        if kind in ("medical", "rsvqa"):
            closed = item.metric_args["answer_types"].upper() == "CLOSED"
            out["score"] = float(scores["closed_accuracy"] if closed else scores["open_recall"])
        elif kind in ("letters", "food101", "scene"):
            fallback = bool(scores.get("num_random_fallback", 0))
            out["random_fallback"] = fallback
            if fallback:
                keys = list(item.metric_args["options"])
                out["score"] = float(random.Random(item.id).choice(keys) == str(item.reference))
            else:
                out["score"] = float(scores["accuracy"])
        else:
            out["score"] = float(scores[self.task.primary[0]])
        return out


# -- loading -------------------------------------------------------------------------------------
_DATA_SUFFIXES = (".parquet", ".jsonl", ".json")
_NOT_DATA = {V.LOCAL_VOCAB_FILE, V.FOOD101_MAP_FILE, V.FOODSEG103_MAP_FILE, "dataset_info.json", "state.json"}


def find_task_dir(task: Task, benchmark_dir: Path) -> Path:
    """The folder of ``task`` inside ``benchmark_dir`` (config name or Hub folder name, any case)."""
    if not benchmark_dir.is_dir():
        raise FileNotFoundError(f"benchmark folder not found: {str(benchmark_dir)!r}")
    wanted = {_key(task.name)} | {_key(a) for a in task.folder_aliases}
    for child in sorted(benchmark_dir.iterdir()):
        if child.is_dir() and _key(child.name) in wanted:
            return child
    present = sorted(p.name for p in benchmark_dir.iterdir() if p.is_dir())
    raise FileNotFoundError(
        f"no folder for task {task.name} in {str(benchmark_dir)!r} (expected {task.name}/); found {present}"
    )


def _load_local(task: Task, task_dir: Path):
    from datasets import load_dataset, load_from_disk

    if (task_dir / "dataset_dict.json").is_file():
        loaded = load_from_disk(str(task_dir))
        if SPLIT not in loaded:
            raise ValueError(f"{task_dir}: saved DatasetDict has no {SPLIT!r} split ({list(loaded)})")
        return loaded[SPLIT]
    if (task_dir / "state.json").is_file():
        return load_from_disk(str(task_dir))
    files = [p for p in sorted(task_dir.rglob("*")) if p.is_file() and p.suffix in _DATA_SUFFIXES]
    files = [p for p in files if p.name not in _NOT_DATA]
    parquet = [p for p in files if p.suffix == ".parquet"]
    files = parquet or files
    if not files:
        raise FileNotFoundError(f"{task_dir}: no test split found (*.parquet, *.jsonl or a save_to_disk folder)")
    tests = [p for p in files if "test" in str(p.relative_to(task_dir)).lower()]
    files = tests or files
    builder = "parquet" if parquet else "json"
    return load_dataset(builder, data_files=[str(p) for p in files], split="train")


def load_split(task: Task, benchmark_dir: str | Path | None = None, limit: int | None = None) -> BenchmarkSplit:
    """Load the test split of ``task`` from ``benchmark_dir`` (if given) or the Hub; keep the first ``limit`` rows."""
    from datasets import Image

    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of items, got {limit}")
    if benchmark_dir is not None:
        bench = Path(benchmark_dir)
        task_dir = find_task_dir(task, bench)
        dataset = _load_local(task, task_dir)
        source = str(task_dir)
    else:
        from datasets import load_dataset

        bench = task_dir = None
        dataset = load_dataset(task.repo, task.name, split=SPLIT)
        source = f"hf://datasets/{task.repo} ({task.name}, {SPLIT})"
    if limit is not None and limit < len(dataset):
        dataset = dataset.select(range(limit))
    if isinstance(dataset.features.get("image"), Image):  # undecoded: a path-only cell is resolved by image()
        dataset = dataset.cast_column("image", Image(decode=False))
    return BenchmarkSplit(task, dataset, source, task_dir, bench)


def describe_tasks() -> str:
    """A short table of tasks (for ``--help`` epilogs and docs)."""
    lines = []
    for group, names in GROUPS.items():
        if group == "all":
            continue
        for name in names:
            t = TASKS[name]
            lines.append(
                f"  {name:<13} {group:<14} {t.metric:<16} {'/'.join(t.primary):<28} {t.max_new_tokens} tokens"
            )
    return "\n".join(lines)


def dumps(value: Any) -> str:
    """Stable JSON for comparing stored labels with dataset labels."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
