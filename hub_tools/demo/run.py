"""One pair through the three stages (synthesize, judge, compose) and how the result is shown (table rows, chat,
summary, the example JSON)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRIPLET_HEADERS = ["instruction", "informative", "precise", "verdict", "P(Yes)", "P(No)", "P(Open)"]
TRIPLET_COLUMN_WIDTHS = ["19%", "26%", "12%", "12%", "10%", "9%", "12%"]
"""The triplet table's column widths: at 80 columns each header fits on one line (tests/test_demo_output.py)."""
NO_TRIPLET_MESSAGE = "No complete task triplet in the generation"
DEMO_SEED = 0


def synthesize_one(engine, image, caption: str, max_new_tokens: int) -> tuple[str, list]:
    """Raw generation and parsed triplets for one pair with ``engine`` (a :class:`TransformersEngine`)."""
    from hub_tools.synthesis import parse_triplets

    engine.max_new_tokens = int(max_new_tokens)
    generation = engine.generate([(image, caption, None)])[0]
    return generation, parse_triplets(generation, turn_format=engine.turn_format)


def judge_triplets(checker, triplets: Sequence) -> list[dict]:
    """Verdicts ``{"label", "probs"}`` of ``checker`` for ``triplets`` (objects or dicts), in order."""
    from hub_tools.filtering import Item

    items = [Item(**_triplet_dict(t)) for t in triplets]
    return checker.judge(items) if items else []


def _triplet_dict(t: Any) -> dict:
    if isinstance(t, dict):
        return {"question": t["question"], "informative": t["informative"], "precise": t["precise"]}
    return {"question": t.question, "informative": t.informative, "precise": t.precise}


def example_id(image, caption: str) -> str:
    """A stable id for a demo pair: a hash of the RGB pixels and the caption."""
    from hub_tools.data import make_id

    digest = hashlib.sha1()
    digest.update(f"{image.size}".encode())
    digest.update(image.tobytes())
    digest.update(caption.encode())
    return make_id("demo", digest.hexdigest()[:16])


def compose_example(pid: str, caption: str, kept: Sequence, seed: int = DEMO_SEED) -> dict:
    """One single-stage training row (TRL conversational vision format) for the pair.

    The per-example rng draws the caption position first, then one template per kept task (the same
    draws, in the same order, as :func:`hub_tools.compose.compose_rows`, so one kept task gives the
    pipeline's row). No kept task -> the caption turn alone (``kind="caption_only"``).
    """
    from hub_tools.compose import compose_task, example_rng
    from hub_tools.defaults import CAPTION_PROMPT

    rng = example_rng(seed, pid)
    caption_first = rng.random() < 0.5
    cap = _turns(CAPTION_PROMPT, caption)
    tasks: list[dict] = []
    for t in kept:
        d = _triplet_dict(t)
        turn = compose_task(d["question"], d["informative"], d["precise"], rng)
        tasks += _turns(turn.user, turn.assistant)
    messages = (cap + tasks if caption_first else tasks + cap) if tasks else cap
    messages[0]["content"] = [{"type": "image"}, *messages[0]["content"]]
    return {
        "id": pid,
        "kind": "caption+task" if tasks else "caption_only",
        "caption_turn": 0 if caption_first or not tasks else len(tasks) // 2,
        "images": [f"images/{pid}.png"],
        "messages": messages,
    }


def _turns(user: str, assistant: str) -> list[dict]:
    return [
        {"role": "user", "content": [{"type": "text", "text": user}]},
        {"role": "assistant", "content": [{"type": "text", "text": assistant}]},
    ]


@dataclass
class DemoResult:
    """Everything one demo run produced."""

    example_id: str
    generation: str
    triplets: list  # every complete triplet parsed from the generation
    verdicts: list[dict]  # verdicts of the first n_tasks triplets, in order
    kept: list  # judged Yes
    example: dict
    checker: str
    n_tasks: int
    notes: list[str] = field(default_factory=list)


