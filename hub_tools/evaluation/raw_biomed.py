"""Readers of the biomedical raw releases: SLAKE, VQA-RAD, PathVQA (its pickle read with an unpickler that refuses
every class) and PMC-VQA."""

from __future__ import annotations

import csv
import os
import pickle
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from hub_tools.evaluation.raw_common import (
    MEDICAL_PROMPT,
    PMC_PROMPT,
    BenchRow,
    TaskSource,
    _answer_type,
    _find,
    _in_first_dir,
    _json_list,
    _safe_join,
    _text,
)
from hub_tools.publish.dataset import BuildError


def read_slake(root: str | os.PathLike) -> TaskSource:
    """SLAKE test split (English) from the ``Slake1.0`` release folder (or its ``test.json``)."""
    root = Path(root)
    path = _find(root, ["test.json", "Slake1.0/test.json"], "SLAKE")
    images = path.parent / "imgs"

    def rows():
        for i, rec in enumerate(_json_list(path)):
            where = f"SLAKE {path.name}[{i}]"
            if not isinstance(rec, dict):
                raise BuildError(f"{where}: not a JSON object")
            if rec.get("q_lang", "en") != "en":
                continue
            question = _text(rec.get("question"), where, "question")
            yield BenchRow(
                str(rec.get("qid", i)),
                _safe_join(images, _text(rec.get("img_name"), where, "img_name"), where),
                {
                    "input": MEDICAL_PROMPT.format(question=question),
                    "label": _text(rec.get("answer"), where, "answer"),
                    "answer_type": _answer_type(rec.get("answer_type"), where),
                },
            )

    return TaskSource(
        "SLAKE", "medical", rows(), "SLAKE 1.0 `test.json`, English questions", MEDICAL_PROMPT, "answer text"
    )


