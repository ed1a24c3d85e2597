"""Every answer a server can give, one test per row of the table in docs/served.md
(:data:`hub_tools.synthesis.endpoint_client.ANSWER_TABLE`), against a scripted local server (:mod:`served_stub`).

For each stage (synthesize, filter, evaluate): an answer about the endpoint stops the run with one line naming the URL
and the fix, marks no record, and a rerun against a good server then processes every record; a transient answer is
retried; an answer about one record rejects that record (with the server's reason, redacted); replies and requests
are bounded. The library runs in-process; one CLI subprocess per command checks the exit code and the one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from served_stub import GENERATION, StubServer

from hub_tools.rundir import done_ids, iter_records
from hub_tools.synthesis.endpoint_client import (
    ANSWER_TABLE,
    EndpointError,
    EndpointMisconfigured,
    EndpointPool,
    EndpointUnavailable,
    RequestRejected,
)
from hub_tools.synthesis.runner import SynthesisConfig, synthesize

REPO = Path(__file__).resolve().parents[1]
LIMIT = 10  # more than the refusal run (8) that stops a run


@pytest.fixture(scope="module")
def models(tuned_tiny_models) -> dict[str, str]:
    return {k: str(Path(v).resolve()) for k, v in tuned_tiny_models.items()}


@pytest.fixture(scope="module")
def stub(models):
    server = StubServer(models=[models["synthesizer"], models["checker"], models["llava_next"]])
    yield server
    server.close()


@pytest.fixture
def good(stub):
    """The stub in its good state again after each test."""
    stub.mode, stub.text, stub.seen, stub.auth = "ok", GENERATION, 0, []
    yield stub
    stub.mode, stub.text = "ok", GENERATION


def synth_config(pairs, out, model, url, **extra) -> SynthesisConfig:
    """A served synthesis of the first LIMIT sample pairs."""
    options = {"server": "vllm", "max_new_tokens": 64, "limit": LIMIT, **extra}
    return SynthesisConfig(pairs=str(pairs), output=str(out), synthesizer=model, endpoint=[url], **options)


def marked(run_dir: Path, stage: str = "synthesis") -> int:
    folder = run_dir / stage
    return len(done_ids(folder)) if folder.is_dir() else 0


ENDPOINT_ANSWERS = {
    "401": "answered HTTP 401",
    "403": "answered HTTP 403",
    "404": "answered HTTP 404: scripted 404; pass the server's OpenAI-compatible base URL",
    "405": "answered HTTP 405",
    "402": "answered HTTP 402",
    "302": "redirecting to http://example.invalid/v1/chat/completions; redirects are never followed",
    "empty-choices": "'choices' is empty",
    "no-choices": "has no 'choices'",
    "wrong-object": "object is 'embedding'",
    "not-json": "the body is not JSON",
    "400": "refused 8 requests in a row",
    "huge": "refused 8 requests in a row the same way (reply longer than max_new_tokens allows",
}


@pytest.mark.parametrize("mode", sorted(ENDPOINT_ANSWERS))
def test_synthesis_stops_on_an_answer_about_the_endpoint(mode, good, sample_pairs, models, tmp_path):
    out = tmp_path / "run"
    good.mode = mode
    with pytest.raises(EndpointMisconfigured) as err:
        synthesize(synth_config(sample_pairs, out, models["synthesizer"], good.url))
    line = str(err.value)
    assert ENDPOINT_ANSWERS[mode] in line and good.base in line and "\n" not in line, line
    assert marked(out) == 0  # no record rejected or processed
    good.mode = "ok"
    counts = synthesize(synth_config(sample_pairs, out, models["synthesizer"], good.url))
    assert counts["synthesized"] == LIMIT and counts["rejected"] == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["pairs_in"] == stats["synthesized"] == LIMIT


PROBE_ANSWERS = {
    "models-401": ("refused the API key (HTTP 401", "--api-key-env"),
    "models-500": ("answered HTTP 500", "mkdir -p ~/.cache/huggingface/hub"),
    "pinned": ("does not serve the model", "Server is pinned to 'other'"),
}


@pytest.mark.parametrize("mode", sorted(PROBE_ANSWERS))
def test_the_probe_stops_before_the_first_record(mode, good, sample_pairs, models, tmp_path):
    out = tmp_path / "run"
    good.mode = mode
    model = models["synthesizer"] if mode != "pinned" else models["qwen2_vl"]  # not listed: the one-token check
    with pytest.raises(EndpointError) as err:
        synthesize(synth_config(sample_pairs, out, model, good.url))
    assert all(part in str(err.value) for part in PROBE_ANSWERS[mode]), str(err.value)
    assert good.seen == 0 and marked(out) == 0  # no record was sent


def test_a_base_url_without_v1_is_named(good, sample_pairs, models, tmp_path):
    with pytest.raises(EndpointMisconfigured, match=r"did you mean --endpoint http://127\.0\.0\.1:\d+/v1 \?"):
        synthesize(synth_config(sample_pairs, tmp_path / "run", models["synthesizer"], good.base))


def test_a_closed_port_is_one_line(good, sample_pairs, models, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    with pytest.raises(EndpointUnavailable, match="no server answers at " + url):
        synthesize(synth_config(sample_pairs, tmp_path / "run", models["synthesizer"], url))
    assert not (tmp_path / "run" / "synthesis").exists()


def test_transient_answers_are_retried(good, sample_pairs, models, tmp_path):
    good.mode = "transient-then-ok"  # every other request: 503 with Retry-After: 0
    counts = synthesize(synth_config(sample_pairs, tmp_path / "run", models["synthesizer"], good.url))
    assert counts["synthesized"] == LIMIT and good.seen > LIMIT


def test_an_answer_about_the_record_rejects_that_record(good, sample_pairs, models, tmp_path):
    good.mode, good.refuse_first = "refuse-first", 3
    out = tmp_path / "run"
    counts = synthesize(synth_config(sample_pairs, out, models["synthesizer"], good.url, concurrency=1))
    assert counts == {"synthesized": LIMIT - 3, "rejected": 3, "triplets": LIMIT - 3}
    reasons = [r["reason"] for r in iter_records(out / "synthesis") if r["status"] == "rejected"]
    assert reasons == ["the server refused the request (HTTP 400): image rejected: unsupported size"] * 3


@pytest.mark.parametrize("mode", ["drip", "hang"])
def test_a_dripping_or_hung_server_ends_within_the_deadline(mode, good, sample_pairs, models, tmp_path):
    good.mode = mode
    start = time.monotonic()
    with pytest.raises(EndpointUnavailable, match=r"no usable answer within --request-timeout 1\.5s"):
        synthesize(synth_config(sample_pairs, tmp_path / "run", models["synthesizer"], good.url, request_timeout=1.5))
    assert time.monotonic() - start < 30 and marked(tmp_path / "run") == 0


def test_a_huge_reply_is_read_only_up_to_its_cap(good):
    import tracemalloc

    good.mode = "huge"  # 100 MB of body
    with EndpointPool([good.url], concurrency=1) as pool:
        tracemalloc.start()
        try:
            (result,) = pool.post_many("/chat/completions", [{"model": "m"}], max_new_tokens=512)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert isinstance(result, RequestRejected) and "reply longer than max_new_tokens allows" in result.reason
    assert peak < 20 * 2**20, peak


def test_no_key_lands_in_any_file(good, sample_pairs, models, tmp_path, monkeypatch):
    """A server that echoes the Authorization header: neither the bearer key nor a URL's password is written."""
    key, password = "sk-live-" + "k" * 24, "pa55-" + "w" * 12
    monkeypatch.setenv("MY_KEY", key)
    good.mode, good.refuse_first = "echo-auth", 0
    out = tmp_path / "run"
    synthesize(synth_config(sample_pairs, out, models["synthesizer"], good.url, api_key_env="MY_KEY", limit=3))
    monkeypatch.delenv("MY_KEY")
    url = good.url.replace("http://", f"http://user:{password}@")
    synthesize(synth_config(sample_pairs, out, models["synthesizer"], url, limit=6))
    assert f"Bearer {key}" in good.auth and any(a.startswith("Basic ") for a in good.auth)
    rows = list(iter_records(out / "synthesis"))
    assert len(rows) == 6 and all(r["status"] == "rejected" and "<redacted>" in r["reason"] for r in rows)
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert key.encode() not in data and password.encode() not in data, path


