"""Training rows for the SFT recipe: loading, images and the two-stage split (the collator: ``collator.py``).

Rows are TRL's conversational vision format (``docs/run_dir.md``, "compose rows"): ``images`` (a list of
paths, ``PIL`` images or ``{"bytes", "path"}`` dicts) and ``messages`` whose ``content`` is a list of
``{"type": "image"}`` / ``{"type": "text", "text": ...}`` parts. ShareGPT rows (string content with
``<image>`` markers, LLaMA-Factory's layout) are converted on the fly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from hub_tools.data import IMAGE_MARKER, load_image

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
CAPTION_KINDS = {"caption_only"}
TASK_KINDS = {"task"}
MIXED_KIND = "caption+task"


# ---------------------------------------------------------------------------------------------
# messages and images
# ---------------------------------------------------------------------------------------------
def _text_parts(text: str) -> list[dict]:
    """Split ShareGPT text with ``<image>`` markers into image and text parts."""
    parts: list[dict] = []
    pieces = text.split(IMAGE_MARKER)
    for i, piece in enumerate(pieces):
        if i > 0:
            parts.append({"type": "image"})
        piece = piece.strip("\n") if i > 0 or len(pieces) > 1 else piece
        if piece:
            parts.append({"type": "text", "text": piece})
    return parts


def normalize_messages(messages: Iterable[dict]) -> list[dict]:
    """Return messages as ``{"role", "content": [parts]}`` with parts free of ``None`` values.

    Accepts TRL rows (content parts), string content (``<image>`` markers become image parts) and
    ShareGPT ``{"from", "value"}`` turns. ``datasets`` fills missing struct keys with ``None``
    (an image part gets ``"text": None``); those keys are dropped so chat templates see clean parts.
    """
    out = []
    for message in messages:
        role = message.get("role") or SHAREGPT_ROLES.get(message.get("from", ""), message.get("from"))
        if role not in ("user", "assistant", "system"):
            raise ValueError(f"unsupported message role {role!r} in {message!r}")
        content = message.get("content", message.get("value"))
        if content is None:
            parts = []
        elif isinstance(content, str):
            parts = _text_parts(content)
        else:
            parts = []
            for part in content:
                part = {k: v for k, v in dict(part).items() if v is not None}
                kind = part.get("type")
                if kind not in ("image", "text"):
                    raise ValueError(f"unsupported content part {part!r} (expected type image or text)")
                if kind == "image":
                    part = {"type": "image"}  # the pixels travel in the row's `images` column
                parts.append(part)
        out.append({"role": role, "content": parts})
    return out


def count_image_parts(messages: list[dict]) -> int:
    """Number of ``{"type": "image"}`` parts in normalized messages."""
    return sum(1 for m in messages for p in m["content"] if p["type"] == "image")


def cap_image_side(image, max_side: int | None):
    """Shrink ``image`` so its longer side is at most ``max_side`` pixels, keeping the aspect ratio.

    LLaMA-Factory v0.9.0's ``image_resolution``: both sides scaled by ``max_side / longer side`` and floored,
    nearest-neighbour resampling. Smaller images and ``max_side=None`` leave the image as it is. The area cap of
    v0.9.1 (what the released students used) is ``image_max_pixels``: :mod:`hub_tools.data.image_size`.
    """
    from hub_tools.data.image_size import ImageSize

    return image if max_side is None else ImageSize(max_side=max_side)(image)


def example_images(example: dict, max_side=None) -> list:
    """The images of one row (``images`` list, or a single ``image``), opened by :func:`hub_tools.data.load_image`.

    ``max_side`` is the image-size policy applied to each image before any processor sees it: an
    :class:`hub_tools.data.image_size.ImageSize` (``image_max_pixels`` / ``image_min_pixels``), an ``int`` (the
    older longer-side cap, :func:`cap_image_side`) or ``None``.
    """
    from hub_tools.data.image_size import apply

    values = example.get("images")
    if values is None and example.get("image") is not None:
        values = [example["image"]]
    return [apply(load_image(v), max_side) for v in (values or [])]


# ---------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------
def find_jsonl(path: str | os.PathLike, split: str) -> Path:
    """Locate the JSONL file of ``split`` for ``path``: a file, a RUN_DIR (``compose/<split>.jsonl``) or a folder."""
    path = Path(path)
    if path.is_file():
        return path
    for candidate in (path / "compose" / f"{split}.jsonl", path / f"{split}.jsonl"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no rows for split {split!r} under {path}: expected a .jsonl file, {path}/compose/{split}.jsonl "
        f"or {path}/{split}.jsonl"
    )


def resolve_image_path(value: str, roots: list[Path]) -> str:
    """Resolve a row's relative image path, tried under each of ``roots`` in turn (the first existing file wins).

    The path policy is :func:`hub_tools.data.resolve_image_path`'s (:class:`hub_tools.data.BadInput` for an
    absolute path, NUL or line break, or one escaping the dataset), with the last root as the dataset root; a
    missing file raises ``FileNotFoundError`` naming the path.
    """
    from hub_tools.data import BadInput
    from hub_tools.data import resolve_image_path as resolve_inside

    dataset_root = roots[-1]
    for root in roots:
        relative = value
        if value.strip() and not os.path.isabs(value) and not value.startswith("~"):
            relative = os.path.relpath(os.path.join(root, value), dataset_root)
        try:
            candidate = resolve_inside(relative, dataset_root)
        except BadInput as err:  # name the path as the row wrote it
            raise BadInput(err.reason.replace(repr(relative), repr(value), 1)) from None
        if candidate.is_file():
            return str(candidate)
    raise FileNotFoundError(f"image {value!r} not found under {', '.join(str(r) for r in roots)}")


def load_jsonl_rows(path: str | os.PathLike, split: str = "train"):
    """Load TRL rows from a JSONL file or RUN_DIR as a ``datasets.Dataset`` with absolute image paths.

    The dataset folder is the file's folder, or the RUN_DIR for a run's ``compose/<split>.jsonl`` (kept next to
    ``images/``, paths relative to RUN_DIR). Image paths (strings, or cells with a path and no bytes) resolve
    against the file's folder, then the dataset folder, never outside it (:func:`resolve_image_path`). A
    missing image is an error naming the path.
    """
    from datasets import load_dataset

    file = find_jsonl(path, split)
    folder = file.parent.resolve()
    roots = [folder, folder.parent] if folder.name == "compose" else [folder]
    dataset = load_dataset("json", data_files=str(file), split="train")
    if "messages" not in dataset.column_names:
        raise ValueError(f"{file}: rows need a 'messages' column (found {dataset.column_names})")
    if "images" in dataset.column_names:

        def _resolve(batch):
            return {"images": [[_resolve_cell(v, roots) for v in (images or [])] for images in batch["images"]]}

        dataset = dataset.map(_resolve, batched=True, desc="resolving image paths")
    return dataset


def _resolve_cell(value, roots: list[Path]):
    """A JSONL row's image: a path (a string, or a ``{"path"}`` cell without bytes) resolved; others as they are."""
    if isinstance(value, dict) and not value.get("bytes") and value.get("path") is not None:
        value = value["path"]
    return resolve_image_path(value, roots) if isinstance(value, str) else value


