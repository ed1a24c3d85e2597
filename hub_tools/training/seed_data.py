"""The synthesizer's seed data: three raw sets joined by image file name into TRL conversational vision rows.

The sets: a caption set (ALLaVA-Caption-VFLAN-4V layout), a precise-answer set (Vision-Flan ``metadata.json``)
and an informative-answer set (ALLaVA-Instruct-VFLAN-4V), each a JSON list of ``{"id", "image", "conversations":
[{"from": "human", ...}, {"from": "gpt", ...}]}`` (the precise set also has ``task_name``). Only images present in
all three are kept; every other entry is counted, per reason, in ``seed_stats.json``. A row is the caption turn
(user ``<image>`` + ``Describe the image.``, assistant caption), then every hinted question-answer turn in a
seeded order. Per task the rows are shuffled (seeded); as released, about 10% of them get the blank image by a
draw seeded with their position in that shuffled list (:func:`is_blank_position`: the same positions in every
task), and the last ``ceil(10% of n)`` go to ``validation.jsonl``.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.defaults import CAPTION_PROMPT
from hub_tools.synthesis.parse import INFORMATIVE_HINT, PRECISE_HINT

BLANK_IMAGE_NAME = "blank.png"
BLANK_IMAGE_SIZE = (237, 150)
"""Width and height of the released blank image (a white 237 x 150 picture)."""
DEFAULT_BLANK_FRACTION = 0.1
DEFAULT_VALIDATION_FRACTION = 0.1


# ---------------------------------------------------------------------------------------------
# seed data: reading the three raw sets
# ---------------------------------------------------------------------------------------------
class SeedFormatError(ValueError):
    """A seed entry that does not have the published layout (the message names file and entry)."""


def _load_list(path: str | os.PathLike) -> list:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"seed file not found: {str(path)!r}")
    with open(path, encoding="utf-8") as fh:
        if path.suffix == ".jsonl":
            data = [json.loads(line) for line in fh if line.strip()]
        else:
            data = json.load(fh)
    if not isinstance(data, list):
        raise SeedFormatError(f"{path}: expected a JSON list of entries, got {type(data).__name__}")
    return data


def strip_image_marker(text: str) -> str:
    """Remove LLaVA's ``<image>`` marker from the start (``<image>\\n``) or end (``\\n<image>``) of a question."""
    if text.startswith("<image>\n"):
        return text[len("<image>\n") :]
    if text.endswith("\n<image>"):
        return text[: -len("\n<image>")]
    return text.replace("<image>", "").strip()


def _pairs_of(entry: Any, where: str) -> list[tuple[str, str]]:
    """``(question, answer)`` pairs of an entry's ``conversations`` (human/gpt alternating)."""
    if not isinstance(entry, dict):
        raise SeedFormatError(f"{where}: entry is not a JSON object")
    if not isinstance(entry.get("image"), str) or not entry["image"].strip():
        raise SeedFormatError(f"{where}: entry has no 'image' path")
    conv = entry.get("conversations")
    if not isinstance(conv, list) or len(conv) < 2 or len(conv) % 2:
        raise SeedFormatError(f"{where}: 'conversations' must hold human/gpt turn pairs")
    pairs = []
    for k in range(0, len(conv), 2):
        human, gpt = conv[k], conv[k + 1]
        if not (isinstance(human, dict) and isinstance(gpt, dict)):
            raise SeedFormatError(f"{where}: a turn is not a JSON object")
        if human.get("from") != "human" or gpt.get("from") != "gpt":
            raise SeedFormatError(f"{where}: turns must alternate from 'human' to 'gpt'")
        question, answer = human.get("value"), gpt.get("value")
        if not isinstance(question, str) or not isinstance(answer, str) or not answer.strip():
            raise SeedFormatError(f"{where}: empty or non-text turn")
        question = strip_image_marker(question)  # the rest as given, as released (answers too)
        if not question.strip():
            raise SeedFormatError(f"{where}: empty question")
        pairs.append((question, answer))
    return pairs


def image_key(path: str) -> str:
    """The join key of an image path: its file name (the three sets use different folder prefixes)."""
    return os.path.basename(path.replace("\\", "/"))


@dataclass
class SeedSets:
    """The three sets read and indexed by image key, with every skipped entry counted by reason."""

    captions: dict[str, str] = field(default_factory=dict)
    precise: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    informative: dict[str, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    task_names: dict[str, str] = field(default_factory=dict)
    image_paths: dict[str, str] = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: str, detail: str) -> None:
        """Count a skipped entry (the first detail per reason is kept for the stats file)."""
        self.skipped[reason] += 1
        self.examples.setdefault(reason, detail)


