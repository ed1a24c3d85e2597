"""Readers of the raw public benchmark releases: each turns a release folder into a :class:`TaskSource`.

One reader per release (SLAKE, VQA-RAD, PathVQA, PMC-VQA, Food-101, FoodSeg103, Nutrition5K, Recipe1M), in
the layouts their authors distribute (listed in ``docs/benchmarks.md``). PathVQA's pickle is read with an
unpickler that refuses every class. Prompts are our own wording; :mod:`hub_tools.evaluation.benchmarks`
writes the rows.
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub_tools.defaults import RECIPE1M_SAMPLE
from hub_tools.publish.dataset import BuildError

SPLIT = "test"

# prompt templates (the ``input`` column); our own wording
MEDICAL_PROMPT = "{question}\nAnswer the question based on the image."
PMC_PROMPT = "{question}\nOptions:\nA. {A}\nB. {B}\nC. {C}\nD. {D}\nReply with the letter of the correct option."
FOOD101_PROMPT = (
    "Which dish is shown in this image? Choose one of the following categories and reply with its name only: "
    "{classes}."
)
FOODSEG103_PROMPT = "Name every food ingredient you can see in this image. Reply with a comma-separated list."
NUTRITION5K_PROMPT = "This is an overhead photo of a plated dish. List the ingredients in it, separated by commas."
RECIPE1M_PROMPT = (
    "Write a recipe for the dish in this image: its title, the list of ingredients, and the cooking "
    "instructions step by step."
)


@dataclass
class BenchRow:
    """One benchmark row before writing: the image file (or bytes + name) and the text columns."""

    id: str
    image: Path | tuple[bytes, str]
    columns: dict[str, Any]


@dataclass
class TaskSource:
    """A task to build: its config name, kind, rows, and what the card says about it."""

    name: str
    kind: str  # "medical" | "letters" | "label" | "multilabel"
    rows: Iterator[BenchRow]
    source: str
    prompt: str
    label: str
    vocabulary: list[str] | None = None
    skipped: Counter = field(default_factory=Counter)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _find(root: Path, names: list[str], what: str) -> Path:
    """The first of ``names`` (relative paths) under ``root``, or the file itself when ``root`` is one."""
    if root.is_file():
        return root
    for name in names:
        path = root / name
        if path.exists():
            return path
    for name in names:  # one level down (archives often unpack into a folder of their own)
        hits = sorted(root.glob(f"*/{name}"))
        if hits:
            return hits[0]
    raise BuildError(f"{what}: none of {names} found under {str(root)!r}")


def _json_list(path: Path) -> list:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BuildError(f"{str(path)!r} is not valid JSON: {err.msg}") from None
    if not isinstance(data, list):
        raise BuildError(f"{str(path)!r}: expected a JSON list of records")
    return data


def _text(value: Any, where: str, field_name: str) -> str:
    if isinstance(value, bool) or value is None:
        raise BuildError(f"{where}: {field_name!r} is missing")
    text = str(value).strip()
    if not text:
        raise BuildError(f"{where}: {field_name!r} is empty")
    return text


def _answer_type(value: Any, where: str) -> str:
    kind = str(value or "").strip().upper()
    if kind not in ("OPEN", "CLOSED"):
        raise BuildError(f"{where}: answer_type {value!r} is neither OPEN nor CLOSED")
    return kind


def _safe_join(root: Path, rel: str, where: str) -> Path:
    from hub_tools.data import BadInput, resolve_image_path

    try:
        return resolve_image_path(rel, root)
    except BadInput as err:
        raise BuildError(f"{where}: {err.reason}") from None


def _in_first_dir(dirs: list[Path], rel: str, where: str) -> Path:
    """``rel`` inside the first of ``dirs`` that holds it (else inside ``dirs[0]``), never escaping it."""
    for d in dirs:
        path = _safe_join(d, rel, where)
        if path.is_file():
            return path
    return _safe_join(dirs[0], rel, where)


# ---------------------------------------------------------------------------------------------
# biomedicine
# ---------------------------------------------------------------------------------------------
def read_slake(root: str | os.PathLike) -> TaskSource:
    """SLAKE test split (English) from the ``Slake1.0`` release folder (or its ``test.json``)."""
    root = Path(root)
    path = _find(root, ["test.json", "Slake1.0/test.json"], "SLAKE")
    images = path.parent / "imgs"

    def rows():
        for i, rec in enumerate(_json_list(path)):
            where = f"SLAKE {path.name}[{i}]"
            if not isinstance(rec, dict):
                raise BuildError(f"{where}: not a JSON object")
            if rec.get("q_lang", "en") != "en":
                continue
            question = _text(rec.get("question"), where, "question")
            yield BenchRow(
                str(rec.get("qid", i)),
                _safe_join(images, _text(rec.get("img_name"), where, "img_name"), where),
                {
                    "input": MEDICAL_PROMPT.format(question=question),
                    "label": _text(rec.get("answer"), where, "answer"),
                    "answer_type": _answer_type(rec.get("answer_type"), where),
                },
            )

    return TaskSource(
        "SLAKE", "medical", rows(), "SLAKE 1.0 `test.json`, English questions", MEDICAL_PROMPT, "answer text"
    )


def read_vqa_rad(root: str | os.PathLike) -> TaskSource:
    """VQA-RAD test split (``phrase_type`` test_freeform / test_para) from the public release."""
    root = Path(root)
    path = _find(root, ["VQA_RAD Dataset Public.json"], "VQA-RAD")
    folder = path.parent
    image_dirs = [folder / "VQA_RAD Image Folder", folder / "images", folder]

    def rows():
        for i, rec in enumerate(_json_list(path)):
            where = f"VQA-RAD {path.name}[{i}]"
            if not isinstance(rec, dict):
                raise BuildError(f"{where}: not a JSON object")
            if not str(rec.get("phrase_type", "")).startswith("test"):
                continue
            image = _in_first_dir(image_dirs, _text(rec.get("image_name"), where, "image_name"), where)
            question = _text(rec.get("question"), where, "question")
            yield BenchRow(
                str(rec.get("qid", i)),
                image,
                {
                    "input": MEDICAL_PROMPT.format(question=question),
                    "label": _text(rec.get("answer"), where, "answer"),
                    "answer_type": _answer_type(rec.get("answer_type"), where),
                },
            )

    return TaskSource(
        "VQA_RAD", "medical", rows(), "VQA-RAD `VQA_RAD Dataset Public.json`, phrase_type test_*", MEDICAL_PROMPT,
        "answer text",
    )  # fmt: skip


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickles lists, dicts, strings and numbers only: any class or function reference is refused."""

    def find_class(self, module, name):
        raise BuildError(f"the pickle references {module}.{name}; only plain data (lists, dicts, strings) is read")


