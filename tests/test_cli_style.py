"""One CLI style: kebab-case flags, --output for output folders, --seed with help, --no-progress on every long
command, one error prefix (``adamllm COMMAND: error: ...``, exit 2 usage / 1 runtime), log-friendly progress."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub_tools.cli import build_parser

REPO = Path(__file__).resolve().parents[1]

# option strings that may keep an underscore (documented aliases); none today
UNDERSCORE_ALIASES: set[str] = set()
LONG_COMMANDS = [
    "synthesize",
    "filter",
    "compose",
    "pipeline",
    "build-dataset",
    "build-benchmark biomed",
    "build-benchmark food",
    "evaluate",
    "train",
    "quickstart",
    "ablate",
    "validate-pairs",
]


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every (nested) subcommand parser by its command line, e.g. ``"build-benchmark food"``."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[f"{prefix}{name}"] = sub
                found.update(subcommands(sub, f"{prefix}{name} "))
    return found


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {opt: action for action in parser._actions for opt in action.option_strings}


def adamllm(*args, env_extra=None, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "hub_tools", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd
    )


def test_every_flag_is_kebab_case():
    commands = subcommands(build_parser())
    assert "build-benchmark food" in commands and "train" in commands
    bad = [
        (command, opt)
        for command, parser in commands.items()
        for opt in options(parser)
        if "_" in opt and opt not in UNDERSCORE_ALIASES
    ]
    assert bad == []


@pytest.mark.parametrize("command", LONG_COMMANDS)
def test_every_long_command_has_no_progress(command):
    opts = options(subcommands(build_parser())[command])
    assert "--no-progress" in opts and opts["--no-progress"].help


def test_every_seed_has_help():
    seeded = {c: options(p)["--seed"] for c, p in subcommands(build_parser()).items() if "--seed" in options(p)}
    assert {"synthesize", "pipeline", "compose", "quickstart", "world", "sample-data"} <= set(seeded)
    assert [c for c, action in seeded.items() if not action.help] == []


@pytest.mark.parametrize("command", ["sample-data", "world"])
def test_output_folders_take_output_and_the_positional_alias(command):
    parser = build_parser()
    from hub_tools.cli import output_dir

    assert output_dir(parser.parse_args([command, "--output", "d"])) == "d"
    assert output_dir(parser.parse_args([command, "d"])) == "d"
    assert "same as --output" in subcommands(parser)[command].format_help()


def test_sample_data_output_spellings(tmp_path):
    a = adamllm("sample-data", "--output", tmp_path / "a")
    b = adamllm("sample-data", tmp_path / "b")
    assert a.returncode == b.returncode == 0, a.stderr + b.stderr
    assert (tmp_path / "a" / "image_caption_pairs.json").is_file() and (tmp_path / "b" / "images").is_dir()
    for args in ([], ["x", "--output", "y"]):
        res = adamllm("sample-data", *args)
        assert res.returncode == 2 and res.stderr.splitlines()[-1].startswith("adamllm sample-data: error:")


def test_run_dir_is_positional_for_the_stages_that_read_one():
    commands = subcommands(build_parser())
    for command in ("filter", "compose", "build-dataset", "doctor"):
        first = [a for a in commands[command]._actions if not a.option_strings][0]
        assert first.dest == "run_dir", command


def error_lines(res: subprocess.CompletedProcess) -> list[str]:
    return [line for line in res.stderr.splitlines() if line.strip() and not line.startswith(("usage:", " "))]


@pytest.mark.parametrize(
    "args, code",
    [
        (["compose", "{tmp}/no-run"], 1),  # a missing input
        (["doctor", "{tmp}/no-run"], 1),
        (["compare", "{tmp}/a", "{tmp}/b", "--output", "{tmp}/c.png"], 1),
        (["build-dataset", "{tmp}/no-run", "--output", "{tmp}/ds"], 1),
        (["filter", "{tmp}/no-run", "--checker", "lexical", "--batch-size", "0"], 2),  # a bad option value
        (["build-dataset", "{tmp}/no-run", "--output", "{tmp}/ds", "--language", "English"], 2),
        (["evaluate", "--model", "x", "--tasks", "nope", "--output", "{tmp}/e"], 2),
        (["world", "--seed", "many"], 2),  # argparse's own usage error
    ],
)
def test_one_error_prefix(args, code, tmp_path):
    res = adamllm(*[a.format(tmp=tmp_path) for a in args])
    lines = error_lines(res)
    assert res.returncode == code, res.stderr
    assert len(lines) == 1 and lines[0].startswith(f"adamllm {args[0]}: error: "), res.stderr
    assert "Traceback" not in res.stderr


def test_train_takes_kebab_case_overrides_and_snake_case_aliases(tmp_path):
    from hub_tools.training.arguments import parse_args

    config = str(REPO / "recipes/tiny/sft/config.yaml")
    script, training, _ = parse_args(
        ["--config", config, "--max-steps", "1", "--learning-rate", "2e-5", "--output-dir", str(tmp_path),
         "--per_device_train_batch_size", "3", "--dataset-split", "validation", "--disable-tqdm", "true"]
    )  # fmt: skip
    assert (training.max_steps, training.learning_rate, training.output_dir) == (1, 2e-5, str(tmp_path))
    assert training.per_device_train_batch_size == 3 and training.disable_tqdm is True
    assert script.dataset_split == "validation"
    help_text = subcommands(build_parser())["train"].format_help()
    assert "--learning-rate" in help_text and "--no-progress" in help_text


def test_train_no_progress_parses_before_the_recipe_check(tmp_path):
    res = adamllm("train", "--no-progress", "--config", tmp_path / "missing.yaml", "--max-steps", "1")
    assert res.returncode == 1 and error_lines(res)[0].startswith("adamllm train: error: recipe not found")


def test_share_is_a_plain_flag():
    parser = build_parser()
    assert parser.parse_args(["demo", "--share"]).share is True
    assert parser.parse_args(["demo"]).share is False


def test_space_readme_documents_demo_flags_that_parse():
    """Every flag the Space card's `adamllm demo` line lists parses as written there."""
    import re

    text = (REPO / "spaces/synthesizer/README.md").read_text(encoding="utf-8")
    (line,) = [line for line in text.splitlines() if line.startswith("adamllm demo")]
    flags = re.findall(r"(--[a-z-]+)((?: [A-Z]+| [a-z]+\|[a-z|]+)?)", line)
    assert flags, line
    placeholders = {"HOST": "127.0.0.1", "PORT": "7861"}
    parser = build_parser()
    for flag, value in flags:
        argv = ["demo", flag] + ([placeholders.get(value.strip(), value.strip().split("|")[0])] if value else [])
        parser.parse_args(argv)  # argparse exits 2 on a documented flag or value it does not accept


