"""The remote-sensing side of the ablation's world (``adamllm ablate --domain remote-sensing``): the aerial
benchmark's held-out (land use, object) pairs, its question strings, and the scenes that answer them.

:mod:`hub_tools.miniature.ablate_world` dispatches here when its ``domain`` is ``remote-sensing``; the default
(scans and plates) never reaches this module. Like the default, every item comes from a held-out combination, the
domain pairs come only from the others, and every question string gets each of its answers equally often.
"""

from __future__ import annotations

import random

AERIAL_DOMAIN_WORDS = (
    "farmland", "forest", "desert", "water", "residential", "building", "buildings", "tank", "tanks",
    "airplane", "airplanes", "plane", "planes", "aerial", "satellite", "land",
)  # fmt: skip
"""The aerial scenes' attribute words: in aerial captions, never in a general row (added to ``DOMAIN_WORDS``)."""
LANDUSE_QUESTION = "What kind of land is shown in this aerial image?"


def aerial_benchmark_combos(seed: int) -> list[str]:
    """The (land use, object) pairs only the benchmark shows: every land use in exactly one, every object in one or two.

    So the domain pairs still show each land use with the two other objects, and each object with three or four land
    uses: every value is seen in the domain, never in the combination the benchmark asks about.
    """
    from hub_tools.miniature.world import AERIAL_OBJECTS, LAND_USES

    rng = random.Random(f"ablate-aerial-combos|{seed}")
    uses = sorted(LAND_USES)
    rng.shuffle(uses)
    objs = sorted(AERIAL_OBJECTS)
    rng.shuffle(objs)
    return sorted(f"aerial:{u}+{objs[k % len(objs)]}" for k, u in enumerate(uses))


def aerial_strings(task: str, yes_no: tuple[str, ...], counts: tuple[str, ...]) -> list[tuple[str, tuple, str]]:
    """The aerial task's question strings: ``(stem, answers, what)`` in a fixed order."""
    from hub_tools.miniature.world import AERIAL_OBJECTS, LAND_USES, SIDES

    objs = sorted(AERIAL_OBJECTS)
    plural = {o: AERIAL_OBJECTS[o].plural for o in objs}
    uses = tuple(sorted(LAND_USES))
    if task == "closed":
        return [(f"Are there any {plural[o]} in this image?", yes_no, f"has:{o}") for o in objs] + [
            (f"Are the {plural[o]} on the left side of the image?", yes_no, f"left:{o}") for o in objs
        ]
    counted = [(f"How many {plural[o]} are there?", counts, f"count:{o}") for o in objs]
    if task == "choice":
        return [(LANDUSE_QUESTION, uses, "landuse"), *counted]
    sides = [(f"On which side of the image are the {plural[o]}?", tuple(SIDES), f"side:{o}") for o in objs]
    return [(LANDUSE_QUESTION, uses, "landuse"), *counted, *sides]


def aerial_params_for(what: str, answer: str, combos: list[str], rng: random.Random):
    """An aerial scene from a held-out pair of ``combos`` whose answer to the string ``what`` is ``answer``."""
    from hub_tools.miniature.world import SIDES, Aerial

    pairs = [tuple(c.split(":", 1)[1].split("+")) for c in combos]
    side, count = rng.choice(SIDES), rng.randint(1, 4)
    if what == "landuse":
        use, obj = rng.choice([p for p in pairs if p[0] == answer])
        return Aerial(use, obj, count, side)
    kind, obj = what.split(":", 1)
    if kind == "has":
        use, found = rng.choice([p for p in pairs if (p[1] == obj) == (answer == "Yes")])
        return Aerial(use, found, count, side)
    use, _ = rng.choice([p for p in pairs if p[1] == obj])
    if kind == "left":
        return Aerial(use, obj, count, "left" if answer == "Yes" else "right")
    if kind == "count":
        return Aerial(use, obj, int(answer), side)
    return Aerial(use, obj, count, answer)  # side