def _pathvqa_type(answer: str) -> str:
    return "CLOSED" if answer.strip().lower() in ("yes", "no") else "OPEN"


_SPACES = re.compile(r" +")


def pathvqa_text(text: str) -> str:
    """PathVQA question/answer text as the Hub copy holds it: lower-cased, runs of spaces collapsed, " ?" -> "?",
    stripped (the normalisation of the Hugging Face release the paper's benchmark was built from)."""
    return _SPACES.sub(" ", text.lower()).replace(" ?", "?").strip()


def read_pathvqa(root: str | os.PathLike) -> TaskSource:
    """PathVQA test split from the ``pvqa`` release (pickle) or the Hugging Face parquet files.

    As the Hub copy (6,719 rows): duplicate records of the pickle are dropped (counted as skipped), question
    and answer are normalised with :func:`pathvqa_text`.
    """
    root = Path(root)
    parquet = sorted(p for p in root.rglob("*.parquet") if "test" in p.name) if root.is_dir() else []
    if parquet:
        return TaskSource("PathVQA", "medical", _pathvqa_parquet(parquet), "PathVQA parquet release, test files",
                          MEDICAL_PROMPT, "answer text")  # fmt: skip
    path = _find(root, ["qas/test/test_qa.pkl", "pvqa/qas/test/test_qa.pkl", "test_qa.pkl"], "PathVQA")
    images = path.parents[2] / "images" / "test" if path.parent.name == "test" else path.parent / "images" / "test"
    skipped: Counter = Counter()

    def rows():
        with open(path, "rb") as fh:
            try:
                records = _PlainDataUnpickler(fh).load()
            except (pickle.UnpicklingError, EOFError) as err:
                raise BuildError(f"{str(path)!r} is not a readable pickle: {err}") from None
        if not isinstance(records, list):
            raise BuildError(f"{str(path)!r}: expected a list of records")
        seen = set()
        for i, rec in enumerate(records):
            where = f"PathVQA {path.name}[{i}]"
            if not isinstance(rec, dict):
                raise BuildError(f"{where}: not a record")
            key = tuple(sorted((str(k), repr(v)) for k, v in rec.items()))  # the whole raw record, before cleaning
            if key in seen:
                skipped["duplicate image-question-answer record"] += 1
                continue
            seen.add(key)
            name = _text(rec.get("image"), where, "image")
            answer = pathvqa_text(_text(rec.get("answer"), where, "answer"))
            question = pathvqa_text(_text(rec.get("question"), where, "question"))
            yield BenchRow(
                f"{name}-{i}",
                _safe_join(images, name if Path(name).suffix else f"{name}.jpg", where),
                {"input": MEDICAL_PROMPT.format(question=question), "label": answer,
                 "answer_type": _pathvqa_type(answer)},
            )  # fmt: skip

    return TaskSource(
        "PathVQA", "medical", rows(), "PathVQA `pvqa/qas/test/test_qa.pkl`, duplicate records dropped, lower-cased",
        MEDICAL_PROMPT, "answer text", skipped=skipped,
    )  # fmt: skip


