"""Synthesis on served replicas: real ``transformers serve`` processes on the tuned tiny synthesizer.

Endpoint rows equal in-process rows (batch 1, greedy) on the 24 sample pairs; a client SIGKILLed mid-run resumes to
every id once; one of two replicas killed mid-run leaves every id once and nothing rejected; no server -> one line.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from hub_tools.rundir import done_ids, iter_records

REPO = Path(__file__).resolve().parents[1]
MAX_NEW = "128"  # enough for the tuned tiny synthesizer to complete a triplet on most pairs
SERVE = str(Path(sys.executable).with_name("transformers"))
READY_TIMEOUT_S = 120


def die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the test process dies (a killed pytest leaves no server behind)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One ``transformers serve`` process on 127.0.0.1 serving ``folder`` on CPU; ``url`` is its /v1 base."""

    def __init__(self, folder: Path, log_dir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        from huggingface_hub import constants

        # transformers serve lists its models by scanning the Hub cache and answers 500 when the folder is missing
        # (the README's Scale-out block creates it too)
        Path(constants.HF_HUB_CACHE).mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"serve-{self.port}.log"
        log = open(self.log_path, "w")  # noqa: SIM115 (the process writes it)
        cmd = [SERVE, "serve", str(folder), "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, preexec_fn=die_with_parent
        )

    def wait_ready(self) -> None:
        """Until ``/health`` answers (bounded); fails the test with the server's log when it does not."""
        import httpx

        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"transformers serve exited with {self.proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        pytest.fail(f"transformers serve on port {self.port} not ready within {READY_TIMEOUT_S}s")

    def kill(self) -> None:
        """SIGKILL the server (idempotent)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def served_synthesizer(tuned_tiny_models, tmp_path_factory) -> Path:
    """The tuned tiny synthesizer copied by ``adamllm serve-folder`` (raw replies from transformers serve)."""
    out = tmp_path_factory.mktemp("served") / "synthesizer"
    cmd = [sys.executable, "-m", "hub_tools", "serve-folder", str(tuned_tiny_models["synthesizer"]), str(out)]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="session")
def start_servers(tmp_path_factory):
    """``start(folder, n) -> [Server]``: n replicas, ready; every server started is killed at session end."""
    started: list[Server] = []
    log_dir = tmp_path_factory.mktemp("serve-logs")

    def start(folder: Path, n: int) -> list[Server]:
        servers = [Server(folder, log_dir) for _ in range(n)]
        started.extend(servers)
        for s in servers:
            s.wait_ready()
        return servers

    yield start
    for s in started:
        s.kill()


@pytest.fixture(scope="session")
def replicas(served_synthesizer, start_servers) -> list[Server]:
    """Two replicas of the served tiny synthesizer, shared by the session."""
    return start_servers(served_synthesizer, 2)


def synth_cmd(pairs: Path, out: Path, synthesizer: Path, *extra: str) -> list[str]:
    """The ``adamllm synthesize`` command line."""
    return [
        sys.executable, "-m", "hub_tools", "synthesize", "--pairs", str(pairs), "--output", str(out),
        "--synthesizer", str(synthesizer), "--max-new-tokens", MAX_NEW, "--no-progress", *extra,
    ]  # fmt: skip


def run(cmd: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def endpoints(servers: list[Server]) -> list[str]:
    return [arg for s in servers for arg in ("--endpoint", s.url)]


def rows(out: Path) -> dict[str, dict]:
    """Synthesis rows by id; asserts every id appears once."""
    found = list(iter_records(out / "synthesis"))
    ids = Counter(r["id"] for r in found)
    assert max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]
    return {r["id"]: r for r in found}


def wait_rows(out: Path, proc: subprocess.Popen, n: int, timeout: float = 300) -> None:
    """Until ``n`` rows are written (or the process ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "synthesis").is_dir() and len(done_ids(out / "synthesis")) >= n:
            return
        time.sleep(0.1)


@pytest.fixture(scope="session")
def reference_run(sample_pairs, served_synthesizer, tmp_path_factory) -> Path:
    """The 24 sample pairs synthesized in-process (batch 1, greedy) by the tuned tiny synthesizer."""
    ref = tmp_path_factory.mktemp("reference") / "run"
    res = run(synth_cmd(sample_pairs, ref, served_synthesizer, "--batch-size", "1", "--device", "cpu"))
    assert res.returncode == 0, res.stderr[-2000:]
    return ref


@pytest.mark.slow
def test_endpoint_rows_equal_in_process_after_client_sigkill(
    sample_pairs, served_synthesizer, replicas, reference_run, tmp_path
):
    """In-process (batch 1) vs two replicas, the endpoint client SIGKILLed mid-run and resumed: the same rows."""
    ref, out = reference_run, tmp_path / "endpoint"
    cmd = synth_cmd(sample_pairs, out, served_synthesizer, *endpoints(replicas), "--concurrency", "1", "--window", "4")
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stderr=subprocess.DEVNULL)
    wait_rows(out, proc, 4)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < len(done_ids(out / "synthesis")) < 24
    res = run(cmd)
    assert res.returncode == 0, res.stderr[-2000:]
    want, got = rows(ref), rows(out)
    assert len(want) == 24 and sorted(got) == sorted(want)
    for pair_id, row in want.items():
        assert got[pair_id]["status"] == row["status"] == "synthesized"
        assert got[pair_id]["generation"] == row["generation"], pair_id
        assert got[pair_id]["triplets"] == row["triplets"], pair_id
    assert sum(bool(r["triplets"]) for r in want.values()) >= 12  # the tuned synthesizer writes real triplets
    stats = json.loads((out / "stats.json").read_text())
    assert stats["pairs_in"] == stats["synthesized"] == 24 and stats["rejected"] == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["synthesize"]["runtime"]["backend"] == "endpoint"
    assert "127.0.0.1" not in json.dumps(manifest)  # endpoint URLs (which may carry credentials) are not recorded


