"""The remote-sensing domain (AdaMLLM paper v4): benchmark repo, task names, class lists, prompts and raw readers.

What could and could not be verified about ``AdaptLLM/remote-sensing-VQA-benchmark`` is in
``docs/benchmarks.md`` ("Remote sensing"). In short: the repo, its size (~24.8K rows) and its parquet
conversion were seen in public listings; its configs and columns were NOT (the card could not be read here).
The four task names below are those the paper's remote-sensing table reports (CLRS, UC Merced, FloodNet,
NWPU-Captions) as we remember them, and the rows are assumed to follow the other AdaMLLM benchmarks' schema
(``image``, ``input``, ``label``). A Hub copy that differs fails loudly at load time, naming the column or label.

Raw readers (``adamllm build-benchmark remote-sensing``) rebuild the scene-classification tasks from their
public image-folder releases and NWPU-Captions from its ``dataset_nwpu.json``; prompts are our own wording.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

REMOTE_SENSING_DOMAIN = "remote-sensing"
REMOTE_SENSING_REPO = "AdaptLLM/remote-sensing-VQA-benchmark"
REMOTE_SENSING_INSTRUCTIONS_REPO = "AdaptLLM/remote-sensing-visual-instructions"

# The public class lists of the two scene-classification releases (folder names of the archives).
CLRS_CLASSES: tuple[str, ...] = (
    "airport", "bare-land", "beach", "bridge", "commercial", "desert", "farmland", "forest", "golf-course",
    "highway", "industrial", "meadow", "mountain", "overpass", "park", "parking", "playground", "port",
    "railway", "railway-station", "residential", "river", "runway", "stadium", "storage-tank",
)  # fmt: skip
UC_MERCED_CLASSES: tuple[str, ...] = (
    "agricultural", "airplane", "baseballdiamond", "beach", "buildings", "chaparral", "denseresidential",
    "forest", "freeway", "golfcourse", "harbor", "intersection", "mediumresidential", "mobilehomepark",
    "overpass", "parkinglot", "river", "runway", "sparseresidential", "storagetanks", "tenniscourt",
)  # fmt: skip
BUNDLED_CLASSES: dict[str, tuple[str, ...]] = {"CLRS": CLRS_CLASSES, "UC_Merced": UC_MERCED_CLASSES}

# prompt templates of the rebuilt benchmark (the ``input`` column); our own wording
SCENE_PROMPT = (
    "What kind of scene does this aerial image show? Choose one of the following categories and reply with its "
    "name only: {classes}."
)
CAPTION_PROMPT = "Describe this aerial image in one sentence."
FLOODNET_PROMPT = "{question}\nAnswer the question based on the aerial image."

CLOSED_ANSWERS = ("yes", "no")


def label_key(name: str) -> str:
    """A class name reduced to lower-case letters and digits (``Dense Residential`` == ``denseresidential``)."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def display_name(name: str) -> str:
    """A folder-style class name as shown in prompts and options (``-`` / ``_`` as spaces)."""
    return re.sub(r"[-_]+", " ", name).strip()


def scene_vocabulary(task_name: str, folders: list[Path]) -> tuple[list[str], str]:
    """The class names of a scene-classification task and where they came from.

    ``vocabulary.json`` (a JSON list of names) in the task folder or the benchmark folder wins (the rebuilt
    benchmark and the miniature write one); otherwise the release's public class list bundled here.
    """
    for folder in folders:
        path = folder / "vocabulary.json"
        if path.is_file():
            names = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"{path}: must hold a JSON list of class names")
            if len({label_key(n) for n in names}) != len(names):
                raise ValueError(f"{path}: lists a class twice")
            return names, str(path)
    if task_name not in BUNDLED_CLASSES:
        raise ValueError(f"{task_name}: no vocabulary.json found in {[str(f) for f in folders]}")
    return [display_name(n) for n in BUNDLED_CLASSES[task_name]], "bundled"


def answer_type(label: str) -> str:
    """FloodNet-style VQA has no answer-type column we could verify: a yes/no label is CLOSED, any other OPEN."""
    return "CLOSED" if str(label).strip().lower() in CLOSED_ANSWERS else "OPEN"