def run_pair(
    image,
    caption: str,
    n_tasks: int,
    generate: Callable[[Any, str], tuple[str, list]],
    judge: Callable[[list], list[dict]],
    checker_name: str,
    seed: int = DEMO_SEED,
) -> DemoResult:
    """Synthesize, judge the first ``n_tasks`` triplets, keep the ``Yes`` ones and compose the example.

    ``generate(image, caption) -> (generation, triplets)`` and ``judge(triplets) -> verdicts`` are the
    model calls (see :func:`synthesize_one`, :func:`judge_triplets`).
    """
    pid = example_id(image, caption)
    generation, triplets = generate(image, caption)
    judged = list(triplets[:n_tasks])
    verdicts = judge(judged) if judged else []
    if len(verdicts) != len(judged):
        raise RuntimeError(f"the checker returned {len(verdicts)} verdicts for {len(judged)} triplets")
    kept = [t for t, v in zip(judged, verdicts) if v["label"] == "Yes"]
    example = compose_example(pid, caption, kept, seed=seed)
    return DemoResult(pid, generation, list(triplets), verdicts, kept, example, checker_name, n_tasks)


# ---------------------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------------------
def _prob(verdict: dict, label: str) -> float | None:
    probs = verdict.get("probs")
    return round(float(probs[label]), 3) if probs else None


def triplet_rows(result: DemoResult) -> list[list]:
    """Table rows (see :data:`TRIPLET_HEADERS`) of the judged triplets; probabilities ``None`` for lexical."""
    rows = []
    for t, v in zip(result.triplets, result.verdicts):
        d = _triplet_dict(t)
        rows.append(
            [d["question"], d["informative"], d["precise"], v["label"]] + [_prob(v, k) for k in ("Yes", "No", "Open")]
        )
    return rows


def chat_messages(example: dict, image_path: str | None) -> list[dict]:
    """The example's messages for ``gr.Chatbot`` (messages format): the image part becomes ``{"path": ...}``."""
    out = []
    for msg in example["messages"]:
        parts: list[Any] = []
        for part in msg["content"]:
            if part["type"] == "image":
                if image_path:
                    parts.append({"path": str(image_path)})
            else:
                parts.append({"type": "text", "text": part["text"]})
        out.append({"role": msg["role"], "content": parts})
    return out


def summary_markdown(result: DemoResult) -> str:
    """A short account of what happened: triplets parsed, judged, kept, and the example's kind."""
    n = len(result.triplets)
    lines = []
    if n == 0:
        lines.append(
            f"**{NO_TRIPLET_MESSAGE}.** The composed example is the caption turn alone "
            "(the method's rule for images without a kept task)."
        )
    else:
        judged = len(result.verdicts)
        labels = ", ".join(v["label"] for v in result.verdicts)
        which = "judged" if judged == n else f"the first {judged} judged"
        lines.append(
            f"**{n} complete task triplet{'s' if n != 1 else ''}** in the generation; "
            f"{which} by the {result.checker} ({labels}); "
            f"**{len(result.kept)} kept** (verdict Yes)."
        )
        if not result.kept:
            lines.append("No task was judged consistent, so the composed example is the caption turn alone.")
        else:
            lines.append(
                f"The composed single-stage example holds the caption turn and {len(result.kept)} task turn(s)."
            )
    return "\n\n".join(lines + result.notes)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def printable_generation(text: str) -> str:
    """The raw generation with control characters shown as ``\\xNN`` (tiny models emit arbitrary bytes)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def write_example_json(result: DemoResult, out_dir: str | os.PathLike) -> Path:
    """Write the composed example (a compose row) as JSON into ``out_dir``; return the file path."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"example-{result.example_id}.json"
    path.write_text(json.dumps(result.example, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def publish_example_json(result: DemoResult, keep: Callable[[Path], str]) -> str:
    """Offer the composed example as a download without leaving a folder behind; return ``keep``'s path.

    The JSON is written into a fresh ``adamllm-demo-*`` temporary folder, ``keep(path)`` copies it to where
    the server serves files from (the Space passes gradio's cache, which ``delete_cache`` can age out) and
    returns the copy's path; the folder is removed before this returns, also when writing or ``keep`` fails.
    """
    with tempfile.TemporaryDirectory(prefix="adamllm-demo-") as folder:
        return keep(write_example_json(result, folder))