def test_demo_address_from_flags_then_gradio_env():
    from hub_tools.commands.demo import server_address

    env = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "9001"}
    assert server_address(None, None, {}) == ("127.0.0.1", 7860)
    assert server_address(None, None, env) == ("0.0.0.0", 9001)
    assert server_address("localhost", 8000, env) == ("localhost", 8000)
    assert server_address(None, 8000, env) == ("0.0.0.0", 8000)
    with pytest.raises(ValueError, match="GRADIO_SERVER_PORT"):
        server_address(None, None, {"GRADIO_SERVER_PORT": "http"})
    res = adamllm("demo", env_extra={"GRADIO_SERVER_PORT": "http"})
    assert res.returncode == 2 and error_lines(res) == [
        "adamllm demo: error: GRADIO_SERVER_PORT='http' is not a port number"
    ]


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path):
    assert adamllm("sample-data", "--output", tmp_path / "s").returncode == 0
    pairs = tmp_path / "s" / "image_caption_pairs.json"
    res = adamllm("validate-pairs", pairs, env_extra={"ADAMLLM_PROGRESS_INTERVAL": "0"})
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.startswith("validating pairs:")]
    assert len(lines) >= 2 and "24/" not in lines[0] and "24pair" in lines[-1], res.stderr
    assert "\r" not in res.stderr and "\x1b" not in res.stderr
    quiet = adamllm("validate-pairs", pairs, "--no-progress")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_progress_bar_interval_and_switch(monkeypatch):
    from hub_tools import defaults

    out = io.StringIO()
    monkeypatch.setenv(defaults.PROGRESS_INTERVAL_ENV, "3600")
    defaults.set_progress(True)  # an in-process command of an earlier test may have left it off
    with defaults.progress_bar(total=5, desc="step", unit="x", file=out) as bar:
        bar.update(5)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("step: 100% 5/5") and len(lines) == 1  # nothing before the first item is done
    out = io.StringIO()
    with defaults.progress_bar(total=0, desc="empty", unit="row", file=out):
        pass
    assert out.getvalue() == ""  # an empty stage draws no "0row" bar
    defaults.set_progress(False)
    try:
        out = io.StringIO()
        for _ in defaults.progress_bar(range(3), desc="hidden", file=out):
            pass
        assert out.getvalue() == ""
    finally:
        defaults.set_progress(True)
