"""The aerial scenes of the remote-sensing world: captions, listings, questions and the miniature benchmark.

An aerial scene (:class:`~hub_tools.miniature.world.params.Aerial`) is one land use (farmland, forest, desert,
water, residential: each its own ground colour and pattern) with one to four objects of one kind (red buildings,
white tanks, yellow airplanes) in the left or the right half of the image. Only a world built with
``domain="remote-sensing"`` holds them; the default world (scans and plates) never draws one.

As for plates and scans, every count stands right before its object ("three buildings") and an informative answer
ends on its value, so :mod:`~hub_tools.miniature.world.grounding` can judge a triplet. The benchmark
(:func:`write_aerial_benchmark`) fills the harness's remote-sensing tasks (:mod:`hub_tools.evaluation.remote_sensing`):
scene classification (``CLRS``, with ``vocabulary.json``), FloodNet-style VQA (yes/no and counts) and captions
(``NWPU-Captions``). All wording here is our own.
"""

from __future__ import annotations

import random
from pathlib import Path

from hub_tools.filtering.lexical import NUMBER_WORDS
from hub_tools.miniature.world.params import (
    AERIAL_OBJECTS,
    LAND_USES,
    SIDES,
    Aerial,
    _rng,
    sample_aerial,
)
from hub_tools.miniature.world.phrasing import QA, _cue_end, _num
from hub_tools.miniature.world.task_folder import bench_row, write_task_folder

AERIAL_TASK_NAMES = {"scene": "CLRS", "vqa": "FloodNet", "caption": "NWPU-Captions"}
"""Which harness task folder each part of the aerial benchmark fills (see ``hub_tools.evaluation.tasks``)."""


def _noun(obj: str, n: int) -> str:
    o = AERIAL_OBJECTS[obj]
    return o.name if n == 1 else o.plural


def _be(n: int) -> str:
    return "is" if n == 1 else "are"