def read_seed_sets(caption_set, precise_set, informative_set) -> SeedSets:
    """Read the caption, precise-answer and informative-answer sets (see the module doc)."""
    sets = SeedSets()
    for index, entry in enumerate(_load_list(caption_set)):
        where = f"{caption_set} entry {index}"
        try:
            pairs = _pairs_of(entry, where)
        except SeedFormatError as err:
            sets.skip("caption entry malformed", str(err))
            continue
        key = image_key(entry["image"])
        if key in sets.captions:
            sets.skip("duplicate caption (first kept)", where)
            continue
        # Some releases also carry the caption in a "caption" field; the gpt turn is the reference.
        caption = entry.get("caption") if isinstance(entry.get("caption"), str) else pairs[0][1]
        sets.captions[key] = caption  # as given, as released
        sets.image_paths[key] = entry["image"]
    for index, entry in enumerate(_load_list(precise_set)):
        where = f"{precise_set} entry {index}"
        try:
            pairs = _pairs_of(entry, where)
            task = entry.get("task_name")
            if not isinstance(task, str) or not task.strip():
                raise SeedFormatError(f"{where}: entry has no 'task_name'")
        except SeedFormatError as err:
            sets.skip("precise entry malformed", str(err))
            continue
        key = image_key(entry["image"])
        sets.precise[key].extend(pairs)
        sets.task_names[key] = task  # released: the last source's task name wins
    for index, entry in enumerate(_load_list(informative_set)):
        where = f"{informative_set} entry {index}"
        try:
            pairs = _pairs_of(entry, where)
        except SeedFormatError as err:
            sets.skip("informative entry malformed", str(err))
            continue
        sets.informative[image_key(entry["image"])].extend(pairs)
    return sets


# ---------------------------------------------------------------------------------------------
# seed data: joining, blank images, split, rows
# ---------------------------------------------------------------------------------------------
def _text(text: str) -> dict:
    return {"type": "text", "text": text}


def seed_messages(caption: str, precise: list[tuple[str, str]], informative: list[tuple[str, str]], rng) -> list[dict]:
    """The conversation of one image: caption turn, then the hinted QA turns in ``rng``'s order."""
    turns = [(PRECISE_HINT + q, a) for q, a in precise] + [(INFORMATIVE_HINT + q, a) for q, a in informative]
    rng.shuffle(turns)
    messages = [
        {"role": "user", "content": [{"type": "image"}, _text(CAPTION_PROMPT)]},
        {"role": "assistant", "content": [_text(caption)]},
    ]
    for question, answer in turns:
        messages.append({"role": "user", "content": [_text(question)]})
        messages.append({"role": "assistant", "content": [_text(answer)]})
    return messages


def _find_image(key: str, stored: str, roots: list[Path]) -> Path | None:
    """The image file by its stored path, then its file name, in each root (the image-path policy:
    :func:`hub_tools.data.resolve_image_path`; an absolute or escaping stored path is only looked up by name)."""
    from hub_tools.data import BadInput, resolve_image_path

    for root in roots:
        for candidate in (stored, key):
            try:
                path = resolve_image_path(candidate, root)
            except BadInput:
                continue
            if path.is_file():
                return path
    return None


def write_blank_image(path: str | Path, size: int | tuple[int, int] = BLANK_IMAGE_SIZE) -> Path:
    """Write a white PNG of ``size`` (``(width, height)``, or one side of a square): the stand-in image for the
    text-only share. The default is the released blank image's size (:data:`BLANK_IMAGE_SIZE`)."""
    from PIL import Image

    width, height = (size, size) if isinstance(size, int) else tuple(size)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (255, 255, 255)).save(path, format="PNG")
    return path


def is_blank_position(position: int, blank_fraction: float) -> bool:
    """Whether the row at ``position`` (0-based) of its task's shuffled list gets the blank image.

    The released draw: a generator seeded with the position alone picks blank with weight ``blank_fraction``
    (in percent, against the rest), so the same positions are blank in every task and for every seed.
    """
    percent = blank_fraction * 100
    return random.Random(position).choices((True, False), weights=(percent, 100 - percent))[0]


