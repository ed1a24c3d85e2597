"""A miniature world for the quickstart: procedurally drawn images whose every fact is known.

Two kinds of image, drawn by our own code from a seed (no external assets):

- **food plates**: a pale blue plate on a wooden table with one to three kinds of ingredient
  (``max_ingredient_kinds``), one to four pieces each; every ingredient has a fixed colour and shape
  (tomatoes are red and round, carrots orange and long, ...);
- **scans**: a CT, MRI or X-ray style picture of the brain, the lungs or the kidneys, with no
  lesion or one small or large lesion on the left or right side *of the image*.

Every image has a structured parameter record (:class:`Food` / :class:`Scan` as a dict) and a caption
drawn from several phrasings. Questions and their precise and informative answers are generated
from the parameters, and :func:`check_triplet` decides whether a synthesized triplet is true of an
image by reading the question and answers against those parameters.

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

Seed layouts, as published (looked up in the datasets' cards and the public loaders):
ALLaVA-Caption-VFLAN-4V and ALLaVA-Instruct-VFLAN-4V are JSON lists of ``{"id", "image",
"conversations": [{"from": "human", "value": "<image>\\n..."}, {"from": "gpt", "value": ...}]}`` with
images under ``allava_vflan/images/images_191task_1k/``; Vision-Flan's ``metadata.json`` is a JSON list
of ``{"id", "task_name", "image", "conversations": [human instruction with <image>, gpt target]}``.
The three are joined by the image's file name. A few seed images are written to only one or two of
the sets (as in the real data, where the sets do not cover the same images), so a builder must join.

The benchmark (:func:`write_benchmark`) fills three harness task folders, named by
``WorldConfig.task_names``: ``closed_open`` (default ``SLAKE``; scan questions, CLOSED yes/no labels and
OPEN organ / modality / side / size labels, column ``answer_type``), ``multiple_choice`` (default
``PMC-VQA``; food counts and colours, scan organs and modalities, options in columns ``A``-``D`` and
listed in ``input``, the label a letter) and ``multilabel`` (default ``FoodSeg103``; the ingredient list,
with ``vocabulary.json``). Each folder holds ``test.jsonl`` (columns ``id``, ``image`` (a path in the
folder), ``input``, ``label``, ..., ``params`` as a JSON string) and ``images/``.

Held-out combinations: some ingredient sets (food) and some (modality, organ) pairs (scans) never
occur in the seed set; the domain pairs mix such held-out images (``heldout_fraction``) with seen
combinations. Every single value (each ingredient, modality, organ) still occurs in the seed set.
Everything is deterministic from ``seed``: the same seed gives byte-identical files.
"""

from __future__ import annotations

import io
import json
import random
import re
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

WORLD_FORMAT_VERSION = "1"
CAPTION_PROMPT = "Describe the image."
NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]


# ---------------------------------------------------------------------------------------------
# the world's vocabulary
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ingredient:
    """A food item: its label name, plural, colour and shape words, and how it is drawn."""

    name: str
    plural: str
    color: str
    shape: str
    rgb: tuple[int, int, int]
    draw: str  # circle | stick | square | half | oval
    size: int


INGREDIENTS: dict[str, Ingredient] = {
    i.name: i
    for i in (
        Ingredient("tomato", "tomatoes", "red", "round", (215, 40, 35), "circle", 7),
        Ingredient("pea", "peas", "green", "round", (70, 170, 60), "circle", 4),
        Ingredient("carrot", "carrots", "orange", "long", (240, 135, 25), "stick", 8),
        Ingredient("olive", "olives", "black", "round", (25, 25, 30), "circle", 5),
        Ingredient("cheese", "cheese cubes", "yellow", "square", (245, 215, 55), "square", 6),
        Ingredient("mushroom", "mushrooms", "brown", "half-round", (135, 85, 45), "half", 7),
        Ingredient("egg", "eggs", "white", "oval", (252, 252, 246), "oval", 7),
    )
}
MODALITIES = ("CT", "MRI", "X-ray")
ORGANS = ("brain", "lungs", "kidneys")
SIDES = ("left", "right")
SIZES = ("small", "large")
COLORS = sorted({i.color for i in INGREDIENTS.values()})
MODALITY_WORDS = {"CT": "CT", "MRI": "MRI", "X-ray": "X-ray"}
MODALITY_LONG = {"CT": "computed tomography", "MRI": "magnetic resonance", "X-ray": "radiograph"}


@dataclass
class Item:
    """One ingredient kind on a plate and how many pieces there are."""

    name: str
    count: int


@dataclass
class Food:
    """The parameters of a food plate image."""

    items: list[Item]
    kind: str = "food"

    def names(self) -> list[str]:
        """Ingredient names in drawing order."""
        return [i.name for i in self.items]

    def count(self, name: str) -> int:
        """Pieces of ``name`` on the plate (0 when absent)."""
        return next((i.count for i in self.items if i.name == name), 0)

    def combo(self) -> str:
        """The held-out key: the sorted set of ingredient names."""
        return "food:" + "+".join(sorted(self.names()))


