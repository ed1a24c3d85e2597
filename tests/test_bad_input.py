"""Bad input is a recorded rejection with its reason: never a crash, never a silent drop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from hub_tools.data import ImageCaptionPair, Rejection, read_pairs

REPO = Path(__file__).resolve().parents[1]


def _pair(image: str, caption="A caption.", **extra) -> dict:
    return {
        "messages": [
            {"role": "user", "content": "<image>Describe the image."},
            {"role": "assistant", "content": caption},
        ],
        "images": [image],
        **extra,
    }


@pytest.fixture
def root(tmp_path) -> Path:
    Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / "a.png")
    (tmp_path / "folder.png").mkdir()
    return tmp_path


def validate_pairs(path: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "hub_tools", "validate-pairs", str(path), *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_lone_surrogate_caption_and_id_are_rejected_by_the_cli(root):
    # valid JSON: the escape "\ud800" decodes to a lone surrogate, which no tokenizer can encode
    text = "[" + ",".join([
        json.dumps(_pair("a.png", caption="A scan \\ud800 of a kidney.")).replace("\\\\ud800", "\\ud800"),
        json.dumps(_pair("a.png", caption="Fine.", id="\\ud800")).replace("\\\\ud800", "\\ud800"),
        json.dumps(_pair("a.png", caption="Also fine.")),
    ]) + "]"  # fmt: skip
    path = root / "pairs.json"
    path.write_text(text)
    assert json.loads(text)[0]["messages"][1]["content"] == "A scan \ud800 of a kidney."
    res = validate_pairs(path, "--rejections", str(root / "rejected.jsonl"))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert "accepted: 1  rejected: 2" in res.stdout
    assert "caption is not valid UTF-8 text" in res.stdout and "id is not valid UTF-8 text" in res.stdout
    rows = [json.loads(line) for line in (root / "rejected.jsonl").read_text().splitlines()]
    assert [r["source"]["index"] for r in rows] == [0, 1]
    assert "lone surrogate U+D800" in rows[0]["reason"] and "lone surrogate U+D800" in rows[1]["reason"]


def test_encodings_and_malformed_jsonl_lines(root):
    lines = [
        json.dumps(_pair("a.png")).encode(),
        json.dumps(_pair("a.png", caption="bad byte: XX")).encode().replace(b"XX", b"\xff"),
        b"{not json",
        json.dumps(_pair("a.png", caption="last")).encode(),
    ]
    path = root / "pairs.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")  # with a UTF-8 byte-order mark
    records = list(read_pairs(path))
    assert [type(r).__name__ for r in records] == ["ImageCaptionPair", "Rejection", "Rejection", "ImageCaptionPair"]
    assert records[1].reason.startswith("not UTF-8: line 2 has byte 0xff")
    assert records[2].reason.startswith("malformed JSON: line 3 is not valid JSON")
    res = validate_pairs(path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "accepted: 2  rejected: 2" in res.stdout


def test_bom_json_array_and_a_malformed_element_among_ten_thousand(root):
    elements = [json.dumps(_pair("a.png", caption=f"Caption {i}.")).encode() for i in range(10_000)]
    elements[1234] = b'{"images": ["a.png"] "messages": []}'  # a missing comma
    elements[5678] = elements[5678].replace(b"Caption", b"Capti\xffon")  # a byte that is not UTF-8
    path = root / "pairs.json"
    path.write_bytes(b"\xef\xbb\xbf[\n" + b",\n".join(elements) + b"\n]\n")
    records = list(read_pairs(path, check_images=False))
    assert len(records) == 10_000
    bad = {r.source["index"]: r.reason for r in records if isinstance(r, Rejection)}
    assert sorted(bad) == [1234, 5678]
    assert bad[1234].startswith("malformed JSON: element 1234 is not valid JSON")
    assert bad[5678].startswith("not UTF-8: element 5678 has byte 0xff")
    assert records[9999].caption == "Caption 9999."


def test_json_array_resynchronises_after_broken_elements(tmp_path):
    from hub_tools.data import BadInput, iter_json_array_records

    good = [{"k": i, "s": "x, [y] {z}"} for i in range(6)]
    compact = [json.dumps(g) for g in good]
    compact[2] = '{"k": 2, "s": [1, 2}, 3}'  # a bracket closed by the wrong kind
    compact[4] = '{"k": 4 "s": "a"}'
    path = tmp_path / "a.json"
    path.write_text("[" + ",".join(compact) + "]")
    for chunk in (5, 31, 1 << 16):
        got = list(iter_json_array_records(path, chunk_size=chunk))
        assert [i for i, _, e in got if e] == [2, 4], chunk
        assert [v for _, v, e in got if not e] == [good[i] for i in (0, 1, 3, 5)]
    # an unclosed string in a pretty-printed array: the element ends at its line
    pretty = json.dumps(good, indent=2).replace('"k": 3,', '"k": "3,', 1)
    path.write_text(pretty)
    got = list(iter_json_array_records(path, chunk_size=17))
    assert [i for i, _, e in got if e] == [3] and len(got) == 6
    # unbalanced brackets to the end of the file: which element, and why the rest is refused
    path.write_text('[{"a": 1}, {"b": [1, 2}, {"c": 3}]')
    with pytest.raises(BadInput, match="element 1 is not valid JSON and the file ends before it does"):
        list(iter_json_array_records(path))


def test_directory_image_non_text_captions_and_invisible_captions(root):
    records = [
        _pair("folder.png"),
        _pair("a.png", caption=7),
        _pair("a.png", caption={"text": "x"}),
        _pair("a.png", caption="\u200b\u200d\x00 \ufeff"),
        _pair("a.png", caption="Two lines:\n\tstill text."),
    ]
    path = root / "pairs.json"
    path.write_text(json.dumps(records))
    got = list(read_pairs(path))
    assert isinstance(got[4], ImageCaptionPair) and got[4].caption == "Two lines:\n\tstill text."
    reasons = [r.reason for r in got[:4]]
    assert reasons[0] == f"image path {str(root / 'folder.png')!r} is a directory, not an image file"
    assert reasons[1:] == [
        "caption is a number, not text",
        "caption is an object, not text",
        "caption is empty after removing zero-width and control characters",
    ]


def test_duplicates_are_kept_and_counted(root):
    records = [_pair("a.png"), _pair("a.png"), _pair("a.png", caption="Other."), _pair("./a.png"), _pair("a.png")]
    path = root / "pairs.json"
    path.write_text(json.dumps(records))
    res = validate_pairs(path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "accepted: 5  rejected: 0" in res.stdout
    assert "duplicates: 3 (same image and caption" in res.stdout


# ---------------------------------------------------------------------------------------------
# synthesis: a failure inside the stage rejects that pair, the run goes on
# ---------------------------------------------------------------------------------------------
class RaisingEngine:
    """Fails every batch holding ``bad_caption`` (as a tokenizer would on a caption it cannot encode)."""

    from hub_tools.synthesis import LLAMA3 as turn_format

    def __init__(self, bad_caption: str | None = None, always: bool = False):
        self.bad_caption, self.always = bad_caption, always

    def generate(self, batch):
        for _, caption, _ in batch:
            if self.always or caption == self.bad_caption:
                raise RuntimeError(f"tokenizer cannot encode {caption[:20]!r}")
        return ["junk without turns" for _ in batch]


def _synth_config(pairs: Path, out: Path, *extra: str):
    import argparse

    from hub_tools.commands.synthesize import add_arguments, synthesis_config

    p = add_arguments(argparse.ArgumentParser())
    return synthesis_config(p.parse_args(["--pairs", str(pairs), "--output", str(out), "--synthesizer", "x", *extra]))


def test_engine_failure_for_one_pair_rejects_only_that_pair(sample_pairs, tmp_path):
    from hub_tools.rundir import iter_records
    from hub_tools.synthesis.runner import synthesize

    records = json.loads(Path(sample_pairs).read_text())
    bad_caption = records[5]["messages"][1]["content"].strip()
    out = tmp_path / "run"
    counts = synthesize(_synth_config(sample_pairs, out, "--batch-size", "4"), engine=RaisingEngine(bad_caption))
    rows = list(iter_records(out / "synthesis"))
    assert Counter(r["status"] for r in rows) == {"synthesized": 23, "rejected": 1}
    (rejected,) = [r for r in rows if r["status"] == "rejected"]
    assert rejected["reason"].startswith("synthesis failed for this pair: RuntimeError: tokenizer cannot encode")
    assert rejected["source"]["index"] == 5
    stats = json.loads((out / "stats.json").read_text())
    assert stats["pairs_in"] == stats["synthesized"] + stats["rejected"] == 24 and stats["rejected"] == 1
    assert counts["synthesized"] == 23 and counts["rejected"] == 1


def test_engine_failing_on_everything_stops_without_recording_rejections(sample_pairs, tmp_path):
    from hub_tools.rundir import iter_records
    from hub_tools.synthesis.runner import synthesize

    out = tmp_path / "run"
    cfg = _synth_config(sample_pairs, out, "--batch-size", "1", "--window", "2")  # 16 failures in a row: stop
    with pytest.raises(RuntimeError, match="synthesis failed on 16 pairs in a row"):
        synthesize(cfg, engine=RaisingEngine(always=True))
    assert list(iter_records(out / "synthesis")) == []  # nothing recorded: a rerun retries every pair
    synthesize(cfg, engine=RaisingEngine())
    assert json.loads((out / "stats.json").read_text())["synthesized"] == 24


def _write_table_pairs(folder):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("a.png", "b.png"):
        Image.new("RGB", (16, 12), (200, 30, 30)).save(folder / name)
    return [("a.png", "A red square."), ("b.png", "Another red square."), ("../escape.png", "Escapes.")]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_csv_tsv_parquet_pairs_validate_with_the_same_rules(tmp_path, suffix):
    import csv

    rows = _write_table_pairs(tmp_path / "d")
    path = tmp_path / "d" / f"pairs{suffix}"
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"image": [r[0] for r in rows], "caption": [r[1] for r in rows]}), path)
    else:
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh, delimiter="\t" if suffix == ".tsv" else ",")
            writer.writerow(["image", "caption"])
            writer.writerows(rows)
    res = validate_pairs(path)
    assert res.returncode == 0, res.stderr
    assert "accepted: 2  rejected: 1" in res.stdout and "escapes the image folder" in res.stdout


def test_unsupported_pairs_format_is_one_line(tmp_path):
    path = tmp_path / "pairs.xlsx"
    path.write_bytes(b"not really")
    res = validate_pairs(path)
    assert res.returncode == 1
    lines = [line for line in res.stderr.splitlines() if line.strip() and "pair/s]" not in line]
    assert len(lines) == 1 and "unsupported format '.xlsx'" in lines[0] and ".csv" in lines[0], res.stderr