def test_foreign_special_tokens_reject_the_record(good, sample_pairs, models, tmp_path):
    token = "<|image_pad|>"  # the tiny synthesizer's image token (a Qwen2-VL tokenizer)
    good.text = GENERATION.replace("Red<|eot_id|>", f"Red{token}<|eot_id|>")
    out = tmp_path / "run"
    counts = synthesize(synth_config(sample_pairs, out, models["synthesizer"], good.url, limit=4))
    assert counts["rejected"] == 4
    reasons = {r["reason"] for r in iter_records(out / "synthesis")}
    assert reasons == {f"the generation holds the special token {token!r} outside the format's turn markers; "
                       "rejected before parsing"}  # fmt: skip


def test_the_special_token_rule_is_the_same_in_process():
    from hub_tools.synthesis.parse import foreign_special_token
    from hub_tools.synthesis.runner import foreign_token_check

    class Engine:  # what the runner reads of any engine: its tokenizer and turn format
        turn_format = None

        class tokenizer:  # noqa: N801
            all_special_tokens = ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>"]

    check = foreign_token_check(Engine())
    assert check(GENERATION) is None
    system_turn = GENERATION.replace("user<|end_header_id|>", "system<|end_header_id|>")
    assert (
        check(system_turn)
        == "<|start_header_id|>"
        == foreign_special_token(system_turn, Engine.tokenizer.all_special_tokens)
    )
    assert check(GENERATION + "<|start_header_id|>") is None  # an incomplete last turn is dropped anyway


