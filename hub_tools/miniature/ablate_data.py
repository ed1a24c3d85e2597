"""The training data of the ablation conditions, and the measures of tasks against the world's truth.

Every condition is a list of TRL vision rows (``id``, ``kind``, ``caption_turn``, ``images``, ``messages``) written
to ``DATA/compose/<condition>.jsonl``; images are copied under ``DATA/images/`` so that every path is relative to
the data folder (the recipe refuses absolute paths). The conditions are fixed here, before any result is seen;
all use the same pairs, those the method's data holds (kept, or caption only; pairs without a triplet are dropped,
as released):

- ``single-stage``: the method: caption turn + kept synthetic task per pair, caption only when nothing was kept.
- ``two-stage``: the same rows cut into captions (stage 1) and tasks (stage 2).
- ``caption-only``: the caption turn of every pair the method's data holds (no synthetic task).
- ``synthetic-only``: the kept tasks without caption turns.
- ``rule-based``: caption turn + one task written by rules from the caption text alone (never the image).
- ``no-filter-precise`` / ``no-filter-informative``: caption turn + the first triplet of every pair, unfiltered,
  answered with its precise / informative answer only.
- ``seed-only``: general tasks (the general student's kind of rows: shapes, no domain word), as many rows as
  ``single-stage`` has; no domain data.
- ``seed+captions``: those seed rows plus the caption-only rows.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import shutil
from collections import Counter
from pathlib import Path

from hub_tools.miniature.world.params import DEFAULT_DOMAIN, REMOTE_SENSING

DATA_CONDITIONS = (
    "single-stage",
    "two-stage",
    "caption-only",
    "synthetic-only",
    "rule-based",
    "no-filter-precise",
    "no-filter-informative",
    "seed-only",
    "seed+captions",
)
"""The post-training conditions (``general``, the starting model, is evaluated without post-training)."""
QUESTION_TYPES = {
    DEFAULT_DOMAIN: ("number", "yesno", "color", "set", "side", "size", "organ", "modality"),
    REMOTE_SENSING: ("number", "yesno", "side", "object", "landuse"),
}
"""The answer types :func:`hub_tools.miniature.world.parse_question` gives each world's questions: task diversity is
counted over its own world's."""


def _turns(user: str, assistant: str) -> list[dict]:
    return [
        {"role": "user", "content": [{"type": "text", "text": user}]},
        {"role": "assistant", "content": [{"type": "text", "text": assistant}]},
    ]


def _row(pid: str, kind: str, image: str, messages: list[dict], caption_turn: int | None) -> dict:
    messages[0]["content"] = [{"type": "image"}, *messages[0]["content"]]
    return {"id": pid, "kind": kind, "caption_turn": caption_turn, "images": [image], "messages": messages}


def _mixed(pid: str, image: str, caption: list[dict], task: list[dict], rng: random.Random) -> dict:
    """Caption turn and task turn in one conversation, the caption first or last by ``rng`` (as composed)."""
    first = rng.random() < 0.5
    return _row(pid, "caption+task", image, caption + task if first else task + caption, 0 if first else 1)


# ---------------------------------------------------------------------------------------------
# tasks written by rules from the caption text
# ---------------------------------------------------------------------------------------------
def rule_tasks(caption: str) -> list[tuple[str, str]]:
    """Tasks a fixed rule writes from the caption text alone: ``[(question, answer)]``.

    A count before an ingredient (``"three tomatoes"``) gives *How many ... are on the plate?*; an organ or a
    modality named in the caption gives *Which organ ...?* / *What imaging modality ...?* (aerial captions:
    :func:`_aerial_rule_tasks`). The image is never looked at, so a task is as true as the caption and as narrow as
    the rules.
    """
    from hub_tools.miniature.world import _INGREDIENT_FORMS, _MODALITY_FORMS, _ORGAN_FORMS, INGREDIENTS, _mentions
    from hub_tools.miniature.world.grounding import _numbers

    tasks = []
    low = caption.lower()
    for form in sorted(_INGREDIENT_FORMS, key=len, reverse=True):
        for m in re.finditer(r"\b(\w+) " + re.escape(form) + r"\b", low):
            found = _numbers(m.group(1))
            if found:
                name = _INGREDIENT_FORMS[form]
                tasks.append((f"How many {INGREDIENTS[name].plural} are on the plate?", str(found[0])))
    tasks += _aerial_rule_tasks(low)
    organs, modalities = _mentions(caption, _ORGAN_FORMS), _mentions(caption, _MODALITY_FORMS)
    if organs:
        tasks.append(("Which organ is shown in the image?", organs[0]))
    if modalities:
        tasks.append(("What imaging modality is used?", modalities[0]))
    seen, unique = set(), []
    for task in tasks:
        if task[0] not in seen:
            seen.add(task[0])
            unique.append(task)
    return unique


