"""The ablation's own world: general shapes for the starting student, domain scans and plates, a balanced benchmark.

The quickstart's world (:mod:`hub_tools.miniature.world`) trains the synthesizer and gives the look of the domain;
the ablation adds three things the quickstart does not need (issue 30):

- **General rows** (:func:`general_rows`): images of one to four coloured shapes on a pale background, asked in
  every answer format the benchmark uses: yes/no, A-D letters, short class names (colours) and numbers (counts),
  plus short captions. No domain word (:data:`DOMAIN_WORDS`: ingredients, organs, modalities, lesions, plates)
  appears in them: the general student can read colours and counts, and the domain is what post-training adds.
- **Domain pairs** (:func:`write_domain_pairs`): the quickstart world's scans and plates with its captions, drawn
  only from combinations *outside* the benchmark's (:func:`benchmark_combos`): every modality, organ and
  ingredient is seen in the domain, never in the combination the benchmark asks about.
- **A balanced benchmark** (:func:`write_benchmark`): three tasks of at least ``per_task`` items each, every item
  from a held-out combination: ``closed`` (yes/no), ``choice`` (A-D letters) and ``open`` (a short answer from a
  closed answer set). Every question string gets each of its answers (and, for ``choice``, each letter) equally
  often, so any fixed answer per question string scores chance. Scored by likelihood over the item's
  candidates (:mod:`hub_tools.miniature.ablate_student`).

Items are dicts ``{"id", "task", "image", "question", "candidates", "answer", "params"}``; ``image`` is relative
to the file's folder. Everything is deterministic in the seed.
"""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

from hub_tools.defaults import CAPTION_PROMPT
from hub_tools.miniature.ablate_aerial import (
    AERIAL_DOMAIN_WORDS,
    aerial_benchmark_combos,
    aerial_params_for,
    aerial_strings,
)
from hub_tools.miniature.world.params import DEFAULT_DOMAIN, REMOTE_SENSING

GENERAL_COLORS = {
    "red": (210, 40, 40),
    "green": (50, 160, 60),
    "blue": (45, 75, 205),
    "yellow": (230, 205, 40),
    "orange": (240, 135, 25),
    "black": (25, 25, 30),
}
"""The general world's colours (names and RGB)."""
GENERAL_SHAPES = {"circle": "circles", "square": "squares", "triangle": "triangles"}
COUNTS = ("1", "2", "3", "4")
LETTERS = ("A", "B", "C", "D")
YES_NO = ("Yes", "No")
MC_INSTRUCTION = "Answer with the option's letter from the given choices directly."
TASKS = ("closed", "choice", "open")
"""The benchmark's tasks: yes/no, A-D letters, short answers."""
TASK_FORMATS = {"closed": "yes/no", "choice": "A-D letter", "open": "short answer (class name or number)"}

DOMAIN_WORDS = (
    "tomato", "tomatoes", "pea", "peas", "carrot", "carrots", "olive", "olives", "cheese", "mushroom", "mushrooms",
    "egg", "eggs", "plate", "dish", "meal", "food", "ingredient", "ingredients",
    "brain", "lungs", "lung", "kidneys", "kidney", "organ", "CT", "MRI", "X-ray", "radiograph", "tomography",
    "magnetic", "scan", "lesion", "axial",
) + AERIAL_DOMAIN_WORDS  # fmt: skip
"""The domain's attribute words (both domains: scans and plates, and aerial scenes): they appear in domain captions and
never in a general row (a test asserts it)."""


def domain_word_hits(text: str) -> list[str]:
    """The :data:`DOMAIN_WORDS` that ``text`` holds as whole words (case-insensitive)."""
    low = text.lower()
    return [w for w in DOMAIN_WORDS if re.search(r"(?<![a-z-])" + re.escape(w.lower()) + r"(?![a-z])", low)]


def _num_word(n: int) -> str:
    return ("zero", "one", "two", "three", "four")[n]


