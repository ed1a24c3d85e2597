"""No secret in any message: failing commands never print (or write) a token from a recipe, a URL or the environment.

Each test runs ``adamllm`` as a user does (a subprocess), then greps stdout, stderr and every file under the
test's folder (the recipe itself aside) for the planted secrets. ``test_secrets.py`` covers cards and uploads.
"""

from __future__ import annotations

import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest
from test_evaluation import build_benchmark
from test_secrets import _leaks, _token

REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = REPO / "recipes" / "tiny" / "sft" / "config.yaml"


def _plain() -> str:
    """A secret that does not look like a Hub token: only its key or its place (a URL password) gives it away."""
    return "pw-" + "".join(random.choices(string.ascii_letters, k=20))


def _adamllm(*args, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), **(env or {})}
    full_env.pop("ADAMLLM_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "hub_tools", *map(str, args)], capture_output=True, text=True, env=full_env, cwd=cwd
    )


def _written_leaks(folder: Path, secrets: list[str], skip: tuple[Path, ...] = ()) -> list[str]:
    """``file: secret`` for every file under ``folder`` (but ``skip``) that holds one of ``secrets``."""
    files = [p for p in folder.rglob("*") if p.is_file() and p not in skip]
    return [f"{p.relative_to(folder)}: {s}" for p in files for s in _leaks(p.read_bytes(), secrets)]


def _recipe(path: Path, rows: Path, out: Path, model: str, extra: dict[str, str]) -> Path:
    text = TINY_RECIPE.read_text()
    text = text.replace("model_name_or_path: .cache/tiny/qwen2_vl", f"model_name_or_path: {model}")
    text = text.replace("dataset_dir: .cache/tiny-sft-data", f"dataset_dir: {rows}")
    text = text.replace("output_dir: outputs/tiny-sft", f"output_dir: {out}")
    path.write_text(text + "log_level: info\n" + "".join(f"{k}: {v}\n" for k, v in extra.items()))
    return path


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("case", ["unknown-keys", "hub-token-and-url-model"])
def test_train_never_prints_or_writes_the_recipe_secrets(tmp_path, case, debug):
    """`token:` / `hf_token:` / `push_to_hub_token:` (unknown keys: TRL's "Unknown arguments from config file:
    ['--token', ...]") and `hub_token:` with a model id `https://user:pass@host/...` (a load error): the one-line
    error (or, under --debug, the traceback) names what failed with every secret masked."""
    from hub_tools.miniature.sft_demo import write_demo_rows

    live, url_password = _token(), _plain()
    model = f"https://alice:{url_password}@host.invalid/org/model"
    if case == "unknown-keys":
        extra = {"token": _token(), "hf_token": _plain(), "push_to_hub_token": _plain()}
    else:
        extra = {"hub_token": _plain()}
    secrets = [live, url_password, "alice", *extra.values()]
    rows = write_demo_rows(tmp_path / "rows", num_rows=4)
    recipe = _recipe(tmp_path / "it.yaml", rows, tmp_path / "out", model, extra)
    debug_flag = ["--debug"] if debug else []
    res = _adamllm(*debug_flag, "train", "--config", recipe, env={"HF_TOKEN": live}, cwd=tmp_path)
    usage = case == "unknown-keys" and not debug  # a recipe mistake is a usage error (exit 2)
    assert res.returncode == (2 if usage else 1), res.stderr[-3000:]
    assert not _leaks(res.stdout + res.stderr, secrets), res.stderr[-3000:]
    assert _written_leaks(tmp_path, secrets, skip=(recipe,)) == []
    if debug:
        assert "Traceback (most recent call last)" in res.stderr
    else:
        assert "Traceback" not in res.stderr and res.stderr.splitlines()[-1].startswith("adamllm train: error: ")
    if case == "unknown-keys":  # the message names the first unknown key (never its value)
        assert "it.yaml: unknown key 'token'" in res.stderr
    else:  # the id, without its credentials
        assert "the model 'https://host.invalid/org/model' is a URL; give a Hub id or a local folder" in res.stderr


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return build_benchmark(tmp_path_factory.mktemp("bench") / "benchmarks")