def _pathvqa_parquet(files: list[Path]) -> Iterator[BenchRow]:
    import pyarrow.parquet as pq

    n = 0
    for path in files:
        pf = pq.ParquetFile(path)
        missing = {"image", "question", "answer"} - set(pf.schema_arrow.names)
        if missing:
            raise BuildError(f"{str(path)!r}: missing column(s) {sorted(missing)}")
        for batch in pf.iter_batches(batch_size=64, columns=["image", "question", "answer"]):
            for rec in batch.to_pylist():
                where = f"PathVQA {path.name} row {n}"
                image = rec["image"] or {}
                if not image.get("bytes"):
                    raise BuildError(f"{where}: the image has no embedded bytes")
                answer = pathvqa_text(_text(rec.get("answer"), where, "answer"))  # already so in that release
                question = pathvqa_text(_text(rec.get("question"), where, "question"))
                yield BenchRow(
                    str(n),
                    (image["bytes"], image.get("path") or f"{n}.jpg"),
                    {
                        "input": MEDICAL_PROMPT.format(question=question),
                        "label": answer,
                        "answer_type": _pathvqa_type(answer),
                    },
                )
                n += 1


_CHOICE_PREFIX = re.compile(r"^\s*\(?([A-D])\s*[:.)]\s*")


PMC_VQA_IMAGE_DIRS = ("images/figures", "images_2/figures", "images", "images_2", "figures")
"""Where the PMC-VQA figures are searched, in order: ``images.zip`` and ``images_2.zip`` unpack to ``figures/``."""