# ---------------------------------------------------------------------------------------------
# the general world: coloured shapes
# ---------------------------------------------------------------------------------------------
def draw_shapes(color: str, shape: str, count: int, rng: random.Random, size: int = 112):
    """``count`` shapes of one ``shape`` and ``color`` in distinct cells of a 4 x 4 grid on a pale background."""
    from PIL import Image, ImageDraw

    bg = tuple(min(255, max(0, 228 + rng.randint(-14, 14))) for _ in range(3))
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    cell = size / 4
    cells = rng.sample([(x, y) for x in range(4) for y in range(4)], count)
    rgb = GENERAL_COLORS[color]
    for gx, gy in cells:
        fill = tuple(max(0, min(255, c + rng.randint(-12, 12))) for c in rgb)
        x, y = (gx + 0.5) * cell + rng.uniform(-2, 2), (gy + 0.5) * cell + rng.uniform(-2, 2)
        r = rng.uniform(8, 11)
        if shape == "circle":
            d.ellipse([x - r, y - r, x + r, y + r], fill=fill)
        elif shape == "square":
            d.rectangle([x - r * 0.85, y - r * 0.85, x + r * 0.85, y + r * 0.85], fill=fill)
        else:
            d.polygon([(x, y - r), (x - r, y + r * 0.8), (x + r, y + r * 0.8)], fill=fill)
    return img


def _options(truth: str, pool: tuple[str, ...] | list[str], letter: int, rng: random.Random) -> list[str]:
    """Four options holding ``truth`` at position ``letter``, the others drawn from ``pool``."""
    others = rng.sample([p for p in pool if p != truth], 3)
    return others[:letter] + [truth] + others[letter:]


def mc_question(stem: str, options: list[str]) -> str:
    """A multiple-choice question: the stem, the options as ``A. ...`` lines, the instruction."""
    return stem + "\n" + "\n".join(f"{k}. {v}" for k, v in zip(LETTERS, options)) + "\n" + MC_INSTRUCTION


def question_key(question: str) -> str:
    """The question string the question-only prior conditions on.

    The question itself; for a multiple-choice question, its stem marked as such (``stem [A-D]``): the options
    differ from item to item, and the stem alone would be the open question's string.
    """
    stem, _, rest = question.partition("\n")
    return f"{stem} [A-D]" if rest.endswith(MC_INSTRUCTION) else stem


def _general_item(index: int, seed: int, split: str) -> tuple[dict, object]:
    """General item ``index`` of ``split``: its question, candidates and answer, and its image."""
    rng = random.Random(f"general|{seed}|{split}|{index}")
    color = rng.choice(sorted(GENERAL_COLORS))
    shape = rng.choice(sorted(GENERAL_SHAPES))
    count = rng.randint(1, 4)
    image = draw_shapes(color, shape, count, rng)
    kind = ("caption", "color", "count", "yesno", "mc_color", "mc_count")[index % 6]
    noun = GENERAL_SHAPES[shape] if count > 1 else shape
    if kind == "caption":
        return {"kind": kind, "question": CAPTION_PROMPT, "answer": f"{_num_word(count).capitalize()} {color} "
                f"{noun} on a pale background.", "candidates": None}, image  # fmt: skip
    if kind == "color":
        return {"kind": kind, "question": "What color are the shapes?", "answer": color,
                "candidates": sorted(GENERAL_COLORS)}, image  # fmt: skip
    if kind == "count":
        return {"kind": kind, "question": "How many shapes are there?", "answer": str(count),
                "candidates": list(COUNTS)}, image  # fmt: skip
    if kind == "yesno":
        asked = color if rng.random() < 0.5 else rng.choice([c for c in sorted(GENERAL_COLORS) if c != color])
        return {"kind": kind, "question": f"Are the shapes {asked}?", "answer": "Yes" if asked == color else "No",
                "candidates": list(YES_NO)}, image  # fmt: skip
    letter = rng.randrange(4)
    if kind == "mc_color":
        options = _options(color, sorted(GENERAL_COLORS), letter, rng)
        stem = "What color are the shapes?"
    else:
        options = _options(str(count), COUNTS, letter, rng)
        stem = "How many shapes are there?"
    return {"kind": kind, "question": mc_question(stem, options), "answer": LETTERS[letter],
            "candidates": list(LETTERS)}, image  # fmt: skip


def write_general(out: Path, n: int, seed: int, split: str) -> list[dict]:
    """Write ``n`` general items of ``split`` (images under ``out/images/general-<split>/``); returns the items.

    A sixth are captions (``candidates`` None: training only); the rest ask colour, count, yes/no (is the colour
    ...?) and A-D letters (colour or count options), in turn.
    """
    from hub_tools.miniature.world import png_bytes

    items = []
    folder = out / "images" / f"general-{split}"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(n):
        item, image = _general_item(index, seed, split)
        rel = f"images/general-{split}/{index:05d}.png"
        (out / rel).write_bytes(png_bytes(image))
        items.append({"id": f"general-{split}-{index:05d}", "task": "general", "image": rel, **item})
    return items


