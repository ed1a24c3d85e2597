"""Readers of the food raw releases: Food-101, FoodSeg103, Nutrition5K and Recipe1M."""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from hub_tools.defaults import RECIPE1M_SAMPLE
from hub_tools.evaluation.raw_common import (
    FOOD101_PROMPT,
    FOODSEG103_PROMPT,
    NUTRITION5K_PROMPT,
    RECIPE1M_PROMPT,
    SPLIT,
    BenchRow,
    TaskSource,
    _find,
    _safe_join,
    _text,
)
from hub_tools.publish.dataset import BuildError


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


FOOD_READERS: dict[str, Callable[..., TaskSource]] = {
    "Recipe1M": read_recipe1m,
    "Food101": read_food101,
    "FoodSeg103": read_foodseg103,
    "Nutrition5K": read_nutrition5k,
}