@pytest.mark.parametrize("command", ["synthesize", "synthesize --debug", "evaluate"])
def test_a_credentialed_model_url_is_never_printed_or_written(command, sample_pairs, bench, tmp_path):
    """A model id `https://user:pass@host/...`: the load error names the id without `user:pass`, and nothing
    written under the output folder (run.json, a run dir's files) holds them."""
    password = _plain()
    model = f"https://alice:{password}@host.invalid/org/model"
    out = tmp_path / "out"
    if command.startswith("synthesize"):
        debug = ["--debug"] if command.endswith("--debug") else []
        argv = [*debug, "synthesize", "--pairs", sample_pairs, "--output", out, "--synthesizer", model]
    else:
        argv = ["evaluate", "--model", model, "--tasks", "VQA_RAD", "--benchmark-dir", bench, "--output", out]
    res = _adamllm(*argv, "--no-progress", cwd=tmp_path)
    assert res.returncode == 1, res.stderr[-3000:]
    assert not _leaks(res.stdout + res.stderr, [password, "alice"]), res.stderr[-3000:]
    assert "'https://host.invalid/org/model'" in res.stderr
    assert _written_leaks(tmp_path, [password, "alice"]) == []


def test_usage_errors_mask_the_values_they_quote(tmp_path):
    """argparse (ours and the recipe's) quotes the values it refuses: a token there, under a secret option name
    or in the environment's HF_TOKEN, is masked."""
    live, hub, shaped = _plain(), _plain(), _token()
    env = {"HF_TOKEN": live}
    cases = [
        (["validate-pairs", tmp_path / "pairs.json", "--hub-token", hub], 2, "unrecognized argument --hub-token;"),
        (["synthesize", "--pairs", "p.json", "--output", tmp_path / "r", "--batch-size", shaped], 2, "invalid int"),
        (["validate-pairs", tmp_path / live / "pairs.json"], 1, "adamllm validate-pairs: error:"),
    ]
    recipe = tmp_path / "it.yaml"
    recipe.write_text(TINY_RECIPE.read_text())
    cases.append((["train", "--config", recipe, "--max-steps", shaped], 2, "--max-steps: invalid int value"))
    cases.append((["train", "--config", recipe, "--push-to-hub-token", hub], 1, "'--push-to-hub-token', '<redacted>'"))
    for argv, code, words in cases:
        res = _adamllm(*argv, env=env, cwd=tmp_path)
        assert res.returncode == code and words in res.stderr, (argv, res.stderr[-2000:])
        assert not _leaks(res.stdout + res.stderr, [live, hub, shaped]), (argv, res.stderr[-2000:])
        assert "<redacted>" in res.stderr or "unrecognized argument --" in res.stderr  # or the value is not quoted


def test_logging_warnings_and_tracebacks_are_redacted_once_installed():
    """`hub_tools.redaction.install` (the CLI and `python -m hub_tools.sft` call it): a log line, a printed
    warning and an uncaught traceback holding a secret show it masked."""
    secret, token = _plain(), _token()
    code = (
        "import logging, warnings, sys\n"
        "from hub_tools.redaction import install\n"
        "install()\n"
        "logging.basicConfig(stream=sys.stderr)\n"
        f"logging.getLogger('x').warning('pushing with --hub-token %s', {secret!r})\n"
        f"logging.getLogger('x').error('failed', exc_info=ValueError('hub_token: {secret}'))\n"
        f"warnings.warn('loading https://bob:{secret}@host.invalid/x')\n"
        f"raise RuntimeError('token={token}')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert res.returncode == 1 and "Traceback (most recent call last)" in res.stderr
    assert not _leaks(res.stdout + res.stderr, [secret, token, "bob"]), res.stderr
    for shown in ("--hub-token <redacted>", "hub_token: <redacted>", "https://host.invalid/x", "token=<redacted>"):
        assert shown in res.stderr, res.stderr
