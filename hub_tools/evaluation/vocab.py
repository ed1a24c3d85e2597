"""Label vocabularies of the food benchmarks (Food101 classes, FoodSeg103 and Nutrition5K ingredients).

Looked up in the local benchmark folder, then the Hub dataset repo, then the public class lists bundled here;
Nutrition5K without a file falls back to the union of the split's labels: its vocabulary source is
:data:`APPROXIMATE_SOURCE` in ``scores.json`` and the score is labelled approximate, never the benchmark's, in
every table (:func:`is_approximate`). Sources and assumptions: ``docs/benchmarks.md``.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

FOOD_REPO = "AdaptLLM/food-VQA-benchmark"
FOOD101_MAP_FILE = "food101_name_to_label_map.json"
FOODSEG103_MAP_FILE = "foodSeg103_id2label.json"
NUTRITION5K_FILE = "nutrition5k_ingredients.py"
LOCAL_VOCAB_FILE = "vocabulary.json"
APPROXIMATE_SOURCE = "labels-union (approximate)"
"""The vocabulary source of a multi-label task scored against the union of its split's labels."""
APPROXIMATE_NOTE = (
    "approximate: scored against the union of the split's labels, not the benchmark's ingredient vocabulary "
    "(not the benchmark's score; put the vocabulary file in the benchmark folder)"
)


def is_approximate(entry: dict) -> bool:
    """Whether a ``scores.json`` task entry was scored against the approximate (labels-union) vocabulary."""
    return entry.get("vocabulary_source") == APPROXIMATE_SOURCE


FOOD101_CLASSES: tuple[str, ...] = (
    "apple_pie", "baby_back_ribs", "baklava", "beef_carpaccio", "beef_tartare", "beet_salad", "beignets",
    "bibimbap", "bread_pudding", "breakfast_burrito", "bruschetta", "caesar_salad", "cannoli", "caprese_salad",
    "carrot_cake", "ceviche", "cheesecake", "cheese_plate", "chicken_curry", "chicken_quesadilla",
    "chicken_wings", "chocolate_cake", "chocolate_mousse", "churros", "clam_chowder", "club_sandwich",
    "crab_cakes", "creme_brulee", "croque_madame", "cup_cakes", "deviled_eggs", "donuts", "dumplings",
    "edamame", "eggs_benedict", "escargots", "falafel", "filet_mignon", "fish_and_chips", "foie_gras",
    "french_fries", "french_onion_soup", "french_toast", "fried_calamari", "fried_rice", "frozen_yogurt",
    "garlic_bread", "gnocchi", "greek_salad", "grilled_cheese_sandwich", "grilled_salmon", "guacamole",
    "gyoza", "hamburger", "hot_and_sour_soup", "hot_dog", "huevos_rancheros", "hummus", "ice_cream",
    "lasagna", "lobster_bisque", "lobster_roll_sandwich", "macaroni_and_cheese", "macarons", "miso_soup",
    "mussels", "nachos", "omelette", "onion_rings", "oysters", "pad_thai", "paella", "pancakes",
    "panna_cotta", "peking_duck", "pho", "pizza", "pork_chop", "poutine", "prime_rib", "pulled_pork_sandwich",
    "ramen", "ravioli", "red_velvet_cake", "risotto", "samosa", "sashimi", "scallops", "seaweed_salad",
    "shrimp_and_grits", "spaghetti_bolognese", "spaghetti_carbonara", "spring_rolls", "steak",
    "strawberry_shortcake", "sushi", "tacos", "takoyaki", "tiramisu", "tuna_tartare", "waffles",
)  # fmt: skip

FOODSEG103_CATEGORIES: tuple[str, ...] = (
    "background", "candy", "egg tart", "french fries", "chocolate", "biscuit", "popcorn", "pudding",
    "ice cream", "cheese butter", "cake", "wine", "milkshake", "coffee", "juice", "milk", "tea", "almond",
    "red beans", "cashew", "dried cranberries", "soy", "walnut", "peanut", "egg", "apple", "date", "apricot",
    "avocado", "banana", "strawberry", "cherry", "blueberry", "raspberry", "mango", "olives", "peach", "lemon",
    "pear", "fig", "pineapple", "grape", "kiwi", "melon", "orange", "watermelon", "steak", "pork",
    "chicken duck", "sausage", "fried meat", "lamb", "sauce", "crab", "fish", "shellfish", "shrimp", "soup",
    "bread", "corn", "hamburg", "pizza", "hanamaki baozi", "wonton dumplings", "pasta", "noodles", "rice",
    "pie", "tofu", "eggplant", "potato", "garlic", "cauliflower", "tomato", "kelp", "seaweed", "spring onion",
    "rape", "ginger", "okra", "lettuce", "pumpkin", "cucumber", "white radish", "carrot", "asparagus",
    "bamboo shoots", "broccoli", "celery stick", "cilantro mint", "snow peas", "cabbage", "bean sprouts",
    "onion", "pepper", "green beans", "French beans", "king oyster mushroom", "shiitake", "enoki mushroom",
    "oyster mushroom", "white button mushroom", "salad", "other ingredients",
)  # fmt: skip
FOODSEG103_EXCLUDED_IDS = (0, 103)  # background and "other ingredients"