def read_vqa_rad(root: str | os.PathLike) -> TaskSource:
    """VQA-RAD test split (``phrase_type`` test_freeform / test_para) from the public release."""
    root = Path(root)
    path = _find(root, ["VQA_RAD Dataset Public.json"], "VQA-RAD")
    folder = path.parent
    image_dirs = [folder / "VQA_RAD Image Folder", folder / "images", folder]

    def rows():
        for i, rec in enumerate(_json_list(path)):
            where = f"VQA-RAD {path.name}[{i}]"
            if not isinstance(rec, dict):
                raise BuildError(f"{where}: not a JSON object")
            if not str(rec.get("phrase_type", "")).startswith("test"):
                continue
            image = _in_first_dir(image_dirs, _text(rec.get("image_name"), where, "image_name"), where)
            question = _text(rec.get("question"), where, "question")
            yield BenchRow(
                str(rec.get("qid", i)),
                image,
                {
                    "input": MEDICAL_PROMPT.format(question=question),
                    "label": _text(rec.get("answer"), where, "answer"),
                    "answer_type": _answer_type(rec.get("answer_type"), where),
                },
            )

    return TaskSource(
        "VQA_RAD", "medical", rows(), "VQA-RAD `VQA_RAD Dataset Public.json`, phrase_type test_*", MEDICAL_PROMPT,
        "answer text",
    )  # fmt: skip


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickles lists, dicts, strings and numbers only: any class or function reference is refused."""

    def find_class(self, module, name):
        raise BuildError(f"the pickle references {module}.{name}; only plain data (lists, dicts, strings) is read")


def _pathvqa_type(answer: str) -> str:
    return "CLOSED" if answer.strip().lower() in ("yes", "no") else "OPEN"


_SPACES = re.compile(r" +")


def pathvqa_text(text: str) -> str:
    """PathVQA question/answer text as the Hub copy holds it: lower-cased, runs of spaces collapsed, " ?" -> "?",
    stripped (the normalisation of the Hugging Face release the paper's benchmark was built from)."""
    return _SPACES.sub(" ", text.lower()).replace(" ?", "?").strip()


def read_pathvqa(root: str | os.PathLike) -> TaskSource:
    """PathVQA test split from the ``pvqa`` release (pickle) or the Hugging Face parquet files.

    As the Hub copy (6,719 rows): duplicate records of the pickle are dropped (counted as skipped), question
    and answer are normalised with :func:`pathvqa_text`.
    """
    root = Path(root)
    parquet = sorted(p for p in root.rglob("*.parquet") if "test" in p.name) if root.is_dir() else []
    if parquet:
        return TaskSource("PathVQA", "medical", _pathvqa_parquet(parquet), "PathVQA parquet release, test files",
                          MEDICAL_PROMPT, "answer text")  # fmt: skip
    path = _find(root, ["qas/test/test_qa.pkl", "pvqa/qas/test/test_qa.pkl", "test_qa.pkl"], "PathVQA")
    images = path.parents[2] / "images" / "test" if path.parent.name == "test" else path.parent / "images" / "test"
    skipped: Counter = Counter()

    def rows():
        with open(path, "rb") as fh:
            try:
                records = _PlainDataUnpickler(fh).load()
            except (pickle.UnpicklingError, EOFError) as err:
                raise BuildError(f"{str(path)!r} is not a readable pickle: {err}") from None
        if not isinstance(records, list):
            raise BuildError(f"{str(path)!r}: expected a list of records")
        seen = set()
        for i, rec in enumerate(records):
            where = f"PathVQA {path.name}[{i}]"
            if not isinstance(rec, dict):
                raise BuildError(f"{where}: not a record")
            key = tuple(sorted((str(k), repr(v)) for k, v in rec.items()))  # the whole raw record, before cleaning
            if key in seen:
                skipped["duplicate image-question-answer record"] += 1
                continue
            seen.add(key)
            name = _text(rec.get("image"), where, "image")
            answer = pathvqa_text(_text(rec.get("answer"), where, "answer"))
            question = pathvqa_text(_text(rec.get("question"), where, "question"))
            yield BenchRow(
                f"{name}-{i}",
                _safe_join(images, name if Path(name).suffix else f"{name}.jpg", where),
                {"input": MEDICAL_PROMPT.format(question=question), "label": answer,
                 "answer_type": _pathvqa_type(answer)},
            )  # fmt: skip

    return TaskSource(
        "PathVQA", "medical", rows(), "PathVQA `pvqa/qas/test/test_qa.pkl`, duplicate records dropped, lower-cased",
        MEDICAL_PROMPT, "answer text", skipped=skipped,
    )  # fmt: skip


def _pathvqa_parquet(files: list[Path]) -> Iterator[BenchRow]:
    import pyarrow.parquet as pq

    n = 0
    for path in files:
        pf = pq.ParquetFile(path)
        missing = {"image", "question", "answer"} - set(pf.schema_arrow.names)
        if missing:
            raise BuildError(f"{str(path)!r}: missing column(s) {sorted(missing)}")
        for batch in pf.iter_batches(batch_size=64, columns=["image", "question", "answer"]):
            for rec in batch.to_pylist():
                where = f"PathVQA {path.name} row {n}"
                image = rec["image"] or {}
                if not image.get("bytes"):
                    raise BuildError(f"{where}: the image has no embedded bytes")
                answer = pathvqa_text(_text(rec.get("answer"), where, "answer"))  # already so in that release
                question = pathvqa_text(_text(rec.get("question"), where, "question"))
                yield BenchRow(
                    str(n),
                    (image["bytes"], image.get("path") or f"{n}.jpg"),
                    {
                        "input": MEDICAL_PROMPT.format(question=question),
                        "label": answer,
                        "answer_type": _pathvqa_type(answer),
                    },
                )
                n += 1


_CHOICE_PREFIX = re.compile(r"^\s*\(?([A-D])\s*[:.)]\s*")


PMC_VQA_IMAGE_DIRS = ("images/figures", "images_2/figures", "images", "images_2", "figures")
"""Where the PMC-VQA figures are searched, in order: ``images.zip`` and ``images_2.zip`` unpack to ``figures/``."""


def read_pmc_vqa(root: str | os.PathLike) -> TaskSource:
    """PMC-VQA test split: ``test_clean.csv`` (the 2,000 rows of the Hub copy) and the figures folders.

    A figure is taken from the first of :data:`PMC_VQA_IMAGE_DIRS` (under the csv's folder, then the folder
    itself) that holds it. Another csv (``test_2.csv``) is read when ROOT is that file.
    """
    root = Path(root)
    path = _find(root, ["test_clean.csv"], "PMC-VQA")
    folder = path.parent
    image_dirs = [folder / d for d in PMC_VQA_IMAGE_DIRS] + [folder]

    def rows():
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            need = {"Figure_path", "Question", "Choice A", "Choice B", "Choice C", "Choice D", "Answer_label"}
            missing = need - set(reader.fieldnames or [])
            if missing:
                raise BuildError(f"{str(path)!r}: missing column(s) {sorted(missing)}")
            for i, rec in enumerate(reader):
                where = f"PMC-VQA {path.name} row {i + 2}"
                name = _text(rec["Figure_path"], where, "Figure_path")
                options = {}
                for key in "ABCD":
                    text = _text(rec[f"Choice {key}"], where, f"Choice {key}")
                    m = _CHOICE_PREFIX.match(text)
                    options[key] = text[m.end() :].strip() if m and m.group(1) == key else text
                label = _text(rec["Answer_label"], where, "Answer_label").upper()
                if label not in options:
                    raise BuildError(f"{where}: Answer_label {rec['Answer_label']!r} is not one of A-D")
                question = _text(rec["Question"], where, "Question")
                yield BenchRow(
                    f"{Path(name).stem}-{i}",
                    _in_first_dir(image_dirs, name, where),
                    {"input": PMC_PROMPT.format(question=question, **options), "label": label, **options},
                )

    return TaskSource(
        "PMC-VQA", "letters", rows(), f"PMC-VQA `{path.name}`", PMC_PROMPT, "letter of the correct option"
    )


BIOMED_READERS: dict[str, Callable[..., TaskSource]] = {
    "SLAKE": read_slake,
    "VQA_RAD": read_vqa_rad,
    "PathVQA": read_pathvqa,
    "PMC-VQA": read_pmc_vqa,
}