def build_seed_data(
    caption_set: str | os.PathLike,
    precise_set: str | os.PathLike,
    informative_set: str | os.PathLike,
    out_dir: str | os.PathLike,
    seed: int = 0,
    *,
    image_folder: str | os.PathLike | None = None,
    blank_fraction: float = DEFAULT_BLANK_FRACTION,
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION,
    blank_size: int | tuple[int, int] = BLANK_IMAGE_SIZE,
) -> dict:
    """Join the three seed sets into synthesizer training rows; returns the stats written to ``seed_stats.json``.

    Writes ``out_dir/train.jsonl``, ``out_dir/validation.jsonl`` (TRL conversational vision rows with
    ``id``, ``task_name``, ``blank``, ``images`` and ``messages``), ``out_dir/blank.png`` and
    ``out_dir/seed_stats.json``. Images are looked up by their stored path and by file name under
    ``image_folder`` (default: ``images_191task_1k/`` next to the caption set, else the caption set's
    folder); a row's image path is relative to that ``image_root`` (recorded in ``seed_stats.json``), a
    blank row's is ``blank.png`` in ``out_dir`` (white, ``blank_size``: the released 237 x 150 by default). As
    released: per task the rows are shuffled and a row is given the blank image with probability ``blank_fraction``
    by a draw seeded with its position in that list (:func:`is_blank_position`), an image's task name is the last
    source's, and per task ``ceil(validation_fraction * n)`` rows go to validation. The shuffle is seeded with
    ``seed`` and the task name (the release's is another seeded shuffle).
    """
    if not 0 <= blank_fraction <= 1 or not 0 <= validation_fraction < 1:
        raise ValueError("blank_fraction must be in [0, 1] and validation_fraction in [0, 1)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sets = read_seed_sets(caption_set, precise_set, informative_set)
    cap_dir = Path(caption_set).parent
    roots = [Path(image_folder)] if image_folder else [cap_dir / "images_191task_1k", cap_dir]
    image_root = roots[-1].resolve()  # every root lies inside it
    stats: dict[str, Any] = {
        "captions": len(sets.captions),
        "images_with_precise": len(sets.precise),
        "images_with_informative": len(sets.informative),
    }
    dropped: Counter = Counter(sets.skipped)
    examples = dict(sets.examples)
    keys = sorted(set(sets.captions) | set(sets.precise) | set(sets.informative))
    joined = []
    for key in keys:
        missing = [
            name
            for name, table in (
                ("caption", sets.captions),
                ("precise", sets.precise),
                ("informative", sets.informative),
            )
            if key not in table
        ]
        if missing:
            reason = f"image not in the {' and '.join(missing)} set(s)"
            dropped[reason] += 1
            examples.setdefault(reason, key)
            continue
        path = _find_image(key, sets.image_paths[key], roots)
        if path is None:
            reason = "image file not found"
            dropped[reason] += 1
            examples.setdefault(reason, f"{key} (looked in {', '.join(str(r) for r in roots)})")
            continue
        joined.append((key, path))
    if not joined:
        raise ValueError(
            f"no image is in all three seed sets ({stats}; dropped: {dict(dropped)}); check the files and image folder"
        )
    blank_path = write_blank_image(out / BLANK_IMAGE_NAME, blank_size)
    by_task: dict[str, list[dict]] = defaultdict(list)
    for key, path in joined:
        rng = random.Random(f"{seed}|turns|{key}")
        messages = seed_messages(sets.captions[key], sets.precise[key], sets.informative[key], rng)
        row = {
            "id": Path(key).stem,
            "task_name": sets.task_names[key],
            "blank": False,
            "images": [os.path.relpath(path.resolve(), image_root)],
            "messages": messages,
        }
        by_task[row["task_name"]].append(row)
    splits: dict[str, list[dict]] = {"train": [], "validation": []}
    per_task = {}
    n_blank = 0
    for task in sorted(by_task):
        rows = by_task[task]
        random.Random(f"{seed}|split|{task}").shuffle(rows)
        for position, row in enumerate(rows):
            if is_blank_position(position, blank_fraction):
                row.update(blank=True, images=[blank_path.name])
                n_blank += 1
        n_val = math.ceil(validation_fraction * len(rows))
        splits["train"] += rows[: len(rows) - n_val]
        splits["validation"] += rows[len(rows) - n_val :]
        per_task[task] = {"train": len(rows) - n_val, "validation": n_val}
    for name, rows in splits.items():
        random.Random(f"{seed}|order|{name}").shuffle(rows)
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    stats.update(
        {
            "joined": len(joined),
            "blank": n_blank,
            "train": len(splits["train"]),
            "validation": len(splits["validation"]),
            "dropped": dict(sorted(dropped.items())),
            "dropped_examples": examples,
            "per_task": per_task,
            "seed": seed,
            "blank_fraction": blank_fraction,
            "image_root": str(image_root),
            "validation_fraction": validation_fraction,
        }
    )
    (out / "seed_stats.json").write_text(json.dumps(stats, indent=1) + "\n", encoding="utf-8")
    return stats


def load_seed_split(seed_data_dir: str | os.PathLike, split: str):
    """The rows of ``split`` (``train`` / ``validation``) as a ``datasets.Dataset``, or ``None`` if empty.

    Image paths are resolved inside ``seed_stats.json``'s ``image_root`` (blank rows: inside the seed data
    folder) with :func:`hub_tools.data.resolve_image_path`'s policy (no absolute paths, no escaping the root).
    """
    from datasets import load_dataset

    from hub_tools.data import resolve_image_path

    folder = Path(seed_data_dir)
    path = folder / f"{split}.jsonl"
    if not path.is_file():
        if split == "train":
            raise FileNotFoundError(f"{path} not found; build it with build_seed_data")
        return None
    if path.stat().st_size == 0:
        return None
    stats_file = folder / "seed_stats.json"
    stats = json.loads(stats_file.read_text(encoding="utf-8")) if stats_file.is_file() else {}
    image_root = Path(stats.get("image_root") or folder)

    def resolve(batch):
        return {
            "images": [
                [str(resolve_image_path(p, folder if blank else image_root)) for p in images]
                for images, blank in zip(batch["images"], batch["blank"])
            ]
        }

    dataset = load_dataset("json", data_files=str(path), split="train")
    return dataset.map(resolve, batched=True, desc="resolving seed image paths")