def _aerial_rule_tasks(low: str) -> list[tuple[str, str]]:
    """The aerial scenes' rules (``"three buildings"``: *How many buildings are there?*; a land use named: *What kind
    of land ...?*); nothing for a plate's or a scan's caption, which names no aerial word."""
    from hub_tools.miniature.ablate_aerial import LANDUSE_QUESTION
    from hub_tools.miniature.world import AERIAL_OBJECTS, _mentions
    from hub_tools.miniature.world.grounding import _LAND_USE_FORMS, _OBJECT_FORMS, _numbers

    tasks = []
    for form in sorted(_OBJECT_FORMS, key=len, reverse=True):
        for m in re.finditer(r"\b(\w+) " + re.escape(form) + r"\b", low):
            found = _numbers(m.group(1))
            if found:
                tasks.append((f"How many {AERIAL_OBJECTS[_OBJECT_FORMS[form]].plural} are there?", str(found[0])))
    uses = _mentions(low, _LAND_USE_FORMS)
    if uses:
        tasks.append((LANDUSE_QUESTION, uses[0]))
    return tasks


# ---------------------------------------------------------------------------------------------
# measures against the world's truth
# ---------------------------------------------------------------------------------------------
def _value(kind: str, answer: str, precise: bool):
    from hub_tools.miniature.world import _INGREDIENT_FORMS, _mentions
    from hub_tools.miniature.world.grounding import _FORMS, _numbers

    if kind == "number":
        found = _numbers(answer)
        return (found[0] if precise else found[-1]) if found else None
    if kind == "set":
        return frozenset(_mentions(answer, _INGREDIENT_FORMS)) or None
    found = _mentions(answer, _FORMS[kind])
    if not found:
        return None
    return found[0] if precise or kind == "yesno" else found[-1]


def judge_task(question: str, informative: str, precise: str, params) -> dict:
    """One task against the world: its question type, whether it is grounded, whether its two answers agree.

    ``type`` is ``unknown`` for a question the world cannot judge (then ``grounded`` is False and ``agree``
    is None); ``agree``: the precise answer's value equals the informative answer's conclusion.
    """
    from hub_tools.miniature.world import as_params, check_triplet, parse_question

    params = as_params(params)
    parsed = parse_question(question, params)
    if parsed is None:
        return {"type": "unknown", "grounded": False, "agree": None}
    kind = parsed[0]
    a, b = _value(kind, precise, True), _value(kind, informative, False)
    return {
        "type": kind,
        "grounded": bool(check_triplet(question, informative, precise, params)),
        "agree": a is not None and a == b,
    }


def diversity(types: list[str], domain: str = DEFAULT_DOMAIN) -> float:
    """Task diversity (0-100): the entropy of the question types, over the log of the count of ``domain``'s
    :data:`QUESTION_TYPES`.

    ``unknown`` questions count as one more type (they are questions all the same); 100 means all world
    question types in equal shares.
    """
    counts = Counter(types)
    n = sum(counts.values())
    if not n:
        return 0.0
    entropy = -sum(c / n * math.log(c / n) for c in counts.values())
    return round(100 * entropy / math.log(len(QUESTION_TYPES[domain])), 1)


def task_block(judged: list[dict], domain: str = DEFAULT_DOMAIN) -> dict:
    """Accuracy, agreement and diversity (0-100, over ``domain``'s question types) of judged tasks, with their counts."""
    n = len(judged)
    agreeable = [j for j in judged if j["agree"] is not None]
    return {
        "tasks": n,
        "accuracy": round(100 * sum(j["grounded"] for j in judged) / n, 1) if n else None,
        "agreement": round(100 * sum(j["agree"] for j in agreeable) / len(agreeable), 1) if agreeable else None,
        "judgeable": len(agreeable),
        "diversity": diversity([j["type"] for j in judged], domain),
    }


# ---------------------------------------------------------------------------------------------
# building the conditions
# ---------------------------------------------------------------------------------------------
def _general_rows(pool: list[dict], root: Path, data_dir: Path, n: int, seed: int) -> list[dict]:
    """``n`` general rows drawn from ``pool`` with ``seed`` (images copied under ``data_dir``): no domain word."""
    rows = [json.loads(json.dumps(r)) for r in pool]
    random.Random(f"seed-only-{seed}").shuffle(rows)
    rows = rows[:n]
    for row in rows:
        rel = row["images"][0]
        target = data_dir / rel
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / rel, target)
    return rows


