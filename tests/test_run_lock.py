"""One process per run directory (the RUN_DIR lock) and ``adamllm doctor`` (find + repair damage)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from hub_tools.rundir import LOCK_NAME, check_run_dir, iter_records, lock_run_dir, repair_run_dir, shard_files

REPO = Path(__file__).resolve().parents[1]
GOOD = (
    "Answer with a precise response.\nWhich organ?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    "Kidney.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnswer with an informative response.\n"
    "Which organ?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nThe organ is the kidney.<|eot_id|>"
)
HOLD = """
import sys, time
from hub_tools.rundir import dist_env, lock_run_dir
rank, world = dist_env()
with lock_run_dir(sys.argv[1], sys.argv[2], rank=rank, world_size=world):
    print("locked", flush=True)
    time.sleep(600)
"""
PROBE = """
import sys
from hub_tools.rundir import RunDirBusy, dist_env, lock_run_dir
rank, world = dist_env()
try:
    with lock_run_dir(sys.argv[1], "probe", rank=rank, world_size=world):
        print("free")
except RunDirBusy as err:
    print(err)
"""


class ScriptedEngine:
    """Canned generations: every pair gets one triplet (judged Yes by the lexical checker)."""

    from hub_tools.synthesis import LLAMA3 as turn_format

    def generate(self, batch):
        return [GOOD for _ in batch]


def env(**extra: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**base, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **extra}


def adamllm(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "hub_tools", *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, env=env(), capture_output=True, text=True, timeout=timeout)


def hold(run: Path, command: str = "adamllm pipeline", **extra_env: str) -> subprocess.Popen:
    """A process that takes the run's lock (as ``command``) and sleeps; returns once it holds the lock."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run), command],
        cwd=REPO,
        env=env(**extra_env),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def probe(run: Path, **extra_env: str) -> str:
    res = subprocess.run([sys.executable, "-c", PROBE, str(run)], cwd=REPO, env=env(**extra_env), capture_output=True)
    return res.stdout.decode().strip()


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def busy_line(run: Path, pid: int, command: str) -> str:
    return rf"{re.escape(str(run))} is in use by pid {pid} \({re.escape(command)}, started \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\)"


def assert_refused(res: subprocess.CompletedProcess, run: Path, pid: int, command: str = "adamllm pipeline") -> None:
    assert res.returncode == 1, res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(busy_line(run, pid, command), lines[0]), res.stderr[-2000:]
    assert "Traceback" not in res.stderr


def make_run(sample_pairs: Path, run: Path, compose: bool = True) -> Path:
    """A finished run (scripted synthesis, lexical filter, compose) built in this process."""
    from hub_tools.compose import compose_run
    from hub_tools.filtering import filter_run, load_checker
    from hub_tools.synthesis.runner import SynthesisConfig, synthesize

    synthesize(SynthesisConfig(pairs=str(sample_pairs), output=str(run), synthesizer="scripted"), ScriptedEngine())
    filter_run(run, load_checker("lexical"), progress=False)
    if compose:
        compose_run(run)
    return run


def ids(run: Path, stage: str) -> Counter:
    return Counter(row["id"] for row in iter_records(run / stage))


def input_ids(pairs: Path) -> Counter:
    from hub_tools.data import read_pairs

    return Counter(r.id for r in read_pairs(pairs, check_images=False))


# ---------------------------------------------------------------------------------------------
# the lock
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["filter", "compose", "build-dataset", "doctor"])
def test_a_stage_is_refused_while_another_process_holds_the_run(command, sample_pairs, tmp_path):
    run = make_run(sample_pairs, tmp_path / "run")
    args = {
        "filter": ["filter", run, "--checker", "lexical"],
        "compose": ["compose", run],
        "build-dataset": ["build-dataset", run, "--output", tmp_path / "ds", "--no-progress"],
        "doctor": ["doctor", run],
    }[command]
    holder = hold(run)
    try:
        assert_refused(adamllm(*args), run, holder.pid)
    finally:
        kill(holder)  # the OS drops a dead process's lock: nothing stale is left
    res = adamllm(*args)
    assert res.returncode == 0, res.stderr[-2000:]