def item_row(item: dict, image_prefix: str = "") -> dict:
    """A general item as a one-turn TRL vision row (``kind`` ``task``, or ``caption_only`` for a caption)."""
    caption = item["kind"] == "caption"
    return {
        "id": item["id"],
        "kind": "caption_only" if caption else "task",
        "caption_turn": 0 if caption else None,
        "images": [image_prefix + item["image"]],
        "messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": item["question"]}]},
            {"role": "assistant", "content": [{"type": "text", "text": item["answer"]}]},
        ],
    }


def question_prior(train_items: list[dict]) -> dict[str, str]:
    """The question-only prior: per question string (:func:`question_key`), the most frequent training answer.

    Ties go to the answer that sorts first, so the prior is deterministic.
    """
    from collections import Counter

    counts: dict[str, Counter] = {}
    for item in train_items:
        if item.get("candidates"):
            counts.setdefault(question_key(item["question"]), Counter())[item["answer"]] += 1
    return {q: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for q, c in counts.items()}


def prior_accuracy(prior: dict[str, str], items: list[dict]) -> float:
    """Accuracy (0-100) of answering every item with the prior's answer for its question string (else wrong)."""
    scored = [i for i in items if i.get("candidates")]
    return 100 * sum(prior.get(question_key(i["question"])) == i["answer"] for i in scored) / len(scored)


# ---------------------------------------------------------------------------------------------
# the domain: held-out combinations, pairs, benchmark
# ---------------------------------------------------------------------------------------------
def benchmark_combos(seed: int, domain: str = DEFAULT_DOMAIN) -> dict[str, list]:
    """The combinations only the benchmark shows: three (modality, organ) pairs, and ingredient sets covering all.

    Each modality and each organ is in exactly one held-out scan pair (so the domain shows it with the two
    others); the held-out ingredient sets (two or three kinds) together hold every ingredient. ``domain``
    ``remote-sensing``: ``{"aerial": [(land use, object) pairs]}`` (:func:`~hub_tools.miniature.ablate_aerial.aerial_benchmark_combos`).
    """
    if domain == REMOTE_SENSING:
        return {"aerial": aerial_benchmark_combos(seed)}
    from hub_tools.miniature.world import INGREDIENTS, MODALITIES, ORGANS

    rng = random.Random(f"ablate-combos|{seed}")
    organs = list(ORGANS)
    rng.shuffle(organs)
    scans = [f"scan:{m}+{o}" for m, o in zip(MODALITIES, organs)]
    names = sorted(INGREDIENTS)
    rng.shuffle(names)
    groups = [names[0:3], names[3:5], names[5:7]]
    extra = set()
    while len(extra) < 3:
        extra.add(tuple(sorted(rng.sample(sorted(INGREDIENTS), 2))))
    food = sorted({"food:" + "+".join(sorted(g)) for g in groups} | {"food:" + "+".join(e) for e in extra})
    return {"scan": scans, "food": food}