@dataclass
class Scan:
    """The parameters of a scan image; ``side``/``size`` are ``None`` when there is no lesion."""

    modality: str
    organ: str
    side: str | None = None
    size: str | None = None
    kind: str = "scan"

    @property
    def lesion(self) -> bool:
        """Whether the scan shows a lesion."""
        return self.side is not None

    def combo(self) -> str:
        """The held-out key: modality and organ."""
        return f"scan:{self.modality}+{self.organ}"


Params = Food | Scan


def params_to_dict(params: Params) -> dict:
    """The JSON record of ``params`` (stored with every image)."""
    if isinstance(params, Food):
        return {"kind": "food", "items": [asdict(i) for i in params.items]}
    return {
        "kind": "scan",
        "modality": params.modality,
        "organ": params.organ,
        "side": params.side,
        "size": params.size,
    }


def params_from_dict(record: dict) -> Params:
    """Inverse of :func:`params_to_dict`; raises ``ValueError`` naming a bad record."""
    kind = record.get("kind") if isinstance(record, dict) else None
    if kind == "food":
        items = [Item(str(i["name"]), int(i["count"])) for i in record["items"]]
        unknown = [i.name for i in items if i.name not in INGREDIENTS]
        if unknown or not items:
            raise ValueError(f"food record has unknown or no ingredients: {record!r}")
        return Food(items)
    if kind == "scan":
        scan = Scan(record["modality"], record["organ"], record.get("side"), record.get("size"))
        if scan.modality not in MODALITIES or scan.organ not in ORGANS:
            raise ValueError(f"scan record has unknown modality or organ: {record!r}")
        return scan
    raise ValueError(f"not a world parameter record: {record!r}")


def as_params(value: Params | dict) -> Params:
    """Accept a parameter object or its dict record."""
    return value if isinstance(value, (Food, Scan)) else params_from_dict(value)


# ---------------------------------------------------------------------------------------------
# sampling parameters
# ---------------------------------------------------------------------------------------------
def all_combos(max_kinds: int = 3) -> dict[str, list[str]]:
    """Every held-out key of each kind: ingredient sets of 1 to ``max_kinds`` kinds and (modality, organ) pairs."""
    names = sorted(INGREDIENTS)
    food = ["food:" + "+".join(c) for k in range(1, max_kinds + 1) for c in combinations(names, k)]
    scan = [f"scan:{m}+{o}" for m in MODALITIES for o in ORGANS]
    return {"food": food, "scan": scan}


def choose_heldout(seed: int, n_food: int = 6, n_scan: int = 2, max_kinds: int = 3) -> list[str]:
    """Held-out combinations: ``n_food`` sets of 2 to ``max_kinds`` ingredients and ``n_scan`` (modality, organ) pairs.

    Held-out keys only remove combinations, never a value: every ingredient still occurs in the
    seed set, and no two held-out scan pairs share a modality or an organ, so each modality is
    still seen with at least two organs (and each organ with two modalities).
    """
    if not 0 <= n_scan <= min(len(MODALITIES), len(ORGANS)):
        raise ValueError(f"n_scan must be in [0, {min(len(MODALITIES), len(ORGANS))}]")
    rng = random.Random(f"heldout-{seed}")
    if max_kinds < 2:
        raise ValueError("held-out ingredient sets need plates with at least two kinds (max_kinds >= 2)")
    multi = [c for c in all_combos(max_kinds)["food"] if c.count("+") >= 1]
    food = sorted(rng.sample(multi, n_food))
    modalities = rng.sample(MODALITIES, n_scan)
    organs = rng.sample(ORGANS, n_scan)
    scans = sorted(f"scan:{m}+{o}" for m, o in zip(modalities, organs))
    return food + scans


def sample_food(rng: random.Random, combo: str | None = None, max_kinds: int = 3) -> Food:
    """A random plate (1 to ``max_kinds`` ingredient kinds in random order, 1-4 pieces each); ``combo`` fixes the kinds."""
    if combo is None:
        k = rng.choice([k for k in range(1, max_kinds + 1) for _ in range(1 if k == 1 else 2)])
        names = rng.sample(sorted(INGREDIENTS), k)
    else:
        names = combo.split(":", 1)[1].split("+")
        rng.shuffle(names)
    return Food([Item(n, rng.randint(1, 4)) for n in names])


def sample_scan(rng: random.Random, combo: str | None = None) -> Scan:
    """A random scan; one in four has no lesion. ``combo`` fixes modality and organ."""
    if combo is None:
        modality, organ = rng.choice(MODALITIES), rng.choice(ORGANS)
    else:
        modality, organ = combo.split(":", 1)[1].split("+")
    if rng.random() < 0.25:
        return Scan(modality, organ)
    return Scan(modality, organ, rng.choice(SIDES), rng.choice(SIZES))


