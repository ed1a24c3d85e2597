"""A run records its input's fingerprint; a rerun on changed input is refused (naming ``--overwrite``): never stale rows.

Issue 20, item 4: a pipeline run on ``pairs.json``, the file edited in place (captions changed, order reversed),
the same command again printed "8 pairs -> 8 synthesized" and every row still held the old captions.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hub_tools.rundir import iter_records

REPO = Path(__file__).resolve().parents[1]
NEW = "Edited caption number {n}: a different description."


@pytest.fixture
def pairs(sample_pairs, tmp_path) -> Path:
    """Eight sample pairs in ``pairs.json`` (images beside it)."""
    root = tmp_path / "in"
    shutil.copytree(Path(sample_pairs).parent / "images", root / "images")
    records = json.loads(Path(sample_pairs).read_text())[:8]
    (root / "pairs.json").write_text(json.dumps(records))
    return root / "pairs.json"


def edit_in_place(path: Path) -> list[str]:
    """Change every caption and reverse the order (the issue's edit); returns the new captions, in file order."""
    records = json.loads(path.read_text())[::-1]
    for n, rec in enumerate(records):
        rec["messages"][1]["content"] = NEW.format(n=n)
    path.write_text(json.dumps(records))
    return [rec["messages"][1]["content"] for rec in records]


def adamllm(tiny_models, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``adamllm ARGS`` with the tiny LLaVA-NeXT synthesizer and the lexical checker, as a user runs it."""
    cmd = [
        sys.executable, "-m", "hub_tools", *args, "--synthesizer", str(tiny_models["llava_next"]),
        "--max-new-tokens", "8", "--batch-size", "4", "--no-progress",
    ]  # fmt: skip
    if args[0] == "pipeline":
        cmd += ["--checker", "lexical"]
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    return subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=300)


def captions(run: Path) -> list[str]:
    return sorted(r["caption"] for r in iter_records(run / "synthesis"))


def error_lines(res: subprocess.CompletedProcess) -> list[str]:
    return [line for line in res.stderr.splitlines() if "error:" in line]


def test_pipeline_rerun_on_edited_pairs_is_refused_then_overwrite_redoes_it(pairs, tiny_models, tmp_path):
    run = tmp_path / "run"
    res = adamllm(tiny_models, "pipeline", "--pairs", str(pairs), "--output", str(run))
    assert res.returncode == 0, res.stderr[-2000:]
    old = captions(run)
    recorded = json.loads((run / "manifest.json").read_text())["synthesize"]["input"]
    assert recorded["kind"] == "file" and set(recorded["files"]) == {"pairs.json"}
    assert recorded["files"]["pairs.json"]["size"] == pairs.stat().st_size

    new = edit_in_place(pairs)
    res = adamllm(tiny_models, "pipeline", "--pairs", str(pairs), "--output", str(run))
    assert res.returncode == 2, res.stderr[-2000:]
    (line,) = error_lines(res)
    assert line.startswith(f"adamllm pipeline: error: {pairs} changed since {run} was started (sha256 ")
    assert line.endswith("; rerun with --overwrite to start over")
    assert "Traceback" not in res.stderr
    assert captions(run) == old  # nothing written

    res = adamllm(tiny_models, "pipeline", "--pairs", str(pairs), "--output", str(run), "--overwrite")
    assert res.returncode == 0, res.stderr[-2000:]
    assert captions(run) == sorted(new)
    stats = json.loads((run / "stats.json").read_text())
    assert stats["pairs_in"] == 8 == stats["kept"] + stats["caption_only"] + stats["no_task"] + stats["rejected"]
    res = adamllm(tiny_models, "pipeline", "--pairs", str(pairs), "--output", str(run))  # unchanged: resumes
    assert res.returncode == 0, res.stderr[-2000:]


def test_interrupted_synthesize_then_edited_pairs_is_refused(pairs, tiny_models, tmp_path):
    run = tmp_path / "run"
    res = adamllm(
        tiny_models, "synthesize", "--pairs", str(pairs), "--output", str(run),
        env={"ADAMLLM_SYNTH_FAULT": "after-record:3"},
    )  # fmt: skip
    assert res.returncode == -signal.SIGKILL, res.stderr[-2000:]
    assert 0 < len(list(iter_records(run / "synthesis"))) < 8
    new = edit_in_place(pairs)
    res = adamllm(tiny_models, "synthesize", "--pairs", str(pairs), "--output", str(run))
    assert res.returncode == 2, res.stderr[-2000:]
    (line,) = error_lines(res)
    assert line.startswith(f"adamllm synthesize: error: {pairs} changed since {run} was started (sha256 ")
    assert "--overwrite" in line
    res = adamllm(tiny_models, "synthesize", "--pairs", str(pairs), "--output", str(run), "--overwrite")
    assert res.returncode == 0, res.stderr[-2000:]
    assert captions(run) == sorted(new)  # 8 rows for 8 records, all of the new input


# -- in process, with a canned engine: the other input kinds and the cheap path --------------------------------------
class CannedEngine:
    from hub_tools.synthesis import LLAMA3 as turn_format

    def generate(self, batch):
        return ["no turns" for _ in batch]


def synthesize(pairs: Path | str, run: Path, *extra: str):
    import argparse

    from hub_tools.commands.synthesize import add_arguments, synthesis_config
    from hub_tools.synthesis.runner import synthesize as run_synthesis

    p = add_arguments(argparse.ArgumentParser())
    cfg = synthesis_config(p.parse_args(["--pairs", str(pairs), "--output", str(run), "--synthesizer", "x", *extra]))
    return run_synthesis(cfg, engine=CannedEngine())


def test_touched_but_unchanged_input_resumes_and_records_the_new_mtime(pairs, tmp_path, monkeypatch):
    from hub_tools.data import fingerprint

    run = tmp_path / "run"
    synthesize(pairs, run)
    hashed = []
    monkeypatch.setattr(fingerprint, "sha256_file", lambda p: hashed.append(p) or _sha(p))
    synthesize(pairs, run)
    assert hashed == []  # size and mtime unchanged: not read again
    st = pairs.stat()
    os.utime(pairs, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    synthesize(pairs, run)  # same content: resumes
    assert hashed == [pairs]
    entry = json.loads((run / "manifest.json").read_text())["synthesize"]["input"]["files"]["pairs.json"]
    assert entry["mtime_ns"] == pairs.stat().st_mtime_ns


def _sha(path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_same_size_edit_is_refused(pairs, tmp_path):
    from hub_tools.synthesis.runner import InputChanged

    run = tmp_path / "run"
    synthesize(pairs, run)
    text = pairs.read_text()
    pairs.write_text(text.replace("a", "b", 1))  # same size, new mtime
    with pytest.raises(InputChanged, match=r"changed since .* \(sha256 [0-9a-f]{12}\.\. -> [0-9a-f]{12}\.\.\)"):
        synthesize(pairs, run)


def test_old_run_dir_without_fingerprint_records_one_and_resumes(pairs, tmp_path, capsys):
    run = tmp_path / "run"
    synthesize(pairs, run, "--limit", "4")
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["synthesize"]["input"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    capsys.readouterr()
    synthesize(pairs, run)
    assert "has no fingerprint of its input" in capsys.readouterr().err
    assert json.loads((run / "manifest.json").read_text())["synthesize"]["input"]["kind"] == "file"
    assert len(list(iter_records(run / "synthesis"))) == 8


def test_imagefolder_metadata_edit_is_refused_naming_metadata_jsonl(sample_pairs, tmp_path):
    from hub_tools.synthesis.runner import InputChanged

    folder = tmp_path / "folder"
    shutil.copytree(Path(sample_pairs).parent / "images", folder)
    records = json.loads(Path(sample_pairs).read_text())[:4]
    lines = [
        json.dumps({"file_name": Path(r["images"][0]).name, "caption": r["messages"][1]["content"]}) for r in records
    ]
    (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    synthesize(folder, run)
    assert json.loads((run / "manifest.json").read_text())["synthesize"]["input"]["kind"] == "imagefolder"
    (folder / "metadata.jsonl").write_text("\n".join(lines[::-1]) + "\n")
    with pytest.raises(InputChanged, match=rf"{folder / 'metadata.jsonl'} changed since {run} was started"):
        synthesize(folder, run)
    synthesize(folder, run, "--overwrite")


def test_local_dataset_folder_data_file_edit_and_new_file_are_refused(sample_pairs, tmp_path):
    from hub_tools.synthesis.runner import InputChanged

    folder = tmp_path / "ds"
    (folder / "data").mkdir(parents=True)
    shutil.copytree(Path(sample_pairs).parent / "images", folder / "data" / "images")
    records = json.loads(Path(sample_pairs).read_text())[:3]
    rows = [(f"images/{Path(r['images'][0]).name}", r["messages"][1]["content"].replace('"', "")) for r in records]
    csv = folder / "data" / "train.csv"
    csv.write_text("image,caption\n" + "".join(f'{img},"{cap}"\n' for img, cap in rows))
    run = tmp_path / "run"
    synthesize(folder, run)
    fp = json.loads((run / "manifest.json").read_text())["synthesize"]["input"]
    assert fp["kind"] == "dataset_folder" and set(fp["files"]) == {"data/train.csv"}  # images are not hashed
    csv.write_text(csv.read_text().replace(rows[0][1], "A new caption"))
    with pytest.raises(InputChanged, match=rf"{csv} changed since {run} was started \(sha256 "):
        synthesize(folder, run)
    synthesize(folder, run, "--overwrite")
    (folder / "data" / "more.csv").write_text("image,caption\n")
    with pytest.raises(InputChanged, match=r"\(new data file data/more.csv\)"):
        synthesize(folder, run)


def test_hub_dataset_fingerprint_compares_the_resolved_commit(monkeypatch):
    from hub_tools.data import fingerprint

    monkeypatch.setattr(fingerprint, "_hub_revision", lambda repo: "a" * 40)
    first = fingerprint.input_fingerprint("org/pairs", split="train")
    assert first == {"kind": "hub", "repo": "org/pairs", "split": "train", "revision": "a" * 40}
    monkeypatch.setattr(fingerprint, "_hub_revision", lambda repo: None)  # offline: the recorded commit is kept
    offline = fingerprint.input_fingerprint("org/pairs", split="train", previous=first)
    assert offline == first and fingerprint.describe_change("org/pairs", first, offline) is None
    monkeypatch.setattr(fingerprint, "_hub_revision", lambda repo: "b" * 40)
    moved = fingerprint.input_fingerprint("org/pairs", split="train", previous=first)
    assert fingerprint.describe_change("org/pairs", first, moved) == (
        "dataset 'org/pairs'",
        "commit aaaaaaaaaaaa.. -> bbbbbbbbbbbb..",
    )
