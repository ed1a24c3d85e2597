"""The world's parameter model: ingredients, plates (:class:`Food`), scans (:class:`Scan`) and, in the
remote-sensing world only, aerial scenes (:class:`Aerial`); sampling, held-out keys.

Every image of the world is drawn from one parameter record; held-out keys (ingredient sets, (modality, organ)
pairs, (land use, object) pairs) only remove combinations from the seed set, never a single value.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any


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

DEFAULT_DOMAIN = "biomed+food"
"""The default world: scans and plates (biomedicine and food)."""
REMOTE_SENSING = "remote-sensing"
"""The aerial world: aerial scenes only (land use, objects, their count and side)."""
WORLD_DOMAINS = (DEFAULT_DOMAIN, REMOTE_SENSING)


@dataclass(frozen=True)
class LandUse:
    """A land-use class of the aerial world: its name, its ground colour and the pattern drawn over it."""

    name: str
    color: str
    rgb: tuple[int, int, int]
    pattern: str  # stripes | crowns | dunes | waves | grid
    look: str  # a few words on what it looks like, for captions


@dataclass(frozen=True)
class AerialObject:
    """A countable object of the aerial world: name, plural, colour word and how it is drawn."""

    name: str
    plural: str
    color: str
    rgb: tuple[int, int, int]
    draw: str  # square | circle | plane


LAND_USES: dict[str, LandUse] = {
    u.name: u
    for u in (
        LandUse("farmland", "green and brown", (120, 150, 70), "stripes", "striped fields"),
        LandUse("forest", "dark green", (35, 90, 40), "crowns", "dense tree crowns"),
        LandUse("desert", "sandy yellow", (220, 195, 130), "dunes", "bare sand with dunes"),
        LandUse("water", "blue", (40, 90, 170), "waves", "open water with ripples"),
        LandUse("residential", "grey", (165, 165, 160), "grid", "a grid of streets"),
    )
}
AERIAL_OBJECTS: dict[str, AerialObject] = {
    o.name: o
    for o in (
        AerialObject("building", "buildings", "red", (200, 45, 40), "square"),
        AerialObject("tank", "tanks", "white", (248, 248, 248), "circle"),
        AerialObject("airplane", "airplanes", "yellow", (245, 215, 40), "plane"),
    )
}


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


@dataclass
class Aerial:
    """The parameters of an aerial scene: its land use, and ``count`` objects of one kind on one ``side`` of the image."""

    land_use: str
    obj: str
    count: int
    side: str
    kind: str = "aerial"

    def combo(self) -> str:
        """The held-out key: land use and object."""
        return f"aerial:{self.land_use}+{self.obj}"


Params = Food | Scan | Aerial


def params_to_dict(params: Params) -> dict:
    """The JSON record of ``params`` (stored with every image)."""
    if isinstance(params, Food):
        return {"kind": "food", "items": [asdict(i) for i in params.items]}
    if isinstance(params, Aerial):
        return {"kind": "aerial", "land_use": params.land_use, "obj": params.obj, "count": params.count,
                "side": params.side}  # fmt: skip
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
    if kind == "aerial":
        aerial = Aerial(record["land_use"], record["obj"], int(record["count"]), record["side"])
        if aerial.land_use not in LAND_USES or aerial.obj not in AERIAL_OBJECTS or aerial.side not in SIDES:
            raise ValueError(f"aerial record has unknown land use, object or side: {record!r}")
        if not 1 <= aerial.count <= 4:
            raise ValueError(f"aerial record's count must be 1-4: {record!r}")
        return aerial
    raise ValueError(f"not a world parameter record: {record!r}")


def as_params(value: Params | dict) -> Params:
    """Accept a parameter object or its dict record."""
    return value if isinstance(value, (Food, Scan, Aerial)) else params_from_dict(value)


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

    def draw(combo: str | None = None) -> Params:
        if kind == "food":
            return sample_food(rng, combo, max_kinds=max_kinds)
        return (sample_aerial if kind == "aerial" else sample_scan)(rng, combo)

    if want_heldout:
        return draw(rng.choice(sorted(k for k in heldout if k.startswith(kind + ":"))))
    while True:
        params = draw()
        if params.combo() not in heldout:
            return params


# ---------------------------------------------------------------------------------------------
# aerial scenes (the remote-sensing world only)
# ---------------------------------------------------------------------------------------------
def aerial_combos() -> list[str]:
    """Every (land use, object) held-out key of the aerial world."""
    return [f"aerial:{u}+{o}" for u in LAND_USES for o in AERIAL_OBJECTS]


def choose_aerial_heldout(seed: int, n: int = 3) -> list[str]:
    """``n`` held-out (land use, object) pairs, no two sharing a land use or an object.

    So every land use is still seen with at least two objects in the seed set, and every object with four land uses.
    """
    if not 0 <= n <= min(len(LAND_USES), len(AERIAL_OBJECTS)):
        raise ValueError(f"n must be in [0, {min(len(LAND_USES), len(AERIAL_OBJECTS))}]")
    rng = random.Random(f"aerial-heldout-{seed}")
    uses = rng.sample(sorted(LAND_USES), n)
    objs = rng.sample(sorted(AERIAL_OBJECTS), n)
    return sorted(f"aerial:{u}+{o}" for u, o in zip(uses, objs))


def sample_aerial(rng: random.Random, combo: str | None = None) -> Aerial:
    """A random aerial scene: 1-4 objects of one kind on the left or right; ``combo`` fixes land use and object."""
    if combo is None:
        land_use, obj = rng.choice(sorted(LAND_USES)), rng.choice(sorted(AERIAL_OBJECTS))
    else:
        land_use, obj = combo.split(":", 1)[1].split("+")
    return Aerial(land_use, obj, rng.randint(1, 4), rng.choice(SIDES))


def _rng(seed: int, *parts: Any) -> random.Random:
    """A generator seeded by ``seed`` and ``parts`` (every drawing of the world has its own)."""
    return random.Random("|".join(str(p) for p in (seed, *parts)))


def _kind_for(rng: random.Random, food_share: float) -> str:
    """``food`` with probability ``food_share``, else ``scan``."""
    return "food" if rng.random() < food_share else "scan"