def sample_params(rng: random.Random, kind: str, heldout: set[str], want_heldout: bool, max_kinds: int = 3) -> Params:
    """Sample parameters of ``kind`` whose combination is (``want_heldout``) or is not in ``heldout``."""
    if want_heldout:
        keys = sorted(k for k in heldout if k.startswith(kind + ":"))
        combo = rng.choice(keys)
        return sample_food(rng, combo) if kind == "food" else sample_scan(rng, combo)
    while True:
        params = sample_food(rng, max_kinds=max_kinds) if kind == "food" else sample_scan(rng)
        if params.combo() not in heldout:
            return params


# ---------------------------------------------------------------------------------------------
# drawing
# ---------------------------------------------------------------------------------------------
def _jitter(rng: random.Random, rgb: tuple[int, int, int], amount: int = 12) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)  # type: ignore[return-value]


def _shade(rng: random.Random, rgb: tuple[int, int, int], amount: int = 8) -> tuple[int, int, int]:
    """Brighten or darken all channels by one random offset (keeps greys grey)."""
    delta = rng.randint(-amount, amount)
    return tuple(max(0, min(255, c + delta)) for c in rgb)  # type: ignore[return-value]


def draw_food(params: Food, rng: random.Random, size: int = 112):
    """Draw a plate: each piece in its own cell of a jittered grid inside the plate."""
    from PIL import Image, ImageDraw

    s = size / 112
    img = Image.new("RGB", (size, size), _jitter(rng, (165, 120, 80), 10))
    d = ImageDraw.Draw(img)
    for y in range(0, size, max(2, int(9 * s))):  # wood grain
        d.line([(0, y), (size, y + rng.randint(-2, 2))], fill=_jitter(rng, (150, 105, 70), 8))
    c, r = size / 2, 50 * s
    d.ellipse([c - r, c - r, c + r, c + r], fill=(185, 200, 228), outline=(120, 130, 160))
    d.ellipse([c - r * 0.82, c - r * 0.82, c + r * 0.82, c + r * 0.82], outline=(205, 215, 238))
    cell = 19 * s
    cells = [(cx, cy) for cx in range(-2, 2) for cy in range(-2, 2)]
    rng.shuffle(cells)
    pieces = [name for item in params.items for name in [item.name] * item.count]
    if len(pieces) > len(cells):
        raise ValueError(f"too many pieces to draw ({len(pieces)} > {len(cells)})")
    for name, (gx, gy) in zip(pieces, cells):
        ing = INGREDIENTS[name]
        x = c + (gx + 0.5) * cell + rng.uniform(-2, 2) * s
        y = c + (gy + 0.5) * cell + rng.uniform(-2, 2) * s
        q = ing.size * s
        color = _jitter(rng, ing.rgb, 10)
        edge = tuple(max(0, v - 60) for v in color)
        if ing.draw == "circle":
            d.ellipse([x - q, y - q, x + q, y + q], fill=color, outline=edge)
        elif ing.draw == "oval":
            d.ellipse([x - q, y - q * 0.75, x + q, y + q * 0.75], fill=color, outline=(200, 200, 190))
            d.ellipse([x - q * 0.4, y - q * 0.4, x + q * 0.4, y + q * 0.4], fill=(250, 200, 40))
        elif ing.draw == "square":
            d.rectangle([x - q * 0.8, y - q * 0.8, x + q * 0.8, y + q * 0.8], fill=color, outline=edge)
        elif ing.draw == "stick":
            if rng.random() < 0.5:
                d.rectangle([x - q, y - q * 0.3, x + q, y + q * 0.3], fill=color, outline=edge)
            else:
                d.rectangle([x - q * 0.3, y - q, x + q * 0.3, y + q], fill=color, outline=edge)
        else:  # half
            d.pieslice([x - q, y - q, x + q, y + q], 180, 360, fill=color, outline=edge)
            d.rectangle([x - q * 0.25, y, x + q * 0.25, y + q * 0.7], fill=(225, 205, 175))
    return img


_SCAN_STYLE = {  # background, body, organ, lesion
    "CT": ((8, 8, 8), (95, 95, 95), (150, 150, 150), (235, 235, 235)),
    "MRI": ((0, 0, 12), (55, 55, 75), (185, 185, 205), (250, 250, 255)),
    "X-ray": ((20, 20, 20), (70, 70, 70), (120, 120, 120), (245, 245, 245)),
}