# -- filter -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthesized(stub, sample_pairs, models, tmp_path_factory) -> Path:
    """A run dir with LIMIT synthesized pairs (each with one triplet), made on the stub."""
    out = tmp_path_factory.mktemp("filter") / "run"
    stub.mode = "ok"
    synthesize(synth_config(sample_pairs, out, models["synthesizer"], stub.url))
    return out


@pytest.mark.parametrize("mode", [*sorted(ENDPOINT_ANSWERS), "drip"])
def test_filter_stops_marks_nothing_then_resumes(mode, good, synthesized, models, tmp_path):
    import shutil

    from hub_tools.filtering import filter_run
    from hub_tools.filtering.served import ServedChecker

    run = tmp_path / "run"
    shutil.copytree(synthesized, run)
    good.mode = mode
    checker = ServedChecker(models["checker"], [good.url], server="vllm", request_timeout=1.5)
    try:
        with pytest.raises(EndpointError):
            filter_run(run, checker, batch_size=checker.batch_size, progress=False)
    finally:
        checker.close()
    assert marked(run, "filter") == 0
    good.mode = "ok"
    checker = ServedChecker(models["checker"], [good.url], server="vllm")
    try:
        result = filter_run(run, checker, batch_size=checker.batch_size, progress=False)
    finally:
        checker.close()
    assert result["pairs"] == LIMIT and result["stats"]["kept"] == LIMIT


# -- evaluate -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def benchmark(tmp_path_factory) -> Path:
    from hub_tools.miniature.world import build_world

    return build_world(tmp_path_factory.mktemp("world"), seed_images=6, pairs=2, benchmark_per_task=4) / "benchmark"


EVALUATE_STOPS = sorted(set(ENDPOINT_ANSWERS) - {"400", "huge"})  # 4 items: fewer refusals than a run of 8


@pytest.mark.parametrize("mode", [*EVALUATE_STOPS, "hang"])
def test_evaluate_stops_keeps_earlier_outputs_then_resumes(mode, good, benchmark, models, tmp_path):
    from hub_tools.evaluation.harness import evaluate_model

    def run(**extra):
        return evaluate_model(
            models["llava_next"], tasks="SLAKE", output_dir=tmp_path / "eval", benchmark_dir=benchmark,
            max_new_tokens=8, progress=False, endpoints=[good.url],
            endpoint_options={"server": "vllm", "request_timeout": 1.5}, **extra,
        )  # fmt: skip

    good.mode, good.text = mode, "yes"
    with pytest.raises(EndpointError):
        run()
    predictions = tmp_path / "eval" / "predictions" / "SLAKE.jsonl"
    assert not predictions.exists() or predictions.read_text() == ""
    good.mode = "ok"
    scores = run()
    assert scores["tasks"]["SLAKE"]["num_items"] == len(predictions.read_text().splitlines()) > 0