def _an(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


# ---------------------------------------------------------------------------------------------
# captions and listings
# ---------------------------------------------------------------------------------------------
def aerial_caption(p: Aerial, rng: random.Random) -> str:
    """One of several phrasings of the scene's land use, objects, their count and side."""
    use = LAND_USES[p.land_use]
    counted = f"{_num(rng, p.count)} {_noun(p.obj, p.count)}"
    style = rng.randrange(4)
    if style == 0:
        return f"An aerial view of {_an(use.name)} area with {counted} on the {p.side} side of the image."
    if style == 1:
        return f"Satellite image of {use.look} ({use.name}); there {_be(p.count)} {counted} in the {p.side} half."
    if style == 2:
        return f"Top-down image of {_an(use.name)} area. {counted.capitalize()} can be seen on the {p.side} side."
    return f"A {use.name} scene seen from above, with {counted} on the {p.side}."


def aerial_listing(p: Aerial, rng: random.Random) -> str:
    """A key-value description in a shuffled order (``land use: forest; buildings: three; side: left.``)."""
    parts = [f"land use: {p.land_use}", f"{AERIAL_OBJECTS[p.obj].plural}: {_num(rng, p.count)}", f"side: {p.side}"]
    rng.shuffle(parts)
    return "; ".join(parts) + "."


# ---------------------------------------------------------------------------------------------
# questions
# ---------------------------------------------------------------------------------------------
def aerial_questions(p: Aerial, rng: random.Random) -> list[QA]:
    """Every question type about an aerial scene, with answers (informative styles vary by ``rng``)."""
    use, obj = LAND_USES[p.land_use], AERIAL_OBJECTS[p.obj]
    n, nw, noun = p.count, NUMBER_WORDS[p.count], _noun(p.obj, p.count)
    qas = [
        QA(
            "landuse",
            rng.choice(["What kind of land is shown in this aerial image?", "What is the land use in this image?"]),
            use.name,
            rng.choice(
                [
                    f"Seen from above, the ground is {use.color} with {use.look}, so the area is {use.name}.",
                    f"The image is covered by {use.look}: it shows {use.name}.",
                ]
            ),
        )
    ]
    qas.append(
        QA(
            "obj_count",
            rng.choice([f"How many {obj.plural} are there?", f"How many {obj.plural} can you see in this image?"]),
            str(n),
            rng.choice(
                [
                    f"I count {nw} {obj.color} {noun} on the {p.side} side of the image." + _cue_end(rng, str(n)),
                    f"On the {p.side} side there {_be(n)} {nw} {noun}.",
                ]
            ),
        )
    )
    if rng.random() < 0.5:
        asked, yes = rng.choice([o for o in sorted(AERIAL_OBJECTS) if o != p.obj]), False
    else:
        asked, yes = p.obj, True
    other = AERIAL_OBJECTS[asked]
    question = rng.choice(
        [f"Are there any {other.plural} in this image?", f"Is there {_an(other.name)} in this image?"]
    )
    info = (
        f"Yes, there {_be(n)} {nw} {obj.color} {noun} on the {p.side} side."
        if yes
        else f"No. The image shows {nw} {noun} on {use.name}, but no {other.plural}."
    )
    qas.append(QA("obj_presence", question, "Yes" if yes else "No", info))
    qas.append(
        QA(
            "obj_side",
            rng.choice(
                [
                    f"On which side of the image are the {obj.plural}?",
                    f"Are the {obj.plural} on the left or the right?",
                ]
            ),
            p.side,
            rng.choice(
                [
                    f"The {obj.color} {noun} {_be(n)} in the {p.side} half of the image.",
                    f"All {nw} {noun} stand on one side of the image." + _cue_end(rng, p.side)
                    if n > 1
                    else f"The only {noun} stands on one side of the image." + _cue_end(rng, p.side),
                ]
            ),
        )
    )
    asked_side = rng.choice(SIDES)
    qas.append(
        QA(
            "obj_side_check",
            f"Are the {obj.plural} on the {asked_side} side of the image?",
            "Yes" if asked_side == p.side else "No",
            f"Yes, the {obj.plural} are on the {p.side} side."
            if asked_side == p.side
            else f"No, the {obj.plural} are on the {p.side} side of the image, not the {asked_side} side.",
        )
    )
    qas.append(
        QA(
            "obj_kind",
            rng.choice(["What objects can be seen in this image?", "Which kind of object is shown on the ground?"]),
            obj.plural,
            f"There {_be(n)} {nw} {obj.color} {noun} on the {p.side} side." + _cue_end(rng, obj.plural),
        )
    )
    return qas


# ---------------------------------------------------------------------------------------------
# the miniature remote-sensing benchmark
# ---------------------------------------------------------------------------------------------
def _vqa_row(p: Aerial, index: int, rng: random.Random) -> dict:
    """A FloodNet-style row: even indices CLOSED (yes and no in turn), odd OPEN (a count or a side)."""
    obj = AERIAL_OBJECTS[p.obj]
    if index % 2 == 0:
        yes = (index // 2) % 2 == 0
        if rng.random() < 0.5:
            asked = p.obj if yes else rng.choice([o for o in sorted(AERIAL_OBJECTS) if o != p.obj])
            question = f"Are there any {AERIAL_OBJECTS[asked].plural} in this image?"
        else:
            side = p.side if yes else next(s for s in SIDES if s != p.side)
            question = f"Are the {obj.plural} on the {side} side of the image?"
        return {"question": question, "label": "yes" if yes else "no", "answer_type": "CLOSED"}
    if rng.random() < 0.5:
        return {"question": f"How many {obj.plural} are there?", "label": str(p.count), "answer_type": "OPEN"}
    return {"question": f"On which side of the image are the {obj.plural}?", "label": p.side, "answer_type": "OPEN"}


def write_aerial_benchmark(out: Path, cfg) -> dict:
    """Write the aerial mini benchmark in the evaluation schema; returns row counts per task folder.

    Three folders named by ``cfg.task_names`` (defaults :data:`AERIAL_TASK_NAMES`): ``scene`` (``CLRS``: the
    land-use class from the harness's scene prompt, ``vocabulary.json`` listing the land uses), ``vqa``
    (``FloodNet``: CLOSED yes/no rows, yes and no in turn, and OPEN count / side rows, column ``answer_type``) and
    ``caption`` (``NWPU-Captions``: one reference caption). Each holds ``test.jsonl`` (``id``, ``image``, ``input``,
    ``label``, ..., ``params`` as a JSON string) and ``images/``.
    """
    from hub_tools.evaluation import remote_sensing as RS

    names = {**AERIAL_TASK_NAMES, **{k: v for k, v in cfg.task_names.items() if k in AERIAL_TASK_NAMES}}
    classes = list(LAND_USES)
    scene_prompt = RS.SCENE_PROMPT.replace("{classes}", ", ".join(classes))
    counts = {}
    for key, task in names.items():
        folder = out / task
        rows = []
        for index in range(cfg.benchmark_per_task):
            rng = _rng(cfg.seed, "aerial-bench", key, index)
            if key == "scene":  # every land use in turn
                params = sample_aerial(rng)
                params.land_use = classes[index % len(classes)]
                row = {"input": scene_prompt, "label": params.land_use}
            elif key == "vqa":
                params = sample_aerial(rng)
                vqa = _vqa_row(params, index, rng)
                row = {"input": RS.FLOODNET_PROMPT.format(question=vqa["question"]), "label": vqa["label"],
                       "answer_type": vqa["answer_type"]}  # fmt: skip
            else:
                params = sample_aerial(rng)
                row = {"input": RS.CAPTION_PROMPT, "label": aerial_caption(params, rng)}
            rows.append(bench_row(folder, task, index, params, rng, cfg.image_size, row))
        counts[task] = write_task_folder(folder, rows, classes if key == "scene" else None)
    return counts
