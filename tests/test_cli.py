"""The command line: instant help, honest listing, working foundation commands."""

from __future__ import annotations

import subprocess
import sys

from hub_tools.cli import COMMANDS, build_parser, main


def test_help_lists_every_command_without_heavy_imports():
    code = (
        "import sys; from hub_tools.cli import build_parser; build_parser().format_help();"
        "heavy = [m for m in ('torch', 'transformers', 'datasets', 'trl', 'gradio', 'evaluate') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    help_text = build_parser().format_help()
    for name, _, _ in COMMANDS:
        assert name in help_text


def test_sample_data_and_validate_pairs(tmp_path, capsys):
    assert main(["sample-data", str(tmp_path / "s")]) == 0
    path = capsys.readouterr().out.strip()
    assert main(["validate-pairs", path, "--rejections", str(tmp_path / "rej.jsonl")]) == 0
    assert "accepted: 24  rejected: 0" in capsys.readouterr().out


def test_tiny_models_command(tmp_path, capsys):
    assert main(["tiny-models", "--output", str(tmp_path / "t"), "--no-tuned"]) == 0
    out = capsys.readouterr().out
    for name in ("qwen2_vl", "llava_next", "llama", "qwen2_5_vl"):
        assert (tmp_path / "t" / name / "config.json").is_file() and name in out


def _adamllm(*args, env_extra=None):
    import os

    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "hub_tools", *args], capture_output=True, text=True, env=env)


def test_bare_adamllm_prints_help_and_exits_2():
    res = _adamllm()
    assert res.returncode == 2
    assert "usage: adamllm" in res.stderr and "COMMAND" in res.stderr


def test_an_unloadable_model_is_one_line_naming_it(tmp_path):
    pairs = tmp_path / "s"
    assert _adamllm("sample-data", str(pairs)).returncode == 0
    res = _adamllm(
        "pipeline", "--pairs", str(pairs / "image_caption_pairs.json"), "--output", str(tmp_path / "run"),
        "--synthesizer", "no-such-org/no-such-model", "--checker", "lexical",
    )  # fmt: skip
    assert res.returncode in (1, 2)
    lines = [line for line in res.stderr.splitlines() if line.strip() and "%|" not in line]
    assert len(lines) == 1, res.stderr
    assert "no-such-org/no-such-model" in lines[0] and "Traceback" not in res.stderr
    assert lines[0].startswith("adamllm pipeline: error:")


def test_debug_shows_the_traceback(tmp_path):
    missing = tmp_path / "missing"
    res = _adamllm("--debug", "compare", str(missing), str(missing), "--output", str(tmp_path / "c.png"))
    plain = _adamllm("compare", str(missing), str(missing), "--output", str(tmp_path / "c.png"))
    assert res.returncode != 0 and plain.returncode != 0
    assert "Traceback" not in plain.stderr
    assert "Traceback" in res.stderr or res.stderr.count("\n") == plain.stderr.count("\n")


def test_common_mistakes_get_one_line_and_exit_1(tmp_path):
    cases = [
        (["train", "--config", str(tmp_path / "missing.yaml")], "recipe not found"),
        (["validate-pairs", str(tmp_path / "nope.json")], "not found"),
        (["evaluate", "--model", "x", "--tasks", "biomed", "--output", str(tmp_path / "e")], "--benchmark-dir"),
    ]
    for argv, words in cases:
        res = _adamllm(*argv)
        lines = [line for line in res.stderr.splitlines() if line.strip() and "pair/s]" not in line]
        assert res.returncode == 1, (argv, res.stderr)
        assert len(lines) == 1 and words in lines[0] and lines[0].startswith(f"adamllm {argv[0]}: error:"), res.stderr