def test_evaluate_records_a_refusal_per_item(good, benchmark, models, tmp_path):
    from hub_tools.evaluation.harness import evaluate_model

    good.mode, good.refuse_first = "refuse-first", 2
    evaluate_model(
        models["llava_next"], tasks="SLAKE", output_dir=tmp_path / "eval", benchmark_dir=benchmark, max_new_tokens=8,
        progress=False, endpoints=[good.url], endpoint_options={"server": "vllm", "concurrency": 1},
    )  # fmt: skip
    rows = [json.loads(x) for x in (tmp_path / "eval" / "predictions" / "SLAKE.jsonl").read_text().splitlines()]
    errors = [r["error"] for r in rows if "error" in r]
    assert len(rows) == 4 and errors == ["refused by the server: the server refused the request (HTTP 400): image "
                                         "rejected: unsupported size"] * 2  # fmt: skip


# -- the CLI: one subprocess per command ----------------------------------------------------------------------------
def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    cmd = [sys.executable, "-m", "hub_tools", *args, "--no-progress"]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def one_line(res: subprocess.CompletedProcess, command: str) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1, res.stderr
    assert lines[0].startswith(f"adamllm {command}: error:") and "Unclosed" not in res.stderr
    return lines[0]


def test_cli_synthesize_names_the_missing_v1(good, sample_pairs, models, tmp_path):
    res = cli("synthesize", "--pairs", str(sample_pairs), "--output", str(tmp_path / "run"), "--synthesizer",
              models["synthesizer"], "--endpoint", good.base, "--server", "vllm")  # fmt: skip
    assert f"did you mean --endpoint {good.url} ?" in one_line(res, "synthesize")
    assert not (tmp_path / "run" / "synthesis").exists()


def test_cli_filter_stops_on_401(good, synthesized, models, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(synthesized, run)
    good.mode = "401"
    res = cli("filter", str(run), "--checker", models["checker"], "--endpoint", good.url, "--server", "vllm")
    assert f"{good.url}/completions answered HTTP 401" in one_line(res, "filter")
    assert marked(run, "filter") == 0


def test_cli_evaluate_names_the_key_variable(good, benchmark, models, tmp_path):
    good.mode = "models-401"
    res = cli("evaluate", "--model", models["llava_next"], "--benchmark-dir", str(benchmark), "--tasks", "SLAKE",
              "--output", str(tmp_path / "eval"), "--endpoint", good.url, "--api-key-env", "MY_KEY")  # fmt: skip
    assert "$MY_KEY, which is not set" in one_line(res, "evaluate")
    assert not (tmp_path / "eval").exists()


def test_the_docs_table_is_the_code_table():
    text = (REPO / "docs" / "served.md").read_text(encoding="utf-8")
    for answer, kind, action in ANSWER_TABLE:
        assert f"| {answer} | {kind} | {action} |" in text, answer


def test_sigterm_mid_request_closes_the_session(good, sample_pairs, models, tmp_path):
    """SIGTERM while requests are in flight: the run unwinds (exit 143), no record is marked and no "Unclosed"
    warning is printed; Ctrl-C takes the same unwinding path (KeyboardInterrupt)."""
    import signal

    good.mode = "hang"
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "hub_tools", "synthesize", "--pairs", str(sample_pairs), "--output", str(out),
           "--synthesizer", models["synthesizer"], "--endpoint", good.url, "--server", "vllm", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while good.seen == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)  # until the first request hangs on the server
    assert good.seen > 0, proc.stderr.read() if proc.poll() is not None else "no request reached the server"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Unclosed" not in err and "Traceback" not in err, err
    assert marked(out) == 0