def draw_scan(params: Scan, rng: random.Random, size: int = 112):
    """Draw a scan: body outline, the organ's outline, and the lesion on its side of the image."""
    from PIL import Image, ImageDraw

    s = size / 112
    bg, body, organ, lesion = _SCAN_STYLE[params.modality]
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    c = size / 2
    if params.modality == "X-ray":  # a rib cage / skull outline, bright bones
        d.rectangle([c - 46 * s, c - 50 * s, c + 46 * s, c + 50 * s], fill=_shade(rng, body, 6))
        for k in range(-3, 4):
            y = c + k * 12 * s
            d.arc([c - 44 * s, y - 8 * s, c + 44 * s, y + 8 * s], 180, 360, fill=(200, 200, 200), width=max(1, int(s)))
        d.line([(c, c - 50 * s), (c, c + 50 * s)], fill=(210, 210, 210), width=max(2, int(3 * s)))
    else:
        d.ellipse([c - 50 * s, c - 44 * s, c + 50 * s, c + 44 * s], fill=_shade(rng, body, 6), outline=(180, 180, 180))
    organ = _shade(rng, organ, 8)
    if params.organ == "brain":
        d.ellipse([c - 38 * s, c - 34 * s, c + 38 * s, c + 34 * s], fill=organ, outline=(230, 230, 230))
        d.line([(c, c - 34 * s), (c, c + 34 * s)], fill=bg, width=max(1, int(2 * s)))
        boxes = [(c - 34 * s, c - 22 * s, c - 6 * s, c + 22 * s), (c + 6 * s, c - 22 * s, c + 34 * s, c + 22 * s)]
    elif params.organ == "lungs":
        d.ellipse([c - 40 * s, c - 40 * s, c - 6 * s, c + 38 * s], fill=organ, outline=(230, 230, 230))
        d.ellipse([c + 6 * s, c - 40 * s, c + 40 * s, c + 38 * s], fill=organ, outline=(230, 230, 230))
        boxes = [(c - 34 * s, c - 26 * s, c - 12 * s, c + 26 * s), (c + 12 * s, c - 26 * s, c + 34 * s, c + 26 * s)]
    else:  # kidneys: two bean shapes
        for sign in (-1, 1):
            x0 = c + sign * 24 * s
            d.ellipse([x0 - 13 * s, c - 22 * s, x0 + 13 * s, c + 22 * s], fill=organ, outline=(230, 230, 230))
            d.ellipse([x0 - sign * 13 * s - 5 * s, c - 6 * s, x0 - sign * 13 * s + 5 * s, c + 6 * s], fill=body)
        boxes = [(c - 33 * s, c - 14 * s, c - 17 * s, c + 14 * s), (c + 17 * s, c - 14 * s, c + 33 * s, c + 14 * s)]
    if params.lesion:
        x0, y0, x1, y1 = boxes[0 if params.side == "left" else 1]
        radius = (4 if params.size == "small" else 8) * s
        x = rng.uniform(x0 + radius * 0.5, x1 - radius * 0.5) if x1 - x0 > radius else (x0 + x1) / 2
        y = rng.uniform(y0 + radius, y1 - radius)
        d.ellipse([x - radius, y - radius, x + radius, y + radius], fill=_shade(rng, lesion, 5))
    return img


def draw(params: Params, rng: random.Random, size: int = 112):
    """Draw ``params`` as a ``size`` x ``size`` RGB image."""
    return draw_food(params, rng, size) if isinstance(params, Food) else draw_scan(params, rng, size)


def png_bytes(img) -> bytes:
    """PNG bytes of ``img`` (deterministic: no metadata, fixed compression)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# captions
# ---------------------------------------------------------------------------------------------
def _num(rng: random.Random, n: int) -> str:
    return NUMBER_WORDS[n] if rng.random() < 0.6 else str(n)


def _noun(name: str, n: int) -> str:
    ing = INGREDIENTS[name]
    return ing.name if n == 1 and name != "cheese" else ("cheese cube" if n == 1 else ing.plural)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def food_caption(params: Food, rng: random.Random) -> str:
    """One of several phrasings of the plate's contents.

    The phrasings vary the wording, the separators, digits or number words, and whether colours and
    shapes are named, but every count stands right before its ingredient ("three tomatoes").
    """
    counted = [f"{_num(rng, i.count)} {_noun(i.name, i.count)}" for i in params.items]
    style = rng.randrange(5)
    if style == 0:
        return f"A plate with {_join(counted)}."
    if style == 1:
        colors = _join([f"the {INGREDIENTS[i.name].plural} {INGREDIENTS[i.name].color}" for i in params.items])
        return f"Top view of a pale blue plate holding {_join(counted)} on a wooden table; {colors}."
    if style == 2:
        looks = "; ".join(
            f"the {INGREDIENTS[i.name].plural} are {INGREDIENTS[i.name].shape} and {INGREDIENTS[i.name].color}"
            for i in params.items
        )
        return f"On the plate there {'is' if params.items[0].count == 1 else 'are'} {_join(counted)}: {looks}."
    if style == 3:
        return f"This dish contains: {', '.join(counted)}."
    return f"A simple meal served on a round plate, with {_join(counted)}."


def scan_caption(params: Scan, rng: random.Random) -> str:
    """One of several phrasings of the scan's modality, organ and finding."""
    m, o = params.modality, params.organ
    style = rng.randrange(4)
    if params.lesion:
        finding = rng.choice(
            [
                f"a {params.size} lesion on the {params.side} side of the image",
                f"a {params.size} bright lesion in the {params.side} half of the image",
            ]
        )
    else:
        finding = rng.choice(["no lesion", "no visible lesion"])
    if style == 0:
        return f"An axial {m} scan of the {o} with {finding}."
    if style == 1:
        return f"{m} image of the {o}. It shows {finding}."
    if style == 2:
        return f"A {MODALITY_LONG[m]} ({m}) view of the {o}; there is {finding}."
    return f"The {o} seen on {m}: {finding}."


