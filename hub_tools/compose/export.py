"""LLaMA-Factory export of composed rows: ShareGPT JSON + ``dataset_info.json`` under ``RUN_DIR/compose/llamafactory``."""

from __future__ import annotations

import os
from pathlib import Path

from hub_tools.rundir import write_json_atomic

LLAMAFACTORY_IMAGE = "<image>"


def _content_text(content: list[dict]) -> str:
    """Join content parts into one string; an image followed by more content is written ``<image>\\n``."""
    pieces = []
    for i, part in enumerate(content):
        if part["type"] == "image":
            pieces.append(LLAMAFACTORY_IMAGE + ("\n" if i + 1 < len(content) else ""))
        else:
            pieces.append(part.get("text", ""))
    return "".join(pieces)


def to_sharegpt(row: dict, image_prefix: str = "") -> dict:
    """One compose row as LLaMA-Factory ShareGPT: string contents, ``<image>\\n`` opening the first user turn.

    As released: the first user message reads ``"<image>\\nQuestion..."``.
    """
    messages = [{"role": msg["role"], "content": _content_text(msg["content"])} for msg in row["messages"]]
    return {"messages": messages, "images": [image_prefix + p for p in row["images"]]}


def llamafactory_dataset_info(splits: list[str], prefix: str = "adamllm") -> dict:
    """``dataset_info.json`` entries for the exported splits (``formatting: sharegpt`` + OpenAI-style tags)."""
    return {
        f"{prefix}_{split}": {
            "file_name": f"{split}.json",
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
        }
        for split in splits
    }


def export_llamafactory(run_dir: str | os.PathLike, splits: dict[str, list[dict]]) -> Path:
    """Write ``RUN_DIR/compose/llamafactory/{<split>.json, dataset_info.json}``.

    Image paths are written relative to that folder (``../../images/<id>.<ext>``), which is where
    LLaMA-Factory looks by default (``media_dir`` defaults to ``dataset_dir``): train with
    ``dataset_dir: RUN_DIR/compose/llamafactory`` and ``dataset: adamllm_<split>``.
    """
    out = Path(run_dir) / "compose" / "llamafactory"
    out.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        data = [to_sharegpt(r, image_prefix="../../") for r in rows]
        write_json_atomic(out / f"{split}.json", data)
    write_json_atomic(out / "dataset_info.json", llamafactory_dataset_info(list(splits)))
    return out
