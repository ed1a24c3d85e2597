"""The synthesis runner: rows, rejections, resume after SIGKILL, config guard, 2-process sharding."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from hub_tools.commands.synthesize import add_arguments, synthesis_config
from hub_tools.rundir import ShardWriter, done_ids, iter_records, recover_partials

REPO = Path(__file__).resolve().parents[1]
GOOD = (
    "Answer with a precise response.\nWhich organ?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    "Kidney.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnswer with an informative response.\n"
    "Which organ?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nThe organ is the kidney.<|eot_id|>"
)


@pytest.fixture(scope="module")
def pairs(sample_pairs, tmp_path_factory) -> Path:
    """The sample pairs plus bad records (one of each kind) in one ShareGPT file."""
    root = tmp_path_factory.mktemp("pairs")
    shutil.copytree(Path(sample_pairs).parent / "images", root / "images")
    records = json.loads(Path(sample_pairs).read_text())
    (root / "images" / "empty.png").write_bytes(b"")
    (root / "images" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    first = records[0]["images"][0]
    bad = [
        {"messages": records[0]["messages"], "images": ["images/missing.png"]},
        {"messages": records[0]["messages"], "images": ["images/empty.png"]},
        {"messages": records[0]["messages"], "images": ["images/corrupt.png"]},
        {
            "messages": [{"role": "user", "content": "<image>Describe."}, {"role": "assistant", "content": "  "}],
            "images": [first],
        },
        {"messages": records[0]["messages"], "images": [first, first]},
        {"messages": records[0]["messages"], "images": ["../outside.png"]},
    ]
    mixed = records[:5] + bad[:3] + records[5:12] + bad[3:] + records[12:]
    path = root / "pairs.json"
    path.write_text(json.dumps(mixed))
    return path


def input_ids(path: Path) -> list[str]:
    from hub_tools.data import read_pairs

    return [r.id for r in read_pairs(path, check_images=False)]


def rows(run_dir: Path) -> list[dict]:
    return list(iter_records(run_dir / "synthesis"))


def cli(tiny_models, pairs: Path, out: Path, *extra: str, env: dict | None = None, timeout: int = 120):
    cmd = [
        sys.executable, "-m", "hub_tools.synthesize", "--pairs", str(pairs), "--output", str(out),
        "--synthesizer", str(tiny_models["llava_next"]), "--max-new-tokens", "8", "--batch-size", "4", *extra,
    ]  # fmt: skip
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    return subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)


def assert_complete(run_dir: Path, pairs: Path) -> list[dict]:
    got = rows(run_dir)
    ids = [r["id"] for r in got]
    assert Counter(ids) == Counter(input_ids(pairs))  # every input pair exactly once
    assert len(set(ids)) == len(ids)
    assert not list((run_dir / "synthesis").glob("*.partial"))
    stats = json.loads((run_dir / "stats.json").read_text())
    assert stats["pairs_in"] == len(ids) == stats["synthesized"] + stats["rejected"]
    for r in got:
        if r["status"] == "synthesized":
            assert (run_dir / r["image"]).is_file() and isinstance(r["generation"], str)
        else:
            assert r["status"] == "rejected" and r["reason"] and r["image"] is None
    return got


class FakeEngine:
    """Canned generations: a real triplet for even captions' lengths, junk otherwise."""

    from hub_tools.synthesis import LLAMA3 as turn_format

    def __init__(self):
        self.calls = []

    def generate(self, batch):
        self.calls.append(len(batch))
        return [GOOD if len(caption) % 2 == 0 else "junk without turns" for _, caption, _ in batch]


def args_for(pairs: Path, out: Path, *extra: str):
    """The typed config the CLI builds from these synthesize flags."""
    p = add_arguments(argparse.ArgumentParser())
    return synthesis_config(
        p.parse_args(["--pairs", str(pairs), "--output", str(out), "--synthesizer", "fake", *extra])
    )