# ---------------------------------------------------------------------------------------------
# raw readers (``adamllm build-benchmark remote-sensing``)
# ---------------------------------------------------------------------------------------------
_IMAGE_SUFFIXES = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp"}


def _scene_reader(task_name: str, release: str) -> Callable:
    def read(root: str | os.PathLike):
        """A scene-classification release laid out as ``<class>/<image>`` folders (every image is a test row)."""
        from hub_tools.evaluation.raw_common import BenchRow, TaskSource
        from hub_tools.publish.dataset import BuildError

        root = Path(root)
        if not root.is_dir():
            raise BuildError(f"{release}: {str(root)!r} is not a folder")
        base = root
        for sub in ("Images", "images", task_name):  # UCMerced_LandUse/Images/<class>/..., CLRS/<class>/...
            if (root / sub).is_dir() and not any(p.is_file() for p in (root / sub).iterdir()):
                base = root / sub
                break
        class_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not p.is_symlink())
        if not class_dirs:
            raise BuildError(f"{release}: no class folders under {str(base)!r}")
        names = [display_name(p.name) for p in class_dirs]
        prompt = SCENE_PROMPT.replace("{classes}", ", ".join(names))

        def rows():
            for folder, name in zip(class_dirs, names):
                for image in sorted(folder.iterdir()):
                    if image.is_file() and not image.is_symlink() and image.suffix.lower() in _IMAGE_SUFFIXES:
                        yield BenchRow(f"{folder.name}/{image.name}", image, {"input": prompt, "label": name})

        return TaskSource(task_name, "label", rows(), f"{release} class folders (every image)", SCENE_PROMPT,
                          "class name", vocabulary=names)  # fmt: skip

    read.__name__ = f"read_{task_name.lower()}"
    return read


read_clrs = _scene_reader("CLRS", "CLRS")
read_uc_merced = _scene_reader("UC_Merced", "UC Merced Land Use")


def read_nwpu_captions(root: str | os.PathLike):
    """NWPU-Captions ``dataset_nwpu.json`` (``{class: [{"filename", "split", "raw", ...}]}``), split ``test``.

    The label is the first reference sentence (``raw``); images are ``<class>/<filename>`` under the image
    folder beside the JSON (``NWPU-RESISC45/`` or ``images/``). The layout is the public release's as we know it,
    not checked against a copy here.
    """
    from hub_tools.evaluation.raw_common import BenchRow, TaskSource, _find, _safe_join
    from hub_tools.publish.dataset import BuildError

    root = Path(root)
    path = _find(root, ["dataset_nwpu.json"], "NWPU-Captions")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BuildError(f"{str(path)!r} is not valid JSON: {err.msg}") from None
    if not isinstance(data, dict):
        raise BuildError(f"{str(path)!r}: expected a JSON object of class -> records")
    images = next((path.parent / d for d in ("NWPU-RESISC45", "images", "Images") if (path.parent / d).is_dir()),
                  path.parent)  # fmt: skip

    def rows():
        for cls in sorted(data):
            for i, rec in enumerate(data[cls]):
                if not isinstance(rec, dict) or rec.get("split") != "test":
                    continue
                where = f"NWPU-Captions {cls}[{i}]"
                caption = str(rec.get("raw") or "").strip()
                if not caption or not rec.get("filename"):
                    raise BuildError(f"{where}: missing 'raw' caption or 'filename'")
                image = _safe_join(images, f"{cls}/{rec['filename']}", where)
                yield BenchRow(f"{cls}/{rec['filename']}", image, {"input": CAPTION_PROMPT, "label": caption})

    return TaskSource("NWPU-Captions", "label", rows(), "NWPU-Captions `dataset_nwpu.json`, split test",
                      CAPTION_PROMPT, "caption (first reference)")  # fmt: skip


REMOTE_SENSING_READERS: dict[str, Callable] = {
    "CLRS": read_clrs,
    "UC_Merced": read_uc_merced,
    "NWPU-Captions": read_nwpu_captions,
}
"""Raw readers by config name (FloodNet's VQA release has no reader yet: its layout was not verified)."""