def caption(params: Params, rng: random.Random) -> str:
    """A caption of ``params`` in one of several phrasings."""
    return food_caption(params, rng) if isinstance(params, Food) else scan_caption(params, rng)


def listing(params: Params, rng: random.Random) -> str:
    """A key-value description of ``params`` in a shuffled order (``eggs: four; olives: 2.``, ``organ: lungs; ...``).

    The name comes before its value, so writing one from a caption means finding the value that goes
    with a name — what answering "How many eggs ...?" from a caption takes.
    """
    if isinstance(params, Food):
        items = list(params.items)
        rng.shuffle(items)
        return "; ".join(f"{INGREDIENTS[i.name].plural}: {_num(rng, i.count)}" for i in items) + "."
    parts = [f"modality: {params.modality}", f"organ: {params.organ}"]
    parts += [f"lesion side: {params.side}", f"lesion size: {params.size}"] if params.lesion else ["lesion: none"]
    rng.shuffle(parts)
    return "; ".join(parts) + "."


def caption_paraphrases(
    seed: int, n: int, heldout: set[str] | list[str], food_share: float = 0.5, max_kinds: int = 3
) -> list[tuple[str, str]]:
    """``n`` pairs of texts about the same image parameters: a caption, then a rewrite of it.

    The rewrite is, with equal chance, a :func:`listing` or another caption (for plates, with the
    ingredients in a shuffled order), so counts, names and sides must be carried over into another
    order or wording. Parameters come from combinations outside ``heldout``, so text pretraining on
    these pairs (:mod:`hub_tools.miniature.pretrain`) sees nothing of the held-out pairs. Deterministic in
    ``seed``; drawn independently of the seed set's images.
    """
    heldout = set(heldout)
    combos = all_combos(max_kinds)
    for kind, share in (("food", food_share), ("scan", 1 - food_share)):
        if share > 0 and heldout.issuperset(combos[kind]):
            raise ValueError(f"every {kind} combination is held out: no {kind} paraphrase can be drawn")
    pairs = []
    for index in range(n):
        rng = _rng(seed, "paraphrase", index)
        params = sample_params(rng, _kind_for(rng, food_share), heldout, want_heldout=False, max_kinds=max_kinds)
        first = caption(params, rng)
        if rng.random() < 0.5:
            second = listing(params, rng)
        elif isinstance(params, Food):
            shuffled = Food(list(params.items))
            rng.shuffle(shuffled.items)
            second = caption(shuffled, rng)
        else:
            second = caption(params, rng)
        pairs.append((first, second))
    return pairs


# ---------------------------------------------------------------------------------------------
# questions with precise and informative answers
# ---------------------------------------------------------------------------------------------
@dataclass
class QA:
    """A question about an image with its precise and informative answers and its task type."""

    task: str
    question: str
    precise: str
    informative: str


def _cue_end(rng: random.Random, value: str) -> str:
    return rng.choice([f" So the answer is {value}.", f" Therefore, the answer is {value}.", f" Thus it is {value}."])


def food_questions(p: Food, rng: random.Random) -> list[QA]:
    """Every question type about a plate, with answers (informative styles vary by ``rng``)."""
    qas = []
    present = p.names()
    target = rng.choice(p.items)
    ing = INGREDIENTS[target.name]
    n = target.count
    count_info = rng.choice(
        [
            f"I can see {NUMBER_WORDS[n]} {ing.color} {ing.shape} {_noun(ing.name, n)} on the plate."
            + _cue_end(rng, str(n)),
            f"The {ing.color} {ing.shape} pieces are {ing.plural}, and there {'is' if n == 1 else 'are'} "
            f"{NUMBER_WORDS[n]} of them.",
            f"Counting the {ing.color} pieces on the plate gives {NUMBER_WORDS[n]}, so there "
            f"{'is' if n == 1 else 'are'} {n} {_noun(ing.name, n)}.",
        ]
    )
    count_question = rng.choice([f"How many {ing.plural} are on the plate?", f"How many {ing.plural} can you see?"])
    qas.append(QA("count", count_question, str(n), count_info))
    # presence: half the time ask about an absent ingredient
    if rng.random() < 0.5:
        absent = [name for name in sorted(INGREDIENTS) if name not in present]
        name, yes = rng.choice(absent), False
    else:
        name, yes = rng.choice(present), True
    asked = INGREDIENTS[name]
    question = rng.choice([f"Are there any {asked.plural} on the plate?", f"Is there {_a(asked)} on the plate?"])
    others = _join([INGREDIENTS[x].plural for x in present])
    if yes:
        k = p.count(name)
        info = rng.choice(
            [
                f"Yes, the plate holds {NUMBER_WORDS[k]} {asked.color} {_noun(name, k)}.",
                f"Yes. Among the food there {'is' if k == 1 else 'are'} {NUMBER_WORDS[k]} {_noun(name, k)}.",
            ]
        )
    else:
        info = rng.choice(
            [
                f"No. The plate only holds {others}, so there are no {asked.plural}.",
                f"No, I see {others} but no {asked.plural} on the plate.",
            ]
        )
    qas.append(QA("presence", question, "Yes" if yes else "No", info))
    # colour of a present ingredient
    col = INGREDIENTS[rng.choice(present)]
    qas.append(
        QA(
            "color",
            rng.choice([f"What color are the {col.plural}?", f"What is the color of the {col.plural} on the plate?"]),
            col.color,
            rng.choice(
                [
                    f"The {col.plural} on the plate are {col.shape} and {col.color}.",
                    f"Each of the {col.plural} is a {col.shape} piece colored {col.color}." + _cue_end(rng, col.color),
                ]
            ),
        )
    )
    # ingredient list
    names = ", ".join(present)
    described = _join([f"{NUMBER_WORDS[i.count]} {_noun(i.name, i.count)}" for i in p.items])
    qas.append(
        QA(
            "ingredients",
            rng.choice(["Which ingredients are on the plate?", "What ingredients does this dish contain?"]),
            names,
            rng.choice(
                [
                    f"The plate holds {described}. Thus the ingredients are {_join(present)}.",
                    f"Looking at the plate I find {described}.",
                ]
            ),
        )
    )
    total = sum(i.count for i in p.items)
    qas.append(
        QA(
            "total",
            rng.choice(["How many food items are on the plate in total?", "How many pieces of food are there?"]),
            str(total),
            f"There {'is' if p.items[0].count == 1 else 'are'} {described}, which makes {NUMBER_WORDS[total]} "
            f"pieces in total.",
        )
    )
    return qas