def test_synthesize_and_pipeline_refused_while_held_then_run(sample_pairs, tiny_models, tmp_path):
    run = tmp_path / "run"
    synth = ["--pairs", sample_pairs, "--output", run, "--synthesizer", tiny_models["llava_next"]]
    synth += ["--max-new-tokens", "4", "--batch-size", "4", "--limit", "4"]
    holder = hold(run, "adamllm filter")
    try:
        assert_refused(adamllm("synthesize", *synth), run, holder.pid, "adamllm filter")
        assert_refused(adamllm("pipeline", *synth, "--checker", "lexical"), run, holder.pid, "adamllm filter")
        assert not (run / "synthesis").exists()  # refused before touching anything
    finally:
        kill(holder)
    res = adamllm("pipeline", *synth, "--checker", "lexical")
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(ids(run, "synthesis").values()) == [1, 1, 1, 1]
    res = adamllm("doctor", run)
    assert res.returncode == 0 and res.stdout.startswith(f"{run}: healthy (4 synthesis rows"), res.stdout


def test_the_lock_is_reentrant_within_one_process(tmp_path):
    run = tmp_path / "run"
    assert probe(run) == "free"
    pid = os.getpid()
    with lock_run_dir(run, "adamllm pipeline"):
        with lock_run_dir(run, "adamllm filter"):  # the pipeline calling a stage: no self-conflict
            assert re.fullmatch(busy_line(run, pid, "adamllm pipeline"), probe(run))
        assert re.fullmatch(busy_line(run, pid, "adamllm pipeline"), probe(run))  # the outer hold remains
    assert probe(run) == "free"
    assert (run / LOCK_NAME).is_file()


def test_ranks_of_one_launch_share_the_run_but_exclude_everyone_else(sample_pairs, tmp_path):
    run = make_run(sample_pairs, tmp_path / "run")
    ranks = [hold(run, "adamllm synthesize", WORLD_SIZE="2", RANK=str(r)) for r in (0, 1)]  # both get in
    try:
        res = adamllm("filter", run, "--checker", "lexical")
        assert res.returncode == 1 and "Traceback" not in res.stderr
        assert re.fullmatch(
            rf"{re.escape(str(run))} is in use by pid ({ranks[0].pid}|{ranks[1].pid}) "
            r"\(adamllm synthesize, rank \d of 2, started .*\)",
            res.stderr.strip(),
        ), res.stderr
        # a second launch: its rank files are held
        again = probe(run, WORLD_SIZE="2", RANK="1")
        assert re.fullmatch(busy_line(run, ranks[1].pid, "adamllm synthesize, rank 1 of 2"), again), again
    finally:
        for proc in ranks:
            kill(proc)
    single = hold(run, "adamllm compose")
    try:  # and a launch is refused while a single-process stage runs
        assert re.fullmatch(busy_line(run, single.pid, "adamllm compose"), probe(run, WORLD_SIZE="2", RANK="0"))
    finally:
        kill(single)
    assert probe(run, WORLD_SIZE="2", RANK="0") == "free" and probe(run) == "free"


def test_two_pipelines_at_once_on_one_run(sample_pairs, tiny_models, tmp_path):
    """The issue's reproduction: both started together; one runs, the other is refused (or runs after it)."""
    run = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "hub_tools", "pipeline", "--pairs", str(sample_pairs), "--output", str(run),
        "--synthesizer", str(tiny_models["llava_next"]), "--max-new-tokens", "8", "--batch-size", "2",
        "--checker", "lexical",
    ]  # fmt: skip
    procs = [
        subprocess.Popen(cmd, cwd=REPO, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 1]), results
    for (code, err), other in zip(results, procs[::-1]):
        if code == 1:
            assert re.fullmatch(busy_line(run, other.pid, "adamllm pipeline"), err.strip()), err
    assert ids(run, "synthesis") == input_ids(sample_pairs)  # every pair id exactly once
    assert max(ids(run, "filter").values()) == 1
    res = adamllm("doctor", run)
    assert res.returncode == 0 and "healthy" in res.stdout, res.stdout


# ---------------------------------------------------------------------------------------------
# doctor
# ---------------------------------------------------------------------------------------------
def _plant_damage(run: Path) -> tuple[str, str]:
    """A run of NUL bytes over line 2 of the finished filter shard; a second shard repeating a synthesis row.

    Returns (the id whose filter row is lost, the duplicated synthesis id).
    """
    shard = shard_files(run / "filter")[0]
    lines = shard.read_bytes().split(b"\n")
    lost = json.loads(lines[1])["id"]
    lines[1] = b"\0" * len(lines[1])
    shard.write_bytes(b"\n".join(lines))
    first = shard_files(run / "synthesis")[0].read_text().splitlines()[0]
    (run / "synthesis" / "shard-1-0.jsonl").write_text(first + "\n")
    return lost, json.loads(first)["id"]


