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
    assert main(["tiny-models", str(tmp_path / "t")]) == 0
    out = capsys.readouterr().out
    for name in ("qwen2_vl", "llava_next", "llama"):
        assert (tmp_path / "t" / name / "config.json").is_file() and name in out