@pytest.mark.slow
def test_replica_killed_mid_run(sample_pairs, served_synthesizer, start_servers, tmp_path):
    """One of two replicas dies mid-run: its in-flight requests go to the other; every id once, none rejected."""
    doomed, survivor = start_servers(served_synthesizer, 2)
    out = tmp_path / "run"
    cmd = synth_cmd(
        sample_pairs, out, served_synthesizer, *endpoints([doomed, survivor]), "--limit", "12", "--window", "4"
    )
    proc = subprocess.Popen(
        cmd, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stderr=subprocess.PIPE, text=True
    )
    wait_rows(out, proc, 1)  # both replicas probed; the next windows' requests are in flight on both
    doomed.kill()
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    got = rows(out)
    assert len(got) == 12 and all(r["status"] == "synthesized" for r in got.values())
    stats = json.loads((out / "stats.json").read_text())
    assert stats["pairs_in"] == 12 == stats["synthesized"] + stats["rejected"]
    res = run([sys.executable, "-m", "hub_tools", "doctor", str(out)])
    assert res.returncode == 0, res.stdout + res.stderr


def test_no_server_reachable_is_one_line(sample_pairs, tuned_tiny_models, tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    res = run(synth_cmd(sample_pairs, tmp_path / "run", tuned_tiny_models["synthesizer"], "--endpoint", url))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("adamllm synthesize: error:") and url in lines[0], res.stderr
    assert not (tmp_path / "run" / "synthesis").exists()


@pytest.mark.slow
def test_a_model_the_server_does_not_serve_is_one_line(sample_pairs, tuned_tiny_models, replicas, tmp_path):
    """A real transformers serve pinned to the prepared folder, asked for another model: the probe's one-token check
    stops the run in one line with the server's words, before any record."""
    model = str(tuned_tiny_models["synthesizer"])
    res = run(synth_cmd(sample_pairs, tmp_path / "run", model, *endpoints(replicas[:1])))
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1, res.stderr
    assert f"does not serve the model {model!r}" in lines[0] and "Server is pinned to" in lines[0]
    assert not (tmp_path / "run" / "synthesis").exists()


def test_unprepared_folder_is_refused(tuned_tiny_models):
    """transformers serve would drop the turn markers of a folder not made by serve-folder: refused, naming it."""
    from hub_tools.synthesis.endpoint_client import EndpointPool
    from hub_tools.synthesis.served import ServedSynthesizer

    pool = EndpointPool([f"http://127.0.0.1:{free_port()}/v1"])  # given ready-made: no probe
    with pytest.raises(ValueError, match="adamllm serve-folder"):
        ServedSynthesizer(str(tuned_tiny_models["synthesizer"]), [], server="transformers", pool=pool)


def test_api_key_is_not_in_argv_or_output(sample_pairs, tuned_tiny_models, tmp_path):
    """The key comes from the environment only and is never printed (here: the unreachable-server error)."""
    secret = "hf_" + "x" * 30
    url = f"http://127.0.0.1:{free_port()}/v1"
    cmd = synth_cmd(sample_pairs, tmp_path / "run", tuned_tiny_models["synthesizer"], "--endpoint", url)
    cmd += ["--api-key-env", "MY_KEY"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MY_KEY": secret}
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and secret not in res.stderr + res.stdout


@pytest.mark.slow
def test_endpoint_verdicts_equal_in_process(reference_run, tuned_tiny_models, start_servers, tmp_path):
    """adamllm filter with the tiny checker in-process and on a transformers serve replica: the same verdicts."""
    import shutil

    checker = tuned_tiny_models["checker"]
    (server,) = start_servers(checker, 1)
    local, served = tmp_path / "local", tmp_path / "served"
    shutil.copytree(reference_run, local)
    shutil.copytree(reference_run, served)
    base = [sys.executable, "-m", "hub_tools", "filter", "--checker", str(checker), "--no-progress"]
    res = run([*base[:4], str(local), *base[4:], "--device", "cpu"])
    assert res.returncode == 0, res.stderr[-2000:]
    res = run([*base[:4], str(served), *base[4:], "--endpoint", server.url])
    assert res.returncode == 0, res.stderr[-2000:]
    want = {r["id"]: r for r in iter_records(local / "filter")}
    got = {r["id"]: r for r in iter_records(served / "filter")}
    assert sorted(got) == sorted(want) and len(want) >= 12
    for pair_id, row in want.items():
        assert [(v["label"], v["generated"]) for v in got[pair_id]["verdicts"]] == [
            (v["label"], v["generated"]) for v in row["verdicts"]
        ], pair_id
    assert json.loads((served / "stats.json").read_text()) == json.loads((local / "stats.json").read_text())


@pytest.mark.slow
def test_endpoint_predictions_equal_in_process(tiny_models, start_servers, tmp_path):
    """adamllm evaluate on the tiny LLaVA-NeXT (the released two-BOS llava_llama_3 prompt), in-process (batch 1) and
    on a transformers serve replica: the same predictions and scores."""
    model = tiny_models["llava_next"]
    (server,) = start_servers(model, 1)
    res = run([sys.executable, "-m", "hub_tools", "world", "--output", str(tmp_path / "world"),
               "--seed-images", "10", "--pairs", "2", "--benchmark-per-task", "10"])  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    base = [
        sys.executable, "-m", "hub_tools", "evaluate", "--model", str(model), "--benchmark-dir",
        str(tmp_path / "world" / "benchmark"), "--tasks", "SLAKE,PMC-VQA", "--max-new-tokens", "16", "--limit", "6",
        "--no-progress",
    ]  # fmt: skip
    res = run([*base, "--output", str(tmp_path / "local"), "--batch-size", "1", "--device", "cpu"])
    assert res.returncode == 0, res.stderr[-2000:]
    res = run([*base, "--output", str(tmp_path / "served"), "--endpoint", server.url])
    assert res.returncode == 0, res.stderr[-2000:]
    for task in ("SLAKE", "PMC-VQA"):
        local = [
            json.loads(x) for x in (tmp_path / "local" / "predictions" / f"{task}.jsonl").read_text().splitlines()
        ]
        served = [
            json.loads(x) for x in (tmp_path / "served" / "predictions" / f"{task}.jsonl").read_text().splitlines()
        ]
        assert len(local) == 6
        assert {r["id"]: r["prediction"] for r in served} == {r["id"]: r["prediction"] for r in local}, task
        assert not any("error" in r for r in served)


@pytest.mark.slow
def test_space_calls_a_served_synthesizer(served_synthesizer, replicas, reference_run, monkeypatch):
    """ADAMLLM_SYNTHESIZER_ENDPOINT makes the demo send its request to the server (no weights loaded), with the
    in-process generation."""
    from PIL import Image

    from hub_tools import demo as core
    from hub_tools.synthesis.served import ServedSynthesizer

    monkeypatch.setenv("ADAMLLM_SYNTHESIZER_ENDPOINT", replicas[0].url)
    core._load_synthesizer.cache_clear()
    try:
        engine = core.load_synthesizer(str(served_synthesizer))
        assert isinstance(engine, ServedSynthesizer)
        row = next(iter(rows(reference_run).values()))
        image = Image.open(reference_run / row["image"]).convert("RGB")
        generation, triplets = core.synthesize_one(engine, image, row["caption"], int(MAX_NEW))
        assert generation == row["generation"]
        assert [t.to_dict() for t in triplets] == row["triplets"]
    finally:
        core._load_synthesizer.cache_clear()