def food101_names_from_map(mapping: dict) -> list[str]:
    """Class names ordered by class index from a ``name -> index`` map (``_`` becomes a space)."""
    pairs = sorted((int(index), str(name).replace("_", " ")) for name, index in mapping.items())
    indices = [index for index, _ in pairs]
    if indices != list(range(len(pairs))):
        raise ValueError(f"{FOOD101_MAP_FILE}: class indices must be 0..{len(pairs) - 1} without gaps")
    return [name for _, name in pairs]


def foodseg103_names_from_map(mapping: dict) -> list[str]:
    """Vocabulary (ids 1..102 by id) from an ``id -> name`` map, leaving out background and other."""
    by_id = {int(key): str(value) for key, value in mapping.items()}
    return [by_id[key] for key in sorted(by_id) if key not in FOODSEG103_EXCLUDED_IDS]


def nutrition5k_names_from_source(source: str, origin: str = NUTRITION5K_FILE) -> list[str]:
    """Read ``all_ingredients = [...]`` from Python source text without executing it."""
    tree = ast.parse(source, filename=origin)
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "all_ingredients" for t in targets):
            value = ast.literal_eval(node.value)
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"{origin}: all_ingredients must be a list of strings")
            return list(value)
    raise ValueError(f"{origin}: no `all_ingredients = [...]` assignment found")


_PARSERS = {
    FOOD101_MAP_FILE: lambda text, origin: food101_names_from_map(json.loads(text)),
    FOODSEG103_MAP_FILE: lambda text, origin: foodseg103_names_from_map(json.loads(text)),
    NUTRITION5K_FILE: nutrition5k_names_from_source,
}
_BUNDLED = {
    FOOD101_MAP_FILE: [name.replace("_", " ") for name in FOOD101_CLASSES],
    FOODSEG103_MAP_FILE: [
        name for index, name in enumerate(FOODSEG103_CATEGORIES) if index not in FOODSEG103_EXCLUDED_IDS
    ],
}


def _read_local(hub_file: str, folders: list[Path]) -> tuple[list[str], str] | None:
    for folder in folders:
        plain = folder / LOCAL_VOCAB_FILE
        if plain.is_file():
            names = json.loads(plain.read_text(encoding="utf-8"))
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"{plain}: must hold a JSON list of label names")
            return names, str(plain)
        path = folder / hub_file
        if path.is_file():
            return _PARSERS[hub_file](path.read_text(encoding="utf-8"), str(path)), str(path)
    return None


def _read_hub(hub_file: str) -> tuple[list[str], str] | None:
    import os

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return None
    try:
        from huggingface_hub import hf_hub_download

        path = hf_hub_download(FOOD_REPO, hub_file, repo_type="dataset")
    except Exception:  # offline, gated, renamed: fall back to the bundled list
        return None
    return _PARSERS[hub_file](Path(path).read_text(encoding="utf-8"), path), f"hf://datasets/{FOOD_REPO}/{hub_file}"


def load_vocabulary(hub_file: str, task_dir: Path | None, benchmark_dir: Path | None) -> tuple[list[str], str] | None:
    """Return ``(names, source)`` for one of the Hub vocabulary files, or ``None`` when none is found.

    Looks in the task folder, then the benchmark folder, then (without a benchmark folder) on the Hub,
    then in the bundled lists. ``source`` says where the names came from.
    """
    folders = [p for p in (task_dir, benchmark_dir) if p is not None]
    found = _read_local(hub_file, folders)
    if found is None and benchmark_dir is None:
        found = _read_hub(hub_file)
    if found is None and hub_file in _BUNDLED:
        found = list(_BUNDLED[hub_file]), "bundled"
    if found is not None and len(set(found[0])) != len(found[0]):
        raise ValueError(f"vocabulary from {found[1]} lists a name twice")
    return found