def read_pmc_vqa(root: str | os.PathLike) -> TaskSource:
    """PMC-VQA test split: ``test_clean.csv`` (the 2,000 rows of the Hub copy) and the figures folders.

    A figure is taken from the first of :data:`PMC_VQA_IMAGE_DIRS` (under the csv's folder, then the folder
    itself) that holds it. Another csv (``test_2.csv``) is read when ROOT is that file.
    """
    root = Path(root)
    path = _find(root, ["test_clean.csv"], "PMC-VQA")
    folder = path.parent
    image_dirs = [folder / d for d in PMC_VQA_IMAGE_DIRS] + [folder]

    def rows():
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            need = {"Figure_path", "Question", "Choice A", "Choice B", "Choice C", "Choice D", "Answer_label"}
            missing = need - set(reader.fieldnames or [])
            if missing:
                raise BuildError(f"{str(path)!r}: missing column(s) {sorted(missing)}")
            for i, rec in enumerate(reader):
                where = f"PMC-VQA {path.name} row {i + 2}"
                name = _text(rec["Figure_path"], where, "Figure_path")
                options = {}
                for key in "ABCD":
                    text = _text(rec[f"Choice {key}"], where, f"Choice {key}")
                    m = _CHOICE_PREFIX.match(text)
                    options[key] = text[m.end() :].strip() if m and m.group(1) == key else text
                label = _text(rec["Answer_label"], where, "Answer_label").upper()
                if label not in options:
                    raise BuildError(f"{where}: Answer_label {rec['Answer_label']!r} is not one of A-D")
                question = _text(rec["Question"], where, "Question")
                yield BenchRow(
                    f"{Path(name).stem}-{i}",
                    _in_first_dir(image_dirs, name, where),
                    {"input": PMC_PROMPT.format(question=question, **options), "label": label, **options},
                )

    return TaskSource(
        "PMC-VQA", "letters", rows(), f"PMC-VQA `{path.name}`", PMC_PROMPT, "letter of the correct option"
    )


# ---------------------------------------------------------------------------------------------
# food
# ---------------------------------------------------------------------------------------------
def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_food101(root: str | os.PathLike) -> TaskSource:
    """Food-101 test split (``meta/test.txt``); labels are class names with spaces, in ``classes.txt`` order."""
    root = Path(root)
    meta = _find(root, ["meta", "food-101/meta"], "Food-101")
    base = meta.parent
    classes = _lines(meta / "classes.txt")
    names = [c.replace("_", " ") for c in classes]
    prompt = FOOD101_PROMPT.replace("{classes}", ", ".join(names))
    known = set(classes)

    def rows():
        for lineno, entry in enumerate(_lines(meta / "test.txt"), start=1):
            where = f"Food-101 meta/test.txt:{lineno}"
            cls = entry.split("/")[0]
            if cls not in known:
                raise BuildError(f"{where}: class {cls!r} is not in meta/classes.txt")
            yield BenchRow(entry, _safe_join(base / "images", f"{entry}.jpg", where),
                           {"input": prompt, "label": cls.replace("_", " ")})  # fmt: skip

    return TaskSource(
        "Food101", "label", rows(), "Food-101 `meta/test.txt`", FOOD101_PROMPT, "class name", vocabulary=names
    )


def _read_categories(path: Path) -> dict[int, str]:
    out = {}
    for lineno, line in enumerate(_lines(path), start=1):
        m = re.match(r"^(\d+)\s+(.+)$", line)
        if not m:
            raise BuildError(f"{str(path)!r}:{lineno}: expected '<id> <name>', got {line!r}")
        out[int(m.group(1))] = m.group(2).strip()
    return out


FOODSEG103_EXCLUDED = (0, 103)  # background, other ingredients


