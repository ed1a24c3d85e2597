"""The world's texts: captions in several phrasings, key-value listings, caption paraphrases, and every question
type with its precise and informative answers, all written from an image's parameters.

Every count stands right before its ingredient ("three tomatoes"), and an informative answer ends on its value:
the grounding checks (:mod:`hub_tools.miniature.world.grounding`) rely on both.
"""

from __future__ import annotations

import random

from hub_tools.filtering.lexical import NUMBER_WORDS
from hub_tools.miniature.world.aerial import aerial_caption, aerial_listing, aerial_questions
from hub_tools.miniature.world.params import (
    DEFAULT_DOMAIN,
    INGREDIENTS,
    MODALITY_LONG,
    REMOTE_SENSING,
    Aerial,
    Food,
    Ingredient,
    Params,
    Scan,
    _kind_for,
    _rng,
    aerial_combos,
    all_combos,
    sample_params,
)
from hub_tools.miniature.world.phrasing import QA, _cue_end, _num


# ---------------------------------------------------------------------------------------------
# captions
# ---------------------------------------------------------------------------------------------
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
    if isinstance(params, Aerial):
        return aerial_caption(params, rng)
    return food_caption(params, rng) if isinstance(params, Food) else scan_caption(params, rng)


def listing(params: Params, rng: random.Random) -> str:
    """A key-value description of ``params`` in a shuffled order (``eggs: four; olives: 2.``, ``organ: lungs; ...``).

    The name comes before its value, so writing one from a caption means finding the value that goes
    with a name — what answering "How many eggs ...?" from a caption takes.
    """
    if isinstance(params, Aerial):
        return aerial_listing(params, rng)
    if isinstance(params, Food):
        items = list(params.items)
        rng.shuffle(items)
        return "; ".join(f"{INGREDIENTS[i.name].plural}: {_num(rng, i.count)}" for i in items) + "."
    parts = [f"modality: {params.modality}", f"organ: {params.organ}"]
    parts += [f"lesion side: {params.side}", f"lesion size: {params.size}"] if params.lesion else ["lesion: none"]
    rng.shuffle(parts)
    return "; ".join(parts) + "."


def caption_paraphrases(
    seed: int,
    n: int,
    heldout: set[str] | list[str],
    food_share: float = 0.5,
    max_kinds: int = 3,
    domain: str = DEFAULT_DOMAIN,
) -> list[tuple[str, str]]:
    """``n`` pairs of texts about the same image parameters: a caption, then a rewrite of it.

    The rewrite is, with equal chance, a :func:`listing` or another caption (for plates, with the
    ingredients in a shuffled order), so counts, names and sides must be carried over into another
    order or wording. Parameters come from combinations outside ``heldout``, so text pretraining on
    these pairs (:mod:`hub_tools.miniature.pretrain`) sees nothing of the held-out pairs. Deterministic in
    ``seed``; drawn independently of the seed set's images. ``domain`` ``remote-sensing``: aerial scenes only.
    """
    heldout = set(heldout)
    aerial = domain == REMOTE_SENSING
    combos = {**all_combos(max_kinds), "aerial": aerial_combos()}
    shares = (("aerial", 1.0),) if aerial else (("food", food_share), ("scan", 1 - food_share))
    for kind, share in shares:
        if share > 0 and heldout.issuperset(combos[kind]):
            raise ValueError(f"every {kind} combination is held out: no {kind} paraphrase can be drawn")
    pairs = []
    for index in range(n):
        rng = _rng(seed, "paraphrase", index)
        kind = "aerial" if aerial else _kind_for(rng, food_share)
        params = sample_params(rng, kind, heldout, want_heldout=False, max_kinds=max_kinds)
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
    if isinstance(params, Aerial):
        return aerial_questions(params, rng)
    return food_questions(params, rng) if isinstance(params, Food) else scan_questions(params, rng)