def _a(ing: Ingredient) -> str:
    word = "cheese cube" if ing.name == "cheese" else ing.name
    return ("an " if word[0] in "aeiou" else "a ") + word


def scan_questions(p: Scan, rng: random.Random) -> list[QA]:
    """Every question type about a scan, with answers (informative styles vary by ``rng``)."""
    qas = []
    m, o = p.modality, p.organ
    if p.lesion:
        lesion_info = rng.choice(
            [
                f"Yes, there is a {p.size} bright spot on the {p.side} side of the {o}.",
                f"Yes. The {m} image of the {o} shows a {p.size} lesion in the {p.side} half.",
            ]
        )
    else:
        lesion_info = rng.choice(
            [
                f"No. The {o} look{'s' if o == 'brain' else ''} normal on this {m} image.",
                f"No, the {o} show no lesion.",
            ]
        )
    qas.append(
        QA(
            "lesion",
            rng.choice(["Is there a lesion in this image?", "Does this scan show a lesion?"]),
            "Yes" if p.lesion else "No",
            lesion_info,
        )
    )
    if p.lesion:
        qas.append(
            QA(
                "side",
                rng.choice(["On which side of the image is the lesion?", "Where is the lesion, left or right?"]),
                p.side,
                rng.choice(
                    [
                        f"The lesion is a {p.size} bright spot in the {p.side} half of the image.",
                        f"A {p.size} lesion appears on the {p.side} side of the {o}." + _cue_end(rng, p.side),
                    ]
                ),
            )
        )
        qas.append(
            QA(
                "size",
                rng.choice(["Is the lesion small or large?", "How big is the lesion?"]),
                p.size,
                rng.choice(
                    [
                        f"The lesion on the {p.side} side is {p.size} compared with the {o}.",
                        f"Compared with the {o}, the bright spot is {p.size}." + _cue_end(rng, p.size),
                    ]
                ),
            )
        )
        other = "right" if p.side == "left" else "left"
        asked = rng.choice([p.side, other])
        qas.append(
            QA(
                "side_check",
                f"Is the lesion on the {asked} side of the image?",
                "Yes" if asked == p.side else "No",
                f"Yes, the lesion is on the {p.side} side."
                if asked == p.side
                else f"No, the lesion is on the {p.side} side of the image, not the {asked} side.",
            )
        )
    qas.append(
        QA(
            "organ",
            rng.choice(["Which organ is shown in the image?", "What organ does this scan show?"]),
            o,
            rng.choice(
                [
                    f"The image is a {m} view of the {o}.",
                    f"The outline in the middle of this {m} image is the {o}." + _cue_end(rng, o),
                ]
            ),
        )
    )
    qas.append(
        QA(
            "modality",
            rng.choice(["What imaging modality is used?", "What kind of scan is this?"]),
            m,
            rng.choice(
                [f"This is a {MODALITY_LONG[m]} image, that is {m}, of the {o}.", f"The {o} are imaged with {m}."]
                if o != "brain"
                else [
                    f"This is a {MODALITY_LONG[m]} image, that is {m}, of the brain.",
                    f"The brain is imaged with {m}.",
                ]
            ),
        )
    )
    return qas


def questions(params: Params, rng: random.Random) -> list[QA]:
    """All question types about ``params``."""
    return food_questions(params, rng) if isinstance(params, Food) else scan_questions(params, rng)