def write_domain_pairs(out: Path, n: int, seed: int, food_share: float = 0.5, domain: str = DEFAULT_DOMAIN) -> Path:
    """``n`` domain image-caption pairs (the quickstart world's drawing and captions) outside the benchmark's combos.

    Written as ``out/pairs.json`` in the world's pairs layout (``id``, ``images``, ``messages``, ``params``,
    ``heldout`` False) with images under ``out/images/pairs/``; returns the file. ``domain`` ``remote-sensing``:
    aerial scenes.
    """
    from hub_tools.miniature.world import draw, png_bytes, sample_params
    from hub_tools.miniature.world.files import pair_record

    held = set(sum(benchmark_combos(seed, domain).values(), []))
    pairs = []
    (out / "images" / "pairs").mkdir(parents=True, exist_ok=True)
    for index in range(n):
        rng = random.Random(f"ablate-pair|{seed}|{index}")
        if domain == REMOTE_SENSING:
            kind = "aerial"
        else:
            kind = "food" if rng.random() < food_share else "scan"
        params = sample_params(rng, kind, held, want_heldout=False)
        rel = f"images/pairs/ablate_pair_{index:05d}.png"
        (out / rel).write_bytes(png_bytes(draw(params, rng, 112)))
        pairs.append(pair_record(f"ablate_pair_{index:05d}", rel, params, rng, heldout=False))
    path = out / "pairs.json"
    path.write_text(json.dumps(pairs, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _food_with(rng: random.Random, combos: list[str], need: str | None, avoid: str | None, count: int | None):
    """A plate from a held-out ingredient set holding ``need`` (``count`` pieces) or lacking ``avoid``."""
    from hub_tools.miniature.world import Food, Item

    sets = [c.split(":", 1)[1].split("+") for c in combos]
    sets = [s for s in sets if (need is None or need in s) and (avoid is None or avoid not in s)]
    names = list(rng.choice(sets))
    rng.shuffle(names)
    return Food([Item(n, count if n == need and count else rng.randint(1, 4)) for n in names])


def _scan_with(rng: random.Random, combos: list[str], organ=None, modality=None, lesion=None, size=None):
    from hub_tools.miniature.world import SIDES, SIZES, Scan

    pairs = [c.split(":", 1)[1].split("+") for c in combos]
    pairs = [(m, o) for m, o in pairs if (organ is None or o == organ) and (modality is None or m == modality)]
    m, o = rng.choice(pairs)
    has = lesion if lesion is not None else rng.random() >= 0.25
    if not has:
        return Scan(m, o)
    return Scan(m, o, rng.choice(SIDES), size or rng.choice(SIZES))


def _strings(task: str) -> list[tuple[str, tuple[str, ...], str]]:
    """The task's question strings: ``(stem, answers, what)`` in a fixed order."""
    from hub_tools.miniature.world import INGREDIENTS, MODALITIES, ORGANS

    ings = sorted(INGREDIENTS)
    if task == "closed":
        return [("Is there a lesion in this image?", YES_NO, "lesion")] + [
            (f"Are there any {INGREDIENTS[i].plural} on the plate?", YES_NO, f"has:{i}") for i in ings
        ]
    if task == "choice":
        return [(f"How many {INGREDIENTS[i].plural} are on the plate?", COUNTS, f"count:{i}") for i in ings] + [
            ("Which organ is shown in the image?", tuple(ORGANS), "organ"),
            ("What imaging modality is used?", tuple(MODALITIES), "modality"),
        ]
    return (
        [("Which organ is shown in the image?", tuple(ORGANS), "organ")]
        + [("What imaging modality is used?", tuple(MODALITIES), "modality")]
        + [(f"How many {INGREDIENTS[i].plural} are on the plate?", COUNTS, f"count:{i}") for i in ings]
        + [("Is the lesion small or large?", ("small", "large"), "size")]
    )


_DISTRACTORS = {"organ": ("heart", "liver"), "modality": ("ultrasound", "PET")}


def _params_for(what: str, answer: str, combos: dict, rng: random.Random):
    if what == "lesion":
        return _scan_with(rng, combos["scan"], lesion=answer == "Yes")
    if what == "organ":
        return _scan_with(rng, combos["scan"], organ=answer)
    if what == "modality":
        return _scan_with(rng, combos["scan"], modality=answer)
    if what == "size":
        return _scan_with(rng, combos["scan"], lesion=True, size=answer)
    name = what.split(":", 1)[1]
    if what.startswith("has:"):
        return _food_with(
            rng, combos["food"], name if answer == "Yes" else None, None if answer == "Yes" else name, None
        )
    return _food_with(rng, combos["food"], name, None, int(answer))


def benchmark_items(per_task: int, seed: int, domain: str = DEFAULT_DOMAIN) -> dict[str, list[dict]]:
    """Every benchmark item's text and parameters (no images): ``{task: [item]}``; see :func:`write_benchmark`."""
    from hub_tools.miniature.world import params_to_dict

    combos = benchmark_combos(seed, domain)
    aerial = domain == REMOTE_SENSING
    out = {}
    for task in TASKS:
        strings = aerial_strings(task, YES_NO, COUNTS) if aerial else _strings(task)
        items = []
        for s_index, (stem, answers, what) in enumerate(strings):
            step = len(answers) if task != "choice" else math.lcm(len(answers), 4)
            k = math.ceil(per_task / len(strings) / step) * step
            for j in range(k):
                rng = random.Random(f"ablate-bench|{seed}|{task}|{s_index}|{j}")
                answer = answers[j % len(answers)]
                if aerial:
                    params = aerial_params_for(what, answer, combos["aerial"], rng)
                else:
                    params = _params_for(what, answer, combos, rng)
                if task == "choice":
                    pool = tuple(answers) + _DISTRACTORS.get(what, ())
                    letter = j % 4
                    question = mc_question(stem, _options(answer, pool, letter, rng))
                    candidates, label = list(LETTERS), LETTERS[letter]
                else:
                    question, candidates, label = stem, list(answers), answer
                items.append(
                    {"task": task, "question": question, "candidates": candidates, "answer": label,
                     "params": params_to_dict(params), "draw_seed": f"ablate-draw|{seed}|{task}|{s_index}|{j}"}
                )  # fmt: skip
        order = list(range(len(items)))
        random.Random(f"ablate-bench-order|{seed}|{task}").shuffle(order)
        out[task] = [{"id": f"{task}-{n:04d}", **items[i]} for n, i in enumerate(order)]
    return out


def write_benchmark(out: Path, per_task: int, seed: int, domain: str = DEFAULT_DOMAIN) -> dict[str, list[dict]]:
    """Write the benchmark (``out/benchmark.json``, images under ``out/images/bench/``); returns ``{task: items}``.

    Per task at least ``per_task`` items; every question string gets ``k`` items, ``k`` a multiple of its
    answer count (and, for ``choice``, of 4 so that each letter is the answer equally often). ``domain``
    ``remote-sensing``: aerial scenes (:mod:`hub_tools.miniature.ablate_aerial`).
    """
    from hub_tools.miniature.world import draw, params_from_dict, png_bytes

    items = benchmark_items(per_task, seed, domain)
    (out / "images" / "bench").mkdir(parents=True, exist_ok=True)
    for task_items in items.values():
        for item in task_items:
            rel = f"images/bench/{item['id']}.png"
            params = params_from_dict(item["params"])
            (out / rel).write_bytes(png_bytes(draw(params, random.Random(item.pop("draw_seed")), 112)))
            item["image"] = rel
    (out / "benchmark.json").write_text(json.dumps(items, indent=1) + "\n", encoding="utf-8")
    return items


def chance(items: list[dict]) -> float:
    """Expected accuracy (0-100) of a uniform guess among each item's candidates."""
    return 100 * sum(1 / len(i["candidates"]) for i in items) / len(items)


HARNESS_TASKS = {"closed": "SLAKE", "open": "SLAKE", "choice": "PMC-VQA"}
"""The released metric each task's generated answers are scored with (the harness task whose metric it is)."""


def write_harness_benchmark(out: Path, bench: dict[str, list[dict]], n: int) -> dict[str, list[str]]:
    """The first ``n`` items of each task in the evaluation schema (``out/SLAKE``, ``out/PMC-VQA``).

    ``closed`` and ``open`` go to a SLAKE-style folder (``answer_type`` CLOSED / OPEN, scored by the released
    ``medical_vqa`` metric), ``choice`` to a PMC-VQA-style folder (options in ``A``-``D``, the ``multiple_choice``
    metric). Returns the item ids in each folder's order: ``{harness task: [id]}``.
    """
    import shutil

    order: dict[str, list[str]] = {}
    rows: dict[str, list[dict]] = {}
    for task, items in bench.items():
        harness = HARNESS_TASKS[task]
        folder = out / harness
        (folder / "images").mkdir(parents=True, exist_ok=True)
        for item in items[:n]:
            rel = f"images/{item['id']}.png"
            shutil.copyfile(out.parent / item["image"], folder / rel)
            row = {"id": len(rows.get(harness, [])), "image": rel, "input": item["question"]}
            if task == "choice":
                options = item["question"].split("\n")[1:5]
                row.update({"label": item["answer"], **{o[0]: o[3:] for o in options}})
            else:
                closed = task == "closed"
                row.update({"label": item["answer"].lower() if closed else item["answer"],
                            "answer_type": "CLOSED" if closed else "OPEN"})  # fmt: skip
            rows.setdefault(harness, []).append(row)
            order.setdefault(harness, []).append(item["id"])
    for harness, task_rows in rows.items():
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in task_rows)
        (out / harness / "test.jsonl").write_text(text, encoding="utf-8")
    return order
