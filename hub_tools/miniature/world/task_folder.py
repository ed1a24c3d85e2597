"""The miniature benchmarks' task folders in the evaluation schema, written the same way for both worlds: one row per
drawn image (``id``, ``image``, the task's fields, ``params`` as a JSON string), ``test.jsonl`` and, for a task with
a closed class list, ``vocabulary.json``."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hub_tools.miniature.world.draw import draw, png_bytes
from hub_tools.miniature.world.params import Params, params_to_dict


def bench_row(
    folder: Path, task: str, index: int, params: Params, rng: random.Random, size: int, fields: dict
) -> dict:
    """Draw ``params`` into ``folder/images/<task>_<index>.png`` (``rng`` goes on drawing) and return its row."""
    rel = f"images/{task.lower()}_{index:04d}.png"
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(draw(params, rng, size)))
    return {"id": f"{task}-{index:04d}", "image": rel, **fields, "params": json.dumps(params_to_dict(params))}


def write_task_folder(folder: Path, rows: list[dict], vocabulary: list[str] | None = None) -> int:
    """Write ``folder/test.jsonl`` (and ``vocabulary.json`` when given); returns the number of rows."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    (folder / "test.jsonl").write_text(lines, encoding="utf-8")
    if vocabulary is not None:
        text = json.dumps(vocabulary, indent=1, ensure_ascii=False) + "\n"
        (folder / "vocabulary.json").write_text(text, encoding="utf-8")
    return len(rows)