def build_conditions(
    run_dir: Path,
    pairs_file: Path,
    data_dir: Path,
    general_pool: list[dict],
    general_root: Path,
    seed: int = 0,
    domain: str = DEFAULT_DOMAIN,
) -> dict:
    """Write every data condition's rows to ``data_dir/compose/<name>.jsonl``; return the per-task judgements too.

    ``pairs_file``: the domain pairs the run synthesized from (their ``params`` judge the tasks);
    ``general_pool``: general rows (images relative to ``general_root``) that ``seed-only`` draws from.

    Returns ``{"conditions": {name: {"file", "rows", "kinds", "sha256"}}, "filter": {"with", "without", "checker"},
    "task_sources": {"synthesizer", "rule-based"}}``.
    """
    from hub_tools.compose.rules import example_rng
    from hub_tools.compose.runner import caption_turns, compose_rows
    from hub_tools.miniature.world import load_pairs
    from hub_tools.rundir.accounting import collect_outcomes

    pairs = load_pairs(pairs_file)
    outcomes, _ = collect_outcomes(run_dir)
    # the pairs the method's data holds (kept, or caption only); pairs without a triplet are dropped, as released
    used = [out for out in outcomes if out.status in ("kept", "caption_only")]

    def moved(rows: list[dict]) -> list[dict]:
        for row in rows:
            row["images"] = [f"images/pairs/{Path(p).name}" for p in row["images"]]
        return rows

    two = compose_rows(used, mode="two-stage", seed=seed)
    rows: dict[str, list[dict]] = {
        "single-stage": moved(compose_rows(used, mode="single-stage", seed=seed)["train"]),
        "two-stage": moved(two["caption"] + two["task"]),
        "synthetic-only": moved(compose_rows(used, mode="single-stage", synthetic_only=True, seed=seed)["train"]),
    }
    for name in DATA_CONDITIONS:
        rows.setdefault(name, [])
    kept_judged, all_judged, rule_judged = [], [], []
    for out in used:
        row = out.row
        pid = row["id"]
        params = pairs[row["source"]["index"]]["params"]
        image = f"images/pairs/{Path(row['image']).name}"
        target = data_dir / image
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / row["image"], target)
        rows["caption-only"].append(_row(pid, "caption_only", image, caption_turns(row), 0))
        rows["seed+captions"].append(_row(pid, "caption_only", image, caption_turns(row), 0))
        t = row["triplets"][0]  # the one the released protocol judges and keeps
        judged = judge_task(t["question"], t["informative"], t["precise"], params)
        all_judged.append(judged)
        if out.status == "kept":
            kept_judged.append(judged)
        for answer in ("precise", "informative"):
            task = _turns(t["question"], t[answer])
            rows[f"no-filter-{answer}"].append(_mixed(pid, image, caption_turns(row), task, example_rng(seed, pid)))
        rules = rule_tasks(row["caption"])
        if rules:
            question, answer = random.Random(f"rule-{seed}-{pid}").choice(rules)
            rule_judged.append(judge_task(question, answer, answer, params))
            task = _turns(question, answer)
            rows["rule-based"].append(_mixed(pid, image, caption_turns(row), task, example_rng(seed, pid)))
        else:
            rows["rule-based"].append(_row(pid, "caption_only", image, caption_turns(row), 0))
    n_seed = len(rows["single-stage"])
    seed_pool = _general_rows(general_pool, general_root, data_dir, n_seed, seed)
    rows["seed-only"] = seed_pool[:n_seed]
    rows["seed+captions"] = seed_pool[:n_seed] + rows["seed+captions"]
    conditions = {}
    for name, items in rows.items():
        path = data_dir / "compose" / f"{name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items)
        path.write_text(text, encoding="utf-8")
        conditions[name] = {
            "file": str(path.relative_to(data_dir.parent)),
            "rows": len(items),
            "kinds": dict(Counter(r["kind"] for r in items)),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
    grounded_all = sum(j["grounded"] for j in all_judged)
    grounded_kept = sum(j["grounded"] for j in kept_judged)
    checker = {
        "kept": len(kept_judged),
        "judged": len(all_judged),
        "precision": round(100 * grounded_kept / len(kept_judged), 1) if kept_judged else None,
        "recall": round(100 * grounded_kept / grounded_all, 1) if grounded_all else None,
        "keeps_everything": bool(all_judged) and len(kept_judged) == len(all_judged),
    }
    return {
        "conditions": conditions,
        "filter": {
            "with": task_block(kept_judged, domain),
            "without": task_block(all_judged, domain),
            "checker": checker,
        },
        "task_sources": {"synthesizer": task_block(all_judged, domain), "rule-based": task_block(rule_judged, domain)},
    }