def test_rows_rejections_and_stats_in_process(pairs, tmp_path):
    from hub_tools.synthesis.runner import synthesize

    engine = FakeEngine()
    counts = synthesize(args_for(pairs, tmp_path / "run", "--batch-size", "3"), engine=engine)
    got = assert_complete(tmp_path / "run", pairs)
    by_status = Counter(r["status"] for r in got)
    assert by_status == {"synthesized": 24, "rejected": 6}
    assert counts == {"synthesized": 24, "rejected": 6, "triplets": counts["triplets"]}
    reasons = sorted(r["reason"] for r in got if r["status"] == "rejected")
    assert any("not found" in r for r in reasons) and any("zero-byte" in r for r in reasons)
    assert any("caption is empty" in r for r in reasons) and any("2 images" in r for r in reasons)
    assert any("escapes" in r for r in reasons)
    with_t = [r for r in got if r["triplets"]]
    assert with_t and all(r["triplets"][0] == {"question": "Which organ?", "informative": "The organ is the kidney.",
                                                "precise": "Kidney."} for r in with_t)  # fmt: skip
    stats = json.loads((tmp_path / "run" / "stats.json").read_text())
    assert stats["triplets"] == len(with_t) == stats["pairs_with_triplets"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["synthesize"]["max_new_tokens"] == 512
    # rerun: nothing left to do, nothing duplicated
    engine2 = FakeEngine()
    synthesize(args_for(pairs, tmp_path / "run", "--batch-size", "3"), engine=engine2)
    assert engine2.calls == []
    assert_complete(tmp_path / "run", pairs)


def test_limit_then_extend(pairs, tmp_path):
    from hub_tools.synthesis.runner import synthesize

    synthesize(args_for(pairs, tmp_path / "run", "--limit", "7"), engine=FakeEngine())
    assert sorted(r["id"] for r in rows(tmp_path / "run")) == sorted(input_ids(pairs)[:7])
    synthesize(args_for(pairs, tmp_path / "run"), engine=FakeEngine())
    assert_complete(tmp_path / "run", pairs)


def test_config_mismatch_refused(pairs, tmp_path):
    from hub_tools.synthesis.runner import ConfigMismatch, synthesize

    synthesize(args_for(pairs, tmp_path / "run", "--limit", "2"), engine=FakeEngine())
    with pytest.raises(ConfigMismatch, match="max_new_tokens: run has 512, this command has 64"):
        synthesize(args_for(pairs, tmp_path / "run", "--max-new-tokens", "64"), engine=FakeEngine())
    # runtime settings may change
    synthesize(args_for(pairs, tmp_path / "run", "--batch-size", "2", "--limit", "4"), engine=FakeEngine())
    assert len(rows(tmp_path / "run")) == 4


def test_rundir_torn_partial_and_recovery(tmp_path):
    stage = tmp_path / "stage"
    with ShardWriter(stage, rank=1) as w:
        w.write({"id": "a"})
    w2 = ShardWriter(stage, rank=1)
    assert w2.path.name == "shard-1-1.jsonl.partial"
    w2.write({"id": "b"})
    w2._fh.write(b'{"id": "c", "tr')  # torn record: a crash mid-write
    w2._fh.flush()
    assert done_ids(stage) == {"a", "b"}
    recover_partials(stage, rank=0, world_size=2)  # not rank 0's shard: untouched
    assert (stage / "shard-1-1.jsonl.partial").exists()
    assert recover_partials(stage, rank=0, world_size=1) == [stage / "shard-1-1.jsonl"]  # a dead rank's
    assert (stage / "shard-1-1.jsonl").read_bytes() == b'{"id": "b"}\n'
    (stage / "shard-1-1.jsonl").write_bytes(b'{"id": "b"}\n{bad\n')
    with pytest.raises(ValueError, match="shard-1-1.jsonl: line 2"):
        done_ids(stage)


@pytest.mark.slow
def test_cli_resume_after_sigkill_at_several_points(pairs, tiny_models, tmp_path):
    out = tmp_path / "run"
    for fault in ("after-record:3", "torn-record:6", "after-image:9", "after-record:4"):
        res = cli(tiny_models, pairs, out, env={"ADAMLLM_SYNTH_FAULT": fault})
        assert res.returncode == -signal.SIGKILL, res.stderr[-2000:]
    partial = rows(out)
    assert 0 < len(partial) < 30 and len({r["id"] for r in partial}) == len(partial)
    res = cli(tiny_models, pairs, out)
    assert res.returncode == 0, res.stderr[-2000:]
    got = assert_complete(out, pairs)
    assert Counter(r["status"] for r in got) == {"synthesized": 24, "rejected": 6}
    # a config change is refused with a clear message
    res = cli(tiny_models, pairs, out, "--max-new-tokens", "9")
    assert res.returncode == 2 and "different settings" in res.stderr and "--overwrite" in res.stderr
    assert "max_new_tokens" in res.stderr


@pytest.mark.slow
def test_cli_external_sigkill_mid_run(pairs, tiny_models, tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "hub_tools.synthesize", "--pairs", str(pairs), "--output", str(out),
        "--synthesizer", str(tiny_models["llava_next"]), "--max-new-tokens", "8", "--batch-size", "1", "--window", "1",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        if len(done_ids(out / "synthesis")) >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < len(done_ids(out / "synthesis")) < 30
    res = cli(tiny_models, pairs, out)
    assert res.returncode == 0, res.stderr[-2000:]
    assert_complete(out, pairs)


def test_cli_adamllm_entry_on_sample_pairs(sample_pairs, tiny_models, tmp_path):
    """The acceptance command: adamllm synthesize on the sample pairs with the tiny synthesizer, offline."""
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "hub_tools", "synthesize", "--pairs", str(sample_pairs), "--output", str(out),
        "--synthesizer", str(tiny_models["qwen2_vl"]), "--max-new-tokens", "8", "--batch-size", "8",
    ]  # fmt: skip
    res = subprocess.run(cmd, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert_complete(out, sample_pairs)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["synthesize"]["synthesizer"] == str(Path(tiny_models["qwen2_vl"]).resolve())


@pytest.mark.slow
def test_two_processes_with_accelerate(pairs, tiny_models, tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
        "-m", "hub_tools.synthesize", "--pairs", str(pairs), "--output", str(out), "--device", "cpu",
        "--synthesizer", str(tiny_models["llava_next"]), "--max-new-tokens", "4", "--batch-size", "4",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    got = assert_complete(out, pairs)
    ids = input_ids(pairs)
    shards = sorted(p.name for p in (out / "synthesis").iterdir())
    assert shards == ["shard-0-0.jsonl", "shard-1-0.jsonl"]
    for rank in (0, 1):  # each rank wrote exactly its share: index % 2 == rank
        mine = [
            json.loads(line)["id"] for line in (out / "synthesis" / f"shard-{rank}-0.jsonl").read_text().splitlines()
        ]
        assert sorted(mine) == sorted(ids[rank::2])
    assert len(got) == len(ids)


def _synth(pairs: Path, out: Path, synthesizer: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "hub_tools", "synthesize", "--pairs", str(pairs), "--output", str(out),
        "--synthesizer", synthesizer, "--max-new-tokens", "4", "--batch-size", "8", *extra,
    ]  # fmt: skip
    return subprocess.run(cmd, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True)


@pytest.mark.slow
def test_a_failed_start_leaves_no_manifest_and_overwrite_starts_over(pairs, tiny_models, tmp_path):
    """A model that fails to load writes nothing that blocks the corrected rerun; --overwrite replaces a run."""
    out = tmp_path / "run"
    bad = _synth(pairs, out, "foo/does-not-exist")
    assert bad.returncode == 1 and "foo/does-not-exist" in bad.stderr and "Traceback" not in bad.stderr
    assert not (out / "manifest.json").exists() and not (out / "synthesis").exists()
    good = _synth(pairs, out, str(tiny_models["llava_next"]))
    assert good.returncode == 0, good.stderr[-2000:]
    assert_complete(out, pairs)
    other = _synth(pairs, out, str(tiny_models["llava_next"]), "--max-new-tokens", "6")
    assert other.returncode == 2 and "different settings" in other.stderr  # a resume with other settings
    (out / "compose").mkdir()
    (out / "compose" / "train.jsonl").write_text("{}\n")  # an earlier compose must go too
    again = _synth(pairs, out, str(tiny_models["llava_next"]), "--max-new-tokens", "6", "--overwrite")
    assert again.returncode == 0, again.stderr[-2000:]
    assert_complete(out, pairs)
    assert json.loads((out / "manifest.json").read_text())["synthesize"]["max_new_tokens"] == 6
    assert not (out / "compose").exists()
