"""Every mistake names its fix: a mistyped flag (the subcommand's usage and the closest flag), Ctrl-C during a
resumable stage (how to go on), a metric call that lacks an input (which one, and a call to copy), the metric
cards' examples (they run as printed), and DeepSpeed missing from a run that asks for it (the extra to install).
All in-process: no model is loaded."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from hub_tools import cli

REPO = Path(__file__).resolve().parents[1]
METRICS = ("medical_vqa", "multiple_choice", "multilabel", "rouge_l")


@pytest.mark.parametrize(
    "argv, usage, hint",
    [
        (["synthesize", "--pairz", "p.json", "--output", "r"], "usage: adamllm synthesize", "did you mean --pairs?"),
        (["filter", "runs/x", "--chekcer", "m"], "usage: adamllm filter", "did you mean --checker?"),
        (["pipeline", "--pairs", "p.json", "--outptu", "r"], "usage: adamllm pipeline", "did you mean --output?"),
        (["compose", "runs/x", "--zzz"], "usage: adamllm compose", "see: adamllm compose --help"),
    ],
)
def test_a_mistyped_flag_shows_the_subcommand_usage_and_the_closest_flag(argv, usage, hint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith(usage) and hint in err.splitlines()[-1], err


def test_unique_prefixes_and_train_overrides_are_not_mistakes():
    parser = cli.build_parser()
    cli.check_options(parser, ["synthesize", "--pair", "p.json", "--out", "r"])  # argparse's abbreviations
    cli.check_options(parser, ["train", "--config", "x.yaml", "--learning-rate", "1e-5"])  # recipe overrides


RESUMABLE_ARGV = {
    "synthesize": ["--pairs", "p.json", "--output", "r"],
    "filter": ["r"],
    "compose": ["r"],
    "pipeline": ["--pairs", "p.json", "--output", "r"],
    "evaluate": ["--model", "m", "--output", "e"],
}


@pytest.mark.parametrize("command", cli.RESUMABLE)
def test_ctrl_c_says_how_to_resume(command, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    module = {name: mod for name, mod, _ in cli.COMMANDS}[command]
    monkeypatch.setattr(importlib.import_module(f"hub_tools.commands.{module}"), "run", interrupted)
    assert cli.main([command, *RESUMABLE_ARGV[command]]) == 130
    assert capsys.readouterr().err.strip() == f"adamllm {command}: stopped; rerun the same command to resume"


@pytest.fixture(scope="module")
def metrics():
    import evaluate

    return {name: evaluate.load(str(REPO / "metrics" / name)) for name in METRICS}


CALLS = {
    "medical_vqa": ({"predictions": ["yes"], "references": ["yes"]}, "answer_types"),
    "multiple_choice": ({"predictions": ["B"], "options": [{"A": "x", "B": "y"}]}, "references"),
    "multilabel": ({"predictions": ["rice"], "vocabulary": ["rice"]}, "references"),
    "rouge_l": ({"references": ["mix flour"]}, "predictions"),
}


@pytest.mark.parametrize("name", METRICS)
def test_a_metric_call_without_an_input_names_it_with_a_call_that_runs(name, metrics):
    metric = metrics[name]
    kwargs, missing = CALLS[name]
    with pytest.raises(ValueError) as err:
        metric.compute(**kwargs)
    message = str(err.value)
    assert message.startswith(f"{name}: missing {missing};"), message
    example = message.split(", e.g. ", 1)[1]
    results = eval(example, {"metric": metric})  # the call the message offers runs as written
    assert results and all(isinstance(v, (int, float)) for v in results.values()), results


@pytest.mark.parametrize("name", METRICS)
def test_the_metric_card_example_runs_and_prints_what_it_says(name, metrics, monkeypatch):
    text = (REPO / "metrics" / name / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## How to Use\s+```python\n(.*?)```", text, re.S).group(1)
    expected = re.search(r"^print\(.*\)  # (.+)$", block, re.M).group(1)
    import evaluate

    monkeypatch.chdir(REPO)  # the card loads "metrics/<name>" from a clone
    monkeypatch.setattr(evaluate, "load", lambda path, *a, **k: metrics[Path(path).name])  # already loaded
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, f"metrics/{name}/README.md", "exec"), {})
    assert out.getvalue().strip() == expected


def test_a_deepspeed_run_without_deepspeed_names_the_extra():
    from hub_tools.errors import UsageError
    from hub_tools.training.sft import GPU_EXTRA_FIX, check_deepspeed

    check_deepspeed(SimpleNamespace(deepspeed=None), environ={})  # no DeepSpeed asked for: nothing to check
    installed = importlib.util.find_spec("deepspeed") is not None
    for args, environ in (
        (SimpleNamespace(deepspeed="ds_zero2.json"), {}),
        (SimpleNamespace(deepspeed=None), {"ACCELERATE_USE_DEEPSPEED": "true"}),
    ):
        if installed:
            check_deepspeed(args, environ=environ)
            continue
        with pytest.raises(UsageError) as err:
            check_deepspeed(args, environ=environ)
        assert str(err.value).endswith(GPU_EXTRA_FIX) and '".[gpu]"' in GPU_EXTRA_FIX
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^gpu = \["deepspeed', pyproject, re.M)
    assert os.path.exists(REPO / "recipes" / "accelerate_configs" / "zero2.yaml")
    assert GPU_EXTRA_FIX in (REPO / "recipes" / "accelerate_configs" / "zero2.yaml").read_text()


def test_the_triplet_table_headers_fit_at_80_columns():
    from hub_tools import demo

    widths = [float(w.rstrip("%")) for w in demo.TRIPLET_COLUMN_WIDTHS]
    assert len(widths) == len(demo.TRIPLET_HEADERS) and sum(widths) == 100
    for header, width in zip(demo.TRIPLET_HEADERS, widths):
        assert width / 100 * 80 >= len(header) + 2, f"{header!r} wraps in {width}% of 80 columns"
    app = (REPO / "spaces" / "synthesizer" / "app.py").read_text()
    assert "column_widths=core.TRIPLET_COLUMN_WIDTHS" in app and "white-space: nowrap" in app


def test_the_demo_hint_names_real_flags():
    from hub_tools.commands.demo import url_line

    assert url_line("http://127.0.0.1:7860/", None, False) == (
        "open http://127.0.0.1:7860/ in a browser (Ctrl-C stops the server); --share adds a public gradio.live link"
    )
    assert url_line("http://127.0.0.1:7860/", "https://x.gradio.live", True).endswith(
        "public link https://x.gradio.live"
    )
