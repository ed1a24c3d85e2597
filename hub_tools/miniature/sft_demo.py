"""Small composed SFT rows (TRL vision format) with drawn images: the data of the tiny recipe and the tests.

``adamllm train --write-demo-data DIR`` writes them; ``recipes/tiny`` trains on them.
"""

from __future__ import annotations

import os
from pathlib import Path

from hub_tools.miniature.world.draw import DEMO_COLORS, DEMO_SHAPES, draw_demo_shape

DEMO_ROWS_WRITER = "adamllm train --write-demo-data"


def write_demo_rows(out_dir: str | os.PathLike, num_rows: int = 16, seed: int = 0, split: str = "train") -> Path:
    """Write ``num_rows`` small composed rows (TRL vision format) and their images; return the JSONL path.

    Images are drawn shapes of known colour; rows cycle through ``caption+task`` (caption first or last,
    with ``caption_turn``), ``caption_only`` and ``task`` kinds, so single- and two-stage runs both have
    data. Layout: ``out_dir/images/<id>.png`` and ``out_dir/<split>.jsonl`` (paths relative to the file).
    """
    import json
    import random

    from hub_tools.rundir.ownership import claim, prepare_folder

    out = Path(out_dir)
    # new, empty, or demo rows written before (rewritten); anything else is refused in one line (OutputRefused)
    prepare_folder(out, DEMO_ROWS_WRITER, overwrite=True)
    claim(out, DEMO_ROWS_WRITER, ("images", f"{split}.jsonl"))
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rows = []
    for i in range(num_rows):
        color = list(DEMO_COLORS)[i % len(DEMO_COLORS)]
        shape = DEMO_SHAPES[(i // len(DEMO_COLORS)) % len(DEMO_SHAPES)]
        size = rng.choice([(56, 56), (84, 56), (56, 84)])
        image = draw_demo_shape(color, shape, size)
        row_id = f"demo-{i:04d}"
        image.save(out / "images" / f"{row_id}.png")
        caption_turn = [
            {"role": "user", "content": [{"type": "text", "text": "Describe the image."}]},
            {"role": "assistant", "content": [{"type": "text", "text": f"A {color} {shape} plate."}]},
        ]
        task_turn = [
            {"role": "user", "content": [{"type": "text", "text": "What color is the plate?"}]},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": f"The plate is {color}. So the answer is {color}."}],
            },
        ]
        kind = ("caption+task", "caption_only", "caption+task", "task")[i % 4]
        caption_first = rng.random() < 0.5
        if kind == "caption_only":
            turns, index = caption_turn, 0
        elif kind == "task":
            turns, index = task_turn, None
        else:
            turns = caption_turn + task_turn if caption_first else task_turn + caption_turn
            index = 0 if caption_first else 1
        messages = copy_messages(turns)
        messages[0]["content"] = [{"type": "image"}, *messages[0]["content"]]
        row = {"id": row_id, "kind": kind, "images": [f"images/{row_id}.png"], "messages": messages}
        if kind == "caption+task":
            row["caption_turn"] = index
        rows.append(row)
    path = out / f"{split}.jsonl"
    with path.open("w") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    return path


def copy_messages(messages: list[dict]) -> list[dict]:
    """A deep copy of messages (content parts copied)."""
    return [{"role": m["role"], "content": [dict(p) for p in m["content"]]} for m in messages]