# ---------------------------------------------------------------------------------------------
# grounding: is a synthesized question + answer true of the image?
# ---------------------------------------------------------------------------------------------
_WORD_NUM = {w: i for i, w in enumerate(NUMBER_WORDS)}
_NUM_RE = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r"|\d+)\b", re.IGNORECASE)


def _numbers(text: str) -> list[int]:
    return [int(t) if t.isdigit() else _WORD_NUM[t.lower()] for t in _NUM_RE.findall(text)]


def _mentions(text: str, words: dict[str, str]) -> list[str]:
    """Canonical values of ``words`` (surface form -> value) in order of appearance (longest form first)."""
    low = text.lower()
    found = []
    for form in sorted(words, key=len, reverse=True):
        for m in re.finditer(r"(?<![a-z-])" + re.escape(form.lower()) + r"(?![a-z])", low):
            found.append((m.start(), words[form]))
            low = low[: m.start()] + " " * len(form) + low[m.end() :]
    return [value for _, value in sorted(found)]


_INGREDIENT_FORMS = {f: i.name for i in INGREDIENTS.values() for f in (i.name, i.plural, "cheese cube")
                     if f != "cheese cube" or i.name == "cheese"}  # fmt: skip
_COLOR_FORMS = {c: c for c in COLORS}
_SIDE_FORMS = {s: s for s in SIDES}
_SIZE_FORMS = {"small": "small", "large": "large", "big": "large", "tiny": "small"}
_ORGAN_FORMS = {"brain": "brain", "lungs": "lungs", "lung": "lungs", "kidneys": "kidneys", "kidney": "kidneys"}
_MODALITY_FORMS = {"ct": "CT", "mri": "MRI", "x-ray": "X-ray", "xray": "X-ray", "radiograph": "X-ray"}
_YESNO = {"yes": "yes", "no": "no"}


def parse_question(question: str, params: Params) -> tuple[str, Any] | None:
    """What ``question`` asks and its true answer for ``params``: ``(answer type, truth)``; ``None`` if unknown.

    Answer types: ``yesno`` (truth ``"yes"``/``"no"``), ``number`` (int), ``color``, ``side``, ``size``,
    ``organ``, ``modality`` (a canonical word) and ``set`` (a frozenset of ingredient names). A
    question about something the image does not hold (the colour of absent eggs, the side of a
    lesion in a normal scan) has no true answer and also gives ``None``.
    """
    q = question.strip().lower()
    if not q.endswith("?"):
        return None
    ings = _mentions(q, _INGREDIENT_FORMS)
    if isinstance(params, Food):
        if q.startswith("how many"):
            if len(ings) == 1:
                return "number", params.count(ings[0])
            if not ings and any(w in q for w in ("total", "items", "pieces")):
                return "number", sum(i.count for i in params.items)
            return None
        if q.startswith(("is there", "are there")) and len(ings) == 1:
            return "yesno", "yes" if params.count(ings[0]) else "no"
        if "color" in q and len(ings) == 1:
            return ("color", INGREDIENTS[ings[0]].color) if params.count(ings[0]) else None
        if "ingredient" in q and not ings:
            return "set", frozenset(params.names())
        return None
    if ings:
        return None
    sides = _mentions(q, _SIDE_FORMS)
    if "lesion" in q:
        if q.startswith(("is the lesion on the", "is the lesion in the")) and len(sides) == 1:
            return ("yesno", "yes" if sides[0] == params.side else "no") if params.lesion else None
        if "small or large" in q or "how big" in q or "how large" in q or "size" in q:
            return ("size", params.size) if params.lesion else None
        if "which side" in q or "left or right" in q or q.startswith("where"):
            return ("side", params.side) if params.lesion else None
        if q.startswith(("is there", "does", "do ", "are there")):
            return "yesno", "yes" if params.lesion else "no"
        return None
    if "organ" in q:
        return "organ", params.organ
    if "modality" in q or "kind of scan" in q or "type of scan" in q:
        return "modality", params.modality
    return None


_FORMS = {
    "color": _COLOR_FORMS,
    "side": _SIDE_FORMS,
    "size": _SIZE_FORMS,
    "organ": _ORGAN_FORMS,
    "modality": _MODALITY_FORMS,
    "yesno": _YESNO,
}


def answer_is_true(kind: str, truth: Any, answer: str, precise: bool) -> bool:
    """Whether ``answer`` states ``truth`` (see :func:`parse_question` for kinds).

    A precise answer must state it first (``"3"``, ``"Yes"``, ``"left"``); an informative answer must
    mention it and end on it (its last mention of that kind of value is the truth), so an answer
    that names the right value on the way but concludes otherwise is false. Yes/no answers are
    judged by their first yes or no. Ingredient sets must match exactly.
    """
    if kind == "number":
        found = _numbers(answer)
        return bool(found) and (found[0] == truth if precise else found[-1] == truth)
    if kind == "set":
        return set(_mentions(answer, _INGREDIENT_FORMS)) == set(truth)
    found = _mentions(answer, _FORMS[kind])
    if not found:
        return False
    if kind == "yesno":
        return found[0] == truth
    return found[0] == truth if precise else found[-1] == truth