def read_foodseg103(root: str | os.PathLike) -> TaskSource:
    """FoodSeg103 test split: the category names present in each mask (background and other excluded)."""
    import numpy as np
    from PIL import Image

    root = Path(root)
    cat_file = _find(root, ["category_id.txt", "FoodSeg103/category_id.txt"], "FoodSeg103")
    base = cat_file.parent
    categories = _read_categories(cat_file)
    vocabulary = [categories[k] for k in sorted(categories) if k not in FOODSEG103_EXCLUDED]
    img_dir, ann_dir = base / "Images" / "img_dir" / SPLIT, base / "Images" / "ann_dir" / SPLIT
    listing = base / "ImageSets" / f"{SPLIT}.txt"

    def rows():
        ids = (
            [Path(x).stem for x in _lines(listing)]
            if listing.is_file()
            else sorted(p.stem for p in ann_dir.glob("*.png"))
        )
        for image_id in ids:
            where = f"FoodSeg103 {image_id}"
            mask_path = _safe_join(ann_dir, f"{image_id}.png", where)
            if not mask_path.is_file():
                raise BuildError(f"{where}: mask not found: {str(mask_path)!r}")
            with Image.open(mask_path) as mask:
                present = sorted(int(v) for v in np.unique(np.asarray(mask)))
            unknown = [v for v in present if v not in categories]
            if unknown:
                raise BuildError(f"{where}: mask holds category id(s) {unknown} not in category_id.txt")
            label = [categories[v] for v in present if v not in FOODSEG103_EXCLUDED]
            image = _safe_join(img_dir, f"{image_id}.jpg", where)
            yield BenchRow(image_id, image, {"input": FOODSEG103_PROMPT, "label": label})

    return TaskSource("FoodSeg103", "multilabel", rows(), "FoodSeg103 test masks (`Images/ann_dir/test`)",
                      FOODSEG103_PROMPT, "list of category names", vocabulary=vocabulary)  # fmt: skip


_INGR_ID = re.compile(r"^ingr_\d+$")


def _nutrition_dishes(meta_dir: Path) -> dict[str, list[str]]:
    dishes: dict[str, list[str]] = {}
    files = sorted(meta_dir.glob("dish_metadata_cafe*.csv"))
    if not files:
        raise BuildError(f"Nutrition5K: no metadata/dish_metadata_cafe*.csv under {str(meta_dir)!r}")
    for path in files:
        with open(path, newline="", encoding="utf-8") as fh:
            for lineno, rec in enumerate(csv.reader(fh), start=1):
                if not rec or not rec[0].startswith("dish_"):
                    continue
                names = [rec[j + 1].strip() for j in range(6, len(rec) - 1) if _INGR_ID.match(rec[j].strip())]
                if not names:
                    raise BuildError(f"Nutrition5K {path.name}:{lineno}: dish {rec[0]!r} lists no ingredients")
                dishes[rec[0]] = list(dict.fromkeys(names))
    return dishes


NUTRITION5K_SPLIT = "dish_ids/splits/depth_test_ids.txt"
"""The overhead RGB-D test split (507 dishes, the Hub copy's); ``rgb_test_ids.txt`` is the side-angle video one."""


def read_nutrition5k(root: str | os.PathLike) -> TaskSource:
    """Nutrition5K overhead test dishes (:data:`NUTRITION5K_SPLIT`) with their ingredient names."""
    root = Path(root)
    meta_dir = _find(root, ["metadata", "nutrition5k_dataset/metadata"], "Nutrition5K")
    base = meta_dir.parent
    dishes = _nutrition_dishes(meta_dir)
    vocabulary = sorted({n for names in dishes.values() for n in names})
    split_file = _find(base, [NUTRITION5K_SPLIT], "Nutrition5K test ids")

    def rows():
        for lineno, dish in enumerate(_lines(split_file), start=1):
            where = f"Nutrition5K {split_file.name}:{lineno}"
            if dish not in dishes:
                raise BuildError(f"{where}: dish {dish!r} is not in the dish metadata")
            image = _safe_join(base / "imagery" / "realsense_overhead", f"{dish}/rgb.png", where)
            yield BenchRow(dish, image, {"input": NUTRITION5K_PROMPT, "label": dishes[dish]})

    return TaskSource("Nutrition5K", "multilabel", rows(), "Nutrition5K `depth_test_ids.txt`, overhead RGB",
                      NUTRITION5K_PROMPT, "list of ingredient names", vocabulary=vocabulary)  # fmt: skip


def recipe_text(title: str, ingredients: list[str], instructions: list[str]) -> str:
    """A recipe as the reference text of Recipe1M: title, ingredient list, numbered steps."""
    lines = [title, "Ingredients:"] + [f"- {x}" for x in ingredients] + ["Instructions:"]
    lines += [f"{i}. {x}" for i, x in enumerate(instructions, start=1)]
    return "\n".join(lines)