def test_doctor_finds_and_repairs_a_nul_run_and_a_duplicate(sample_pairs, tmp_path):
    run = make_run(sample_pairs, tmp_path / "run")
    assert adamllm("doctor", run).stdout.startswith(f"{run}: healthy (24 synthesis rows, 24 filter rows)")
    lost, dup = _plant_damage(run)
    res = adamllm("compose", run)
    assert res.returncode == 1 and "Traceback" not in res.stderr and "doctor" in res.stderr, res.stderr

    res = adamllm("doctor", run)
    assert res.returncode == 1, res.stdout
    out = res.stdout.splitlines()
    assert any("filter/shard-0-0.jsonl" in line and "NUL byte" in line and "line 2" in line for line in out), out
    assert f"{run}: synthesis: id {dup!r} appears 2 times (shard-0-0.jsonl:1, shard-1-0.jsonl:1)" in out, out

    res = adamllm("doctor", run, "--repair")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (run / "quarantine" / "filter" / "shard-0-0.jsonl").is_file()
    assert (run / "quarantine" / "synthesis" / "shard-1-0.jsonl").is_file()
    assert lost not in ids(run, "filter") and ids(run, "synthesis") == input_ids(sample_pairs)

    res = adamllm("filter", run, "--checker", "lexical")
    assert res.returncode == 0 and "judged 1 item(s) of 1 pair(s)" in res.stdout, res.stdout + res.stderr
    res = adamllm("compose", run)
    assert res.returncode == 0, res.stderr
    assert ids(run, "synthesis") == ids(run, "filter") == input_ids(sample_pairs)
    train = [json.loads(x)["id"] for x in (run / "compose" / "train.jsonl").read_text().splitlines()]
    assert Counter(train) == input_ids(sample_pairs)
    stats = json.loads((run / "stats.json").read_text())
    assert stats["pairs_in"] == 24 == stats["kept"] + stats["caption_only"] + stats["no_task"] + stats["rejected"]
    assert adamllm("doctor", run).returncode == 0


def test_doctor_reports_torn_tails_orphans_and_stats(sample_pairs, tmp_path):
    run = make_run(sample_pairs, tmp_path / "run")
    synth = shard_files(run / "synthesis")[0]
    rows = synth.read_text().splitlines()
    synth.write_text("\n".join(rows[:-1]) + "\n" + rows[-1][:20])  # a torn last line in a finished shard
    filt = shard_files(run / "filter")[0]
    orphan = json.dumps({"id": "nobody", "checker": "lexical", "decision": "lexical", "verdicts": []})
    filt.write_text(filt.read_text() + "\0" * 8 + orphan + "\n")  # NULs before a whole row: the row is kept
    found = check_run_dir(run)
    text = "\n".join(found.problems)
    assert not found.healthy
    assert "synthesis/shard-0-0.jsonl: finished shard with a torn last line" in text
    assert "8 NUL byte(s) around a whole row" in text
    assert "filter: 2 row(s) judge ids that have no synthesis row" in text and "'nobody'" in text  # + the torn id
    assert "stats.json: pairs_in is 24, the rows give 23" in text
    with lock_run_dir(run, "test"):
        result = repair_run_dir(run)
    assert result["lost"] == {"synthesis": 1, "filter": 2}  # the torn row; the orphan verdicts
    assert check_run_dir(run).healthy
    assert "nobody" not in ids(run, "filter") and len(ids(run, "synthesis")) == 23


def test_an_interrupted_run_is_healthy_with_a_note(sample_pairs, tmp_path):
    run = make_run(sample_pairs, tmp_path / "run", compose=False)
    shard = shard_files(run / "filter")[0]
    shard.rename(shard.with_name(shard.name + ".partial"))
    with open(shard.with_name(shard.name + ".partial"), "ab") as fh:
        fh.write(b'{"id": "half')  # torn tail of an unfinished shard: normal, redone on resume
    res = adamllm("doctor", run)
    assert res.returncode == 0, res.stdout
    assert res.stdout.splitlines()[0] == f"{run}: healthy (24 synthesis rows, 24 filter rows)"
    assert "filter/shard-0-0.jsonl.partial is unfinished" in res.stdout