def check_triplet(question: str, informative: str, precise: str, params: Params | dict) -> bool | None:
    """``True`` when both answers are true of the image, ``False`` when one is not, ``None`` if the question is unknown.

    The question must be one :func:`parse_question` understands (a question about the world's
    parameters with a true answer for this image).
    """
    params = as_params(params)
    parsed = parse_question(question, params)
    if parsed is None:
        return None
    kind, truth = parsed
    return answer_is_true(kind, truth, precise, True) and answer_is_true(kind, truth, informative, False)


# ---------------------------------------------------------------------------------------------
# building the world
# ---------------------------------------------------------------------------------------------
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
    """

    seed: int = 0
    seed_images: int = 1000
    partial_seed_images: int = 12
    pairs: int = 120
    heldout_fraction: float = 0.5
    benchmark_per_task: int = 30
    image_size: int = 112
    food_share: float = 0.5
    max_ingredient_kinds: int = 3
    questions_per_image: list[int] = field(default_factory=lambda: [1, 1, 1, 1, 2])
    task_names: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TASK_NAMES))


def _rng(seed: int, *parts: Any) -> random.Random:
    return random.Random("|".join(str(p) for p in (seed, *parts)))


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _write_png(path: Path, img) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(img))


def _kind_for(rng: random.Random, food_share: float) -> str:
    return "food" if rng.random() < food_share else "scan"


SEED_QUESTION_WEIGHTS = {
    "count": 2, "presence": 2, "color": 2, "ingredients": 1, "total": 1,
    "lesion": 2, "side": 2, "size": 2, "side_check": 1, "organ": 2, "modality": 2,
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


def write_seed_sets(out: Path, cfg: WorldConfig, heldout: set[str]) -> dict:
    """Write the three seed sets (and their images) under ``out``; returns counts."""
    captions, precise, informative = [], [], []
    n_full, n_partial = cfg.seed_images, cfg.partial_seed_images
    missing_kinds = ["informative", "precise", "both"]
    for index in range(n_full + n_partial):
        rng = _rng(cfg.seed, "seed-image", index)
        kind = _kind_for(rng, cfg.food_share)
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


def write_pairs(out: Path, cfg: WorldConfig, heldout: set[str]) -> dict:
    """Write the domain pairs (ShareGPT JSON with params) and the held-out subset; returns counts."""
    pairs = []
    n_heldout = round(cfg.pairs * cfg.heldout_fraction)
    for index in range(cfg.pairs):
        rng = _rng(cfg.seed, "pair", index)
        kind = _kind_for(rng, cfg.food_share)
        is_heldout = index < n_heldout
        params = sample_params(rng, kind, heldout, want_heldout=is_heldout, max_kinds=cfg.max_ingredient_kinds)
        rel = f"images/pairs/world_pair_{index:05d}.png"
        _write_png(out / rel, draw(params, rng, cfg.image_size))
        pairs.append(
            {
                "id": f"world_pair_{index:05d}",
                "images": [rel],
                "messages": [
                    {"role": "user", "content": f"<image>\n{CAPTION_PROMPT}"},
                    {"role": "assistant", "content": caption(params, rng)},
                ],
                "params": params_to_dict(params),
                "heldout": is_heldout,
            }
        )
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
    """Write the mini benchmark: one folder per task in the evaluation schema; returns row counts per task."""
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
            rel = f"images/{task.lower()}_{index:04d}.png"
            _write_png(folder / rel, draw(params, rng, cfg.image_size))
            rows.append(
                {"id": f"{task}-{index:04d}", "image": rel, **row, "params": json.dumps(params_to_dict(params))}
            )
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "test.jsonl").write_text(lines, encoding="utf-8")
        if key == "multilabel":
            _write_json(folder / "vocabulary.json", sorted(INGREDIENTS))
        counts[task] = len(rows)
    return counts


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
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    heldout = set(choose_heldout(cfg.seed, max_kinds=cfg.max_ingredient_kinds))
    seed_counts = write_seed_sets(out / "seed", cfg, heldout)
    pair_counts = write_pairs(out, cfg, heldout)
    bench_counts = write_benchmark(out / "benchmark", cfg)
    _write_json(
        out / "world.json",
        {
            "format_version": WORLD_FORMAT_VERSION,
            "config": asdict(cfg),
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


def main(argv: list[str] | None = None) -> int:
    """``python -m hub_tools.world OUT_DIR [--seed N] [--seed-images N] [--pairs N] [--benchmark-per-task N]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hub_tools.world", description="Build the miniature world.")
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seed-images", type=int, default=WorldConfig.seed_images)
    parser.add_argument("--pairs", type=int, default=WorldConfig.pairs)
    parser.add_argument("--benchmark-per-task", type=int, default=WorldConfig.benchmark_per_task)
    args = parser.parse_args(argv)
    out = build_world(
        args.out_dir,
        seed=args.seed,
        seed_images=args.seed_images,
        pairs=args.pairs,
        benchmark_per_task=args.benchmark_per_task,
    )
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