def read_recipe1m(
    root: str | os.PathLike,
    images: str | os.PathLike | None = None,
    sample: int | None = RECIPE1M_SAMPLE,
    seed: int = 0,
) -> TaskSource:
    """Recipe1M test recipes with an image (streamed ``layer1.json`` joined with ``layer2.json``).

    ``sample`` recipes (default :data:`RECIPE1M_SAMPLE`, the Hub copy's size) are drawn with
    ``random.Random(seed)`` from all test recipes with an image and written in file order; the others are
    counted as skipped. ``sample=None`` keeps every one. The Hub's own 1,000 cannot be reproduced (how they
    were drawn is not published), so scores on this sample estimate, not repeat, the published one.
    """
    import random

    from hub_tools.data import BadInput, iter_json_array

    if sample is not None and sample < 1:
        raise BuildError(f"Recipe1M sample must be positive (or None for every recipe), got {sample}")
    root = Path(root)
    layer1 = _find(root, ["layer1.json"], "Recipe1M")
    layer2 = _find(root, ["layer2.json"], "Recipe1M")
    image_root = Path(images) if images else next(
        (d for d in (layer1.parent / "images", layer1.parent) if (d / SPLIT).is_dir()), layer1.parent / "images"
    )  # fmt: skip
    skipped: Counter = Counter()

    def recipes() -> Iterator[BenchRow]:
        first_image: dict[str, str] = {}
        try:
            for _, rec in iter_json_array(layer2):
                imgs = rec.get("images") if isinstance(rec, dict) else None
                if imgs and isinstance(imgs[0], dict) and imgs[0].get("id"):
                    first_image[str(rec.get("id"))] = str(imgs[0]["id"])
            for i, rec in iter_json_array(layer1):
                where = f"Recipe1M layer1.json[{i}]"
                if not isinstance(rec, dict):
                    raise BuildError(f"{where}: not a JSON object")
                if rec.get("partition") != SPLIT or str(rec.get("id")) not in first_image:
                    continue
                rid = str(rec["id"])
                image_id = first_image[rid]
                ingredients = [_text(x.get("text"), where, "ingredients.text") for x in rec.get("ingredients") or []]
                steps = [_text(x.get("text"), where, "instructions.text") for x in rec.get("instructions") or []]
                if not ingredients or not steps:
                    raise BuildError(f"{where}: recipe {rid!r} has no ingredients or no instructions")
                rel = "/".join([SPLIT, *image_id[:4], image_id])
                yield BenchRow(
                    rid,
                    _safe_join(image_root, rel, where),
                    {
                        "input": RECIPE1M_PROMPT,
                        "label": recipe_text(_text(rec.get("title"), where, "title"), ingredients, steps),
                    },
                )
        except BadInput as err:
            raise BuildError(f"Recipe1M: {err.reason}") from None

    def rows() -> Iterator[BenchRow]:
        if sample is None:
            yield from recipes()
            return
        pool = list(recipes())
        keep = set(random.Random(seed).sample(range(len(pool)), sample)) if len(pool) > sample else None
        for k, row in enumerate(pool):
            if keep is None or k in keep:
                yield row
            else:
                skipped[f"not in the seed-{seed} sample of {sample}"] += 1

    how = "every test recipe with an image" if sample is None else f"{sample} drawn with seed {seed}"
    return TaskSource("Recipe1M", "label", rows(), f"Recipe1M `layer1.json` + `layer2.json`, partition test, {how}",
                      RECIPE1M_PROMPT, "recipe text", skipped=skipped)  # fmt: skip


BIOMED_READERS: dict[str, Callable[..., TaskSource]] = {
    "SLAKE": read_slake,
    "VQA_RAD": read_vqa_rad,
    "PathVQA": read_pathvqa,
    "PMC-VQA": read_pmc_vqa,
}
FOOD_READERS: dict[str, Callable[..., TaskSource]] = {
    "Recipe1M": read_recipe1m,
    "Food101": read_food101,
    "FoodSeg103": read_foodseg103,
    "Nutrition5K": read_nutrition5k,
}
