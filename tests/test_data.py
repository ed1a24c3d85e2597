"""Pair readers: every bad-input kind is rejected with its reason; readers stream."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from PIL import Image

from hub_tools.data import (
    BadInput,
    ImageCaptionPair,
    Rejection,
    iter_json_array,
    load_image,
    read_pairs,
    resolve_image_path,
)


def _pair(image: str, caption="A caption.", prompt="<image>Describe the image.") -> dict:
    return {
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": caption}],
        "images": [image],
    }


@pytest.fixture
def bad_inputs(tmp_path):
    """A ShareGPT JSON file with one record of every bad-input kind, plus good and convertible ones."""
    img = tmp_path / "img"
    img.mkdir()
    Image.new("RGB", (32, 32), (10, 200, 10)).save(img / "ok.png")
    Image.new("CMYK", (32, 32), (0, 100, 200, 0)).save(img / "cmyk.jpg")
    Image.new("P", (32, 32), 3).save(img / "palette.png")
    Image.new("LA", (32, 32), (100, 128)).save(img / "la.png")
    Image.new("I;16", (32, 32), 40000).save(img / "deep.png")
    (img / "empty.png").write_bytes(b"")
    full = (img / "ok.png").read_bytes()
    (img / "truncated.png").write_bytes(full[: len(full) // 2])
    (img / "garbage.png").write_bytes(b"this is not an image at all" * 10)
    Image.new("L", (3000, 3000)).save(img / "huge.png")  # 9 MP > the 4 MP cap used below
    (tmp_path / "secret.png").write_bytes(full)
    records = [
        _pair("img/ok.png"),
        _pair("img/cmyk.jpg"),
        _pair("img/palette.png"),
        _pair("img/la.png"),
        _pair("img/deep.png"),
        _pair("img/missing.png"),
        _pair("img/empty.png"),
        _pair("img/truncated.png"),
        _pair("img/garbage.png"),
        _pair("img/huge.png"),
        _pair("../secret.png"),
        _pair("img/../../secret.png"),
        _pair(str(tmp_path / "secret.png")),
        _pair("img/ok.png", caption="   "),
        {"images": ["img/ok.png"], "messages": [{"role": "user", "content": "<image>"}]},
        "not an object",
    ]
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(records))
    return path


EXPECTED = [
    None,
    None,
    None,
    None,
    None,
    "image file not found",
    "zero-byte",
    "truncated or corrupt",
    "unreadable image",
    "too large",
    "escapes the image folder",
    "escapes the image folder",
    "is absolute",
    "caption is empty",
    "caption is missing",
    "not a JSON object",
]


def test_every_bad_input_kind_has_its_reason(bad_inputs):
    records = list(read_pairs(bad_inputs, image_root=bad_inputs.parent, max_pixels=4_000_000))
    assert len(records) == len(EXPECTED), "a record was dropped or duplicated"
    for i, (record, expected) in enumerate(zip(records, EXPECTED)):
        if expected is None:
            assert isinstance(record, ImageCaptionPair), (i, record)
            assert record.image.mode == "RGB" and record.image.size == (32, 32)
        else:
            assert isinstance(record, Rejection), (i, record)
            assert expected in record.reason, (i, record.reason)
            assert record.source["index"] == i
    ids = [r.id for r in records]
    assert len(set(ids)) == len(ids)


def test_ids_are_stable(bad_inputs):
    first = [r.id for r in read_pairs(bad_inputs, image_root=bad_inputs.parent, check_images=False)]
    second = [r.id for r in read_pairs(bad_inputs, image_root=bad_inputs.parent, check_images=False)]
    assert first == second


def test_sixteen_bit_and_transparency_converted():
    deep = Image.new("I;16", (4, 4), 65535)
    assert load_image(deep).getpixel((0, 0)) == (255, 255, 255)
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert load_image(clear).getpixel((0, 0)) == (255, 255, 255)  # composited on white, not black


def test_resolve_image_path(tmp_path):
    assert resolve_image_path("a/b.png", tmp_path) == (tmp_path / "a" / "b.png").resolve()
    for bad in ["../x.png", "/etc/passwd", "a/../../x.png", "", "C:/x.png"]:
        with pytest.raises(BadInput):
            resolve_image_path(bad, tmp_path)


def test_malformed_jsonl_line_is_a_rejection(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(_pair("a.png")) + "\n{not json\n" + json.dumps(_pair("a.png", caption="B")) + "\n")
    records = list(read_pairs(path))
    assert [type(r).__name__ for r in records] == ["ImageCaptionPair", "Rejection", "ImageCaptionPair"]
    assert "malformed JSON" in records[1].reason


def test_json_array_streaming_matches_json_load(tmp_path):
    data = [{"k": i, "s": "x" * (i % 50), "n": [1.5, None, True]} for i in range(3000)] + [12345, "end"]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(data, indent=2))
    assert [v for _, v in iter_json_array(path, chunk_size=97)] == data
    path.write_text(json.dumps(data)[:-40])
    with pytest.raises(BadInput):
        list(iter_json_array(path, chunk_size=97))


def test_imagefolder_reader(tmp_path):
    from hub_tools.miniature.samples import write_sample_pairs

    folder = write_sample_pairs(tmp_path, fmt="imagefolder")
    with open(folder / "metadata.jsonl", "a") as fh:
        fh.write(json.dumps({"file_name": "../escape.png", "caption": "x"}) + "\n")
        fh.write(json.dumps({"file_name": "nope.png"}) + "\n")
    records = list(read_pairs(folder))
    assert sum(isinstance(r, ImageCaptionPair) for r in records) == 24
    assert [r.reason.split(" ")[0] for r in records[24:]] == ["image", "caption"]


def test_hf_dataset_reader_with_column_mapping(tmp_path):
    from datasets import Dataset, Features, Value
    from datasets import Image as ImageFeature

    imgs = [Image.new("RGB", (16, 16), (i * 40, 0, 0)) for i in range(3)]
    ds = Dataset.from_dict(
        {"picture": imgs, "text": ["one", "", "three"]},
        features=Features({"picture": ImageFeature(), "text": Value("string")}),
    )
    folder = tmp_path / "dataset"
    ds.to_parquet(str(folder / "data" / "train.parquet"))
    records = list(read_pairs(str(folder), image_column="picture", caption_column="text"))
    assert [type(r).__name__ for r in records] == ["ImageCaptionPair", "Rejection", "ImageCaptionPair"]
    assert records[2].caption == "three" and records[2].image.getpixel((0, 0)) == (80, 0, 0)
    with pytest.raises(ValueError, match="no column 'caption'"):
        list(read_pairs(str(folder), image_column="picture"))


def test_sample_pairs_all_valid(sample_pairs):
    records = list(read_pairs(sample_pairs))
    assert len(records) == 24 and all(isinstance(r, ImageCaptionPair) for r in records)
    assert {r.caption_prompt for r in records} == {"Describe the image."}


def test_captions_and_caption_prompts_are_used_as_given(tmp_path):
    """As released: the caption and the caption prompt (image marker and its line break cut) keep their
    whitespace; a caption with nothing visible is still a rejection; a prompt with nothing left is no prompt."""
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    rows = [
        _pair("a.png", caption="  A plate of rice.\n", prompt="<image>\n Name the dish. "),
        _pair("a.png", caption="B", prompt="Describe it:<image>"),
        _pair("a.png", caption="C", prompt="<image>\n  "),
        _pair("a.png", caption=" \n\t "),
    ]
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    first, second, third, fourth = read_pairs(str(tmp_path / "pairs.jsonl"))
    assert (first.caption, first.caption_prompt) == ("  A plate of rice.\n", " Name the dish. ")
    assert second.caption_prompt == "Describe it:" and third.caption_prompt is None
    assert isinstance(fourth, Rejection) and fourth.reason == "caption is empty"


def _reader_growth_kb(root, n: int) -> int:
    """Peak-RSS growth (KB) of a fresh process reading ``n`` JSONL and ``n`` JSON-array pairs (files written here)."""
    line = json.dumps(_pair("a.png", caption="A small test caption.", prompt="<image>Describe."))
    (root / f"p{n}.jsonl").write_text((line + "\n") * n)
    (root / f"p{n}.json").write_text("[" + ",\n".join([line] * n) + "]")
    script = textwrap.dedent(
        f"""
        import resource
        from hub_tools.data import read_pairs
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for name in ("p{n}.jsonl", "p{n}.json"):
            count = sum(1 for r in read_pairs({str(root)!r} + "/" + name, check_images=False) if r.caption)
            assert count == {n}, (name, count)
        print("RSS_KB", base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    base, peak = map(int, out.stdout.split("RSS_KB")[1].split())
    return peak - base


def test_pairs_stream_with_bounded_memory(tmp_path):
    """Reading 10x more pairs (JSONL and JSON array) grows peak memory by far less than the files' size.

    The million-pair run is ``benchmarks/bench_data.py``.
    """
    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    small = _reader_growth_kb(tmp_path, 5_000)
    large = _reader_growth_kb(tmp_path, 50_000)
    # each 50k file is ~7 MB; a reader holding the records would grow by well over 50 MB
    assert large - small < 10_000, (small, large)