def resolve_image_cells(dataset, root: Path):
    """``dataset`` with every ``Image`` cell that has a path and no bytes resolved inside ``root`` and embedded.

    The image-path policy (:func:`hub_tools.data.resolve_image`) applied before ``datasets`` would open such a
    path itself. Cells are found in Arrow without decoding; a dataset whose images are all embedded comes back
    as it is.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from datasets import Image

    from hub_tools.data import resolve_image

    for column in ("images", "image"):
        feature = dataset.features.get(column)
        inner = getattr(feature, "feature", feature)
        if not isinstance(inner, Image):
            continue
        cells = dataset.data.column(column)
        if inner is not feature:
            cells = pc.list_flatten(cells)
        cells = cells.combine_chunks() if isinstance(cells, pa.ChunkedArray) else cells
        path_only = pc.and_(cells.field("bytes").is_null(), cells.field("path").is_valid())
        if not pc.any(path_only).as_py():
            continue

        def embed(cell):
            if cell is None or cell.get("bytes"):
                return cell
            path = resolve_image(cell, root)
            return {"bytes": Path(path).read_bytes(), "path": path}

        raw = Image(decode=False)
        undecoded = dataset.cast_column(column, raw if inner is feature else type(feature)(raw))

        def fn(batch, column=column, listed=inner is not feature):
            cells = batch[column]
            return {column: [[embed(c) for c in (row or [])] if listed else embed(row) for row in cells]}

        dataset = undecoded.map(fn, batched=True, desc="resolving image paths").cast_column(column, feature)
    return dataset


def load_rows(
    dataset_name: str | None = None,
    dataset_config: str | None = None,
    dataset_split: str = "train",
    dataset_dir: str | None = None,
):
    """Load training rows from a local JSONL/RUN_DIR (``dataset_dir``) or a Hub dataset (id or folder)."""
    if dataset_dir:
        return load_jsonl_rows(dataset_dir, dataset_split)
    if not dataset_name:
        raise ValueError("set dataset_name (a Hub dataset id or folder) or dataset_dir (a JSONL file or RUN_DIR)")
    from datasets import load_dataset

    from hub_tools.data import dataset_image_root

    dataset = load_dataset(dataset_name, dataset_config, split=dataset_split)
    if "messages" not in dataset.column_names:
        raise ValueError(
            f"dataset {dataset_name!r} (config {dataset_config!r}, split {dataset_split!r}) has no 'messages' "
            f"column (found {dataset.column_names})"
        )
    return resolve_image_cells(dataset, dataset_image_root(dataset_name))


# ---------------------------------------------------------------------------------------------
# two-stage split
# ---------------------------------------------------------------------------------------------
def conversation_turns(messages: list[dict]) -> list[tuple[int, int]]:
    """``[start, end)`` message ranges of each turn: user/system messages followed by assistant messages."""
    turns, start = [], 0
    for i, message in enumerate(messages):
        last = i == len(messages) - 1
        if message["role"] == "assistant" and (last or messages[i + 1]["role"] != "assistant"):
            turns.append((start, i + 1))
            start = i + 1
    if start < len(messages):
        raise ValueError(f"conversation ends without an assistant answer: {messages[start:]!r:.200}")
    return turns


def _turn_text(messages: list[dict], turn: tuple[int, int], role: str) -> str:
    return "".join(
        p.get("text", "") for m in messages[turn[0] : turn[1]] if m["role"] == role for p in m["content"]
    ).strip()


def _extract_turns(messages: list[dict], keep: list[tuple[int, int]]) -> list[dict]:
    """Messages of the ``keep`` turns, with every image part moved to the front of the first user message."""
    images = [{"type": "image"}] * count_image_parts(messages)
    out = []
    for start, end in keep:
        for m in messages[start:end]:
            out.append({"role": m["role"], "content": [p for p in m["content"] if p["type"] != "image"]})
    first_user = next(m for m in out if m["role"] == "user")
    first_user["content"] = images + first_user["content"]
    return out


def caption_turn_index(example: dict, messages: list[dict], turns: list[tuple[int, int]]) -> int:
    """Which turn of a ``caption+task`` row is the caption turn.

    Uses the row's ``caption_turn`` (turn index) when present, else the turn whose assistant text equals
    the row's ``caption``. Raises when neither identifies it.
    """
    if example.get("caption_turn") is not None:
        index = int(example["caption_turn"])
        if not 0 <= index < len(turns):
            raise ValueError(f"row {example.get('id')!r}: caption_turn {index} out of range ({len(turns)} turns)")
        return index
    caption = (example.get("caption") or "").strip()
    if caption:
        for index, turn in enumerate(turns):
            if _turn_text(messages, turn, "assistant") == caption:
                return index
    raise ValueError(
        f"row {example.get('id')!r} is kind {MIXED_KIND!r} but carries neither 'caption_turn' nor a 'caption' "
        "matching one of its answers, so its caption turn cannot be told apart for two-stage training. "
        "Compose with two-stage mode (separate caption and task sets) or pass stage1_dataset_* arguments."
    )


def split_two_stage(rows: Iterable[dict]) -> tuple[list[dict], list[dict]]:
    """Split composed rows into stage-1 (caption) and stage-2 (task) rows.

    ``caption_only`` rows go to stage 1, ``task`` rows to stage 2, and a ``caption+task`` row is cut into
    its caption turn (stage 1) and its other turns (stage 2); both halves keep the image. A row without a
    known ``kind`` is an error (never dropped silently).
    """
    stage1, stage2 = [], []
    for example in rows:
        kind = example.get("kind")
        messages = normalize_messages(example["messages"])
        base = {"images": example.get("images") or [], "id": example.get("id")}
        if kind in CAPTION_KINDS:
            stage1.append({**base, "messages": messages, "kind": kind})
        elif kind in TASK_KINDS:
            stage2.append({**base, "messages": messages, "kind": kind})
        elif kind == MIXED_KIND:
            turns = conversation_turns(messages)
            index = caption_turn_index(example, messages, turns)
            others = [t for i, t in enumerate(turns) if i != index]
            stage1.append({**base, "messages": _extract_turns(messages, [turns[index]]), "kind": "caption_only"})
            if others:
                stage2.append({**base, "messages": _extract_turns(messages, others), "kind": "task"})
        else:
            raise ValueError(
                f"row {example.get('id')!r}: kind {kind!r} is not one of caption_only, task, {MIXED_KIND} "
                "(two-stage training needs it)"
            )
    return stage1, stage2


def rows_to_dataset(rows: list[dict]):
    """A ``datasets.Dataset`` from rows (images kept as given: paths or ``PIL`` images)."""
    from datasets import Dataset

    return Dataset.from_list(rows)
