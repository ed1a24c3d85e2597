"""A new user's first hour (issue 22): every mistake is one line naming its fix, exits non-zero, and leaves nothing
that blocks the corrected command. Each test runs ``adamllm`` as a user does (subprocess: exit code, exact lines)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OVERWRITE_TAIL = "; resume with the same settings, or rerun with --overwrite to start over"


def adamllm(*args, cwd: Path) -> subprocess.CompletedProcess:
    """``adamllm ARGS`` in ``cwd``, offline."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "hub_tools", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture()
def work(tmp_path, sample_pairs) -> Path:
    """A working folder holding ``pairs.json`` (the bundled samples, images beside it)."""
    import shutil

    shutil.copytree(sample_pairs.parent, tmp_path / "samples")
    return tmp_path


def pipeline(work: Path, synthesizer, checker="lexical", pairs="samples/image_caption_pairs.json", *extra):
    return adamllm(
        "pipeline", "--pairs", pairs, "--output", "run", "--synthesizer", synthesizer, "--checker", checker,
        "--max-new-tokens", "8", "--limit", "3", "--no-progress", *extra, cwd=work,
    )  # fmt: skip


# -- 2. no mistake leaves something behind -----------------------------------------------------------------------
def test_mistakes_in_pipeline_leave_no_run_dir_and_the_corrected_command_runs(work, tiny_models):
    synth = str(tiny_models["qwen2_vl"])
    typo = synth[:-1]  # .../qwen2_v
    bad = pipeline(work, synth, "lexical", "nope.json")
    assert bad.returncode == 1 and lines(bad.stderr) == ["adamllm pipeline: error: pairs file not found: 'nope.json'"]
    assert bad.stdout == "" and not (work / "run").exists()

    bad = pipeline(work, typo)
    assert bad.returncode == 1, bad.stderr
    assert lines(bad.stderr) == [
        f"adamllm pipeline: error: the synthesizer folder {typo!r} does not exist; did you mean {synth!r}?"
    ]
    assert not (work / "run").exists()

    checker_typo = str(tiny_models["llama"]) + "3"
    bad = pipeline(work, synth, checker_typo)
    assert bad.returncode == 1 and lines(bad.stderr) == [
        f"adamllm pipeline: error: the checker folder {checker_typo!r} does not exist; "
        f"did you mean {str(tiny_models['llama'])!r}?"
    ]
    assert not (work / "run").exists()  # checked before synthesis, not after it

    good = pipeline(work, synth)
    assert good.returncode == 0, good.stderr[-2000:]
    assert "pairs in        3" in good.stdout


def test_every_settings_mismatch_is_one_line_exit_2_naming_overwrite(work, tiny_models):
    synth, other = str(tiny_models["qwen2_vl"]), str(tiny_models["llava_next"])
    assert pipeline(work, synth).returncode == 0
    run = work / "run"

    changed_synth = pipeline(work, other)
    assert changed_synth.returncode == 2
    assert lines(changed_synth.stderr) == [
        f"adamllm pipeline: error: run already holds a synthesis run with different settings "
        f"(synthesizer: run has {synth!r}, this command has {other!r}){OVERWRITE_TAIL}"
    ]
    llama = str(tiny_models["llama"])
    for cmd in (["pipeline"], ["filter"]):
        if cmd == ["pipeline"]:
            res = pipeline(work, synth, llama)
        else:
            res = adamllm("filter", "run", "--checker", llama, "--no-progress", cwd=work)
        assert res.returncode == 2, res.stderr
        assert lines(res.stderr)[-1] == (
            f"adamllm {cmd[0]}: error: run already holds a filter run with different settings "
            f"(checker: run has 'lexical', this command has {llama!r}; "
            f"decision: run has 'lexical', this command has 'released'){OVERWRITE_TAIL}"
        )
    redo = adamllm("filter", "run", "--checker", llama, "--no-progress", "--overwrite", cwd=work)
    assert redo.returncode == 0, redo.stderr[-2000:]
    assert lines(redo.stdout)[0] == "judged 0 item(s) of 3 pair(s) (0 done before)"
    assert (run / "filter").is_dir()


# -- 3. wrong input layouts exit non-zero and say what was expected ---------------------------------------------
def test_wrong_layouts_exit_1_naming_the_expected_layout_and_the_fix(tmp_path):
    (tmp_path / "flat.jsonl").write_text(
        '{"image": "images/a.png", "caption": "a plate"}\n{"image": "images/b.png", "caption": "a scan"}\n'
    )
    res = adamllm("validate-pairs", "flat.jsonl", cwd=tmp_path)
    assert res.returncode == 1 and res.stdout == ""
    (line,) = lines(res.stderr)
    assert line.startswith(
        "adamllm validate-pairs: error: no pair accepted from 'flat.jsonl' (rejected: record has no 'messages' (2)); "
        'a .jsonl file is read as ShareGPT records, one per pair: {"images": ["a.png"], "messages": '
    )
    assert line.endswith(
        "; these records look like image/caption rows (keys 'image', 'caption'): write them as a .csv, .tsv or "
        ".parquet table and read it with --image-column image --caption-column caption, or as metadata.jsonl "
        "(file_name + caption) in the image folder"
    )
    (tmp_path / "other.csv").write_text("picture,text\na.png,hello\n")
    res = adamllm("validate-pairs", "other.csv", cwd=tmp_path)
    assert res.returncode == 1 and lines(res.stderr) == [
        "adamllm validate-pairs: error: 'other.csv' has no column 'image'; its columns are 'picture', 'text': "
        "read it with --image-column picture --caption-column text"
    ]
    ok = adamllm("validate-pairs", "other.csv", "--image-column", "picture", "--caption-column", "text", cwd=tmp_path)
    assert "no column" not in ok.stderr  # the flags map the columns (the image itself is missing here)


def test_a_folder_holding_the_pairs_file_points_at_it(work):
    res = adamllm("validate-pairs", "samples", cwd=work)
    assert res.returncode == 1 and lines(res.stderr) == [
        "adamllm validate-pairs: error: 'samples' is a folder; give the pairs file inside it: "
        "'samples/image_caption_pairs.json'"
    ]


def test_pipeline_on_another_layout_or_an_all_rejected_input_exits_1(work, tiny_models):
    (work / "flat.jsonl").write_text('{"image": "a.png", "caption": "a plate"}\n')
    res = pipeline(work, str(tiny_models["qwen2_vl"]), "lexical", "flat.jsonl")
    assert res.returncode == 1 and not (work / "run").exists()  # refused before anything is written
    assert lines(res.stderr)[-1].startswith("adamllm pipeline: error: no pair accepted from 'flat.jsonl'")
    record = '{"images": ["gone%d.png"], "messages": [{"role": "user", "content": "<image>"}, ' + (
        '{"role": "assistant", "content": "a plate"}]}'
    )
    (work / "gone.jsonl").write_text("\n".join(record % n for n in range(2)) + "\n")
    res = pipeline(work, str(tiny_models["qwen2_vl"]), "lexical", "gone.jsonl")
    assert res.returncode == 1, res.stderr[-2000:]
    assert lines(res.stderr)[-1] == (
        "adamllm pipeline: error: no pair accepted from 'gone.jsonl': all 2 records were rejected "
        "(`adamllm validate-pairs gone.jsonl` lists why)"
    )
    assert "rejected      2" in res.stdout  # the summary still says what happened


# -- 6. quiet where nothing is happening ----------------------------------------------------------------------------
def test_no_progress_line_before_an_input_error_nor_for_an_empty_input(tmp_path):
    res = adamllm("validate-pairs", "missing.json", cwd=tmp_path)
    assert (
        res.returncode == 1 and res.stderr == "adamllm validate-pairs: error: pairs file not found: 'missing.json'\n"
    )
    (tmp_path / "empty.csv").write_text("image,caption\n")
    res = adamllm("validate-pairs", "empty.csv", cwd=tmp_path)
    assert res.returncode == 1 and "0pair" not in res.stderr
    assert lines(res.stderr) == [
        "adamllm validate-pairs: error: no pair accepted from 'empty.csv' (rejected: no records); check that the "
        "image and caption columns are the ones read (--image-column image --caption-column caption)"
    ]


# -- 4. model ids and paths --------------------------------------------------------------------------------------
def test_a_mistyped_model_folder_names_the_closest_one_and_a_hub_id_fails_in_one_line(tmp_path):
    (tmp_path / "outputs" / "offline" / "student").mkdir(parents=True)
    args = ("--tasks", "SLAKE", "--output", "eval", "--benchmark-dir", "bench")
    res = adamllm("evaluate", "--model", "outputs/offline/studnt", *args, cwd=tmp_path)
    assert res.returncode == 1 and lines(res.stderr) == [
        "adamllm evaluate: error: the model folder 'outputs/offline/studnt' does not exist; "
        "did you mean 'outputs/offline/student'?"
    ]
    assert not (tmp_path / "eval").exists()
    res = adamllm("evaluate", "--model", "my-org/qwen2-vl-2b-biomd", *args, cwd=tmp_path)
    assert res.returncode == 1 and lines(res.stderr) == [
        "adamllm evaluate: error: the model 'my-org/qwen2-vl-2b-biomd' is neither a local folder nor in the Hub "
        "cache, and the Hub is offline (HF_HUB_OFFLINE is set): give a local folder "
        "(`hf download my-org/qwen2-vl-2b-biomd --local-dir DIR` where there is network)"
    ]
    # HF_HUB_OFFLINE unset and no network (the endpoint refuses): found once, then honoured; one line, no retries
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_CACHE": str(tmp_path / "hub")}
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "hub_tools", "evaluate", "--model", "my-org/qwen2-vl-2b-biomd", *args]
    res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    (line,) = lines(res.stderr)
    assert res.returncode == 1 and line.startswith(
        "adamllm evaluate: error: the model 'my-org/qwen2-vl-2b-biomd' is not in the Hub cache and this machine "
        "cannot reach the Hub: set HF_HUB_OFFLINE=1 to use only the local Hub cache, or give a local folder"
    ), line
    # a Hub benchmark (datasets' loader, which retried five times with backoff: ~23 s) fails as fast
    cmd = [sys.executable, "-m", "hub_tools", "evaluate", "--model", "outputs/offline/student", "--tasks", "SLAKE"]
    start = time.monotonic()
    res = subprocess.run(
        [*cmd, "--output", "eval"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    seconds = time.monotonic() - start
    (line,) = lines(res.stderr)
    assert res.returncode == 1 and "cannot reach the Hub" in line and "HF_HUB_OFFLINE=1" in line, line
    assert seconds < 15, f"{seconds:.1f} s (five retries with backoff take over 20)"


def test_train_names_a_mistyped_model_folder_before_loading_anything(tmp_path):
    (tmp_path / "outputs" / "offline" / "student").mkdir(parents=True)
    (tmp_path / "r.yaml").write_text((REPO / "recipes/tiny/sft/config.yaml").read_text())
    res = adamllm("train", "--config", "r.yaml", "--model-name-or-path", "outputs/offline/studnt", cwd=tmp_path)
    assert res.returncode == 1 and lines(res.stderr) == [
        "adamllm train: error: the model folder 'outputs/offline/studnt' does not exist; "
        "did you mean 'outputs/offline/student'?"
    ]


# -- 5. recipe mistakes in our words -------------------------------------------------------------------------------
@pytest.fixture()
def recipe(tmp_path) -> Path:
    """A copy of the tiny SFT recipe to break."""
    path = tmp_path / "r.yaml"
    path.write_text((REPO / "recipes/tiny/sft/config.yaml").read_text())
    return path


def test_recipe_mistakes_are_one_line_naming_the_file(recipe, tmp_path):
    text = recipe.read_text()
    recipe.write_text(text + "learning_rat: 1.0e-4\n")
    res = adamllm("train", "--config", "r.yaml", cwd=tmp_path)
    assert res.returncode == 2 and lines(res.stderr) == [
        "adamllm train: error: r.yaml: unknown key 'learning_rat'; did you mean 'learning_rate'?"
    ]
    recipe.write_text(text + "num_train_epochs: three\n")
    res = adamllm("train", "--config", "r.yaml", cwd=tmp_path)
    assert res.returncode == 2 and lines(res.stderr) == [
        "adamllm train: error: argument --num_train_epochs/--num-train-epochs: invalid float value: 'three' "
        "(from r.yaml)"
    ]
    recipe.write_text(text + "lr_scheduler_kwargs: [1, 2\n")
    res = adamllm("train", "--config", "r.yaml", cwd=tmp_path)
    (line,) = lines(res.stderr)
    n = len(text.splitlines()) + 2
    assert res.returncode == 2 and line.startswith(f"adamllm train: error: r.yaml, line {n}, column 1: not valid YAML")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    res = subprocess.run(
        [sys.executable, "-m", "hub_tools.sft", "--config", "r.yaml"], cwd=tmp_path, env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    assert res.returncode == 1 and lines(res.stderr)[-1].startswith("python -m hub_tools.sft: error: r.yaml, line")


def test_overrides_go_before_or_after_config_and_recipes_use_current_keys(recipe):
    import warnings

    from hub_tools.cli import build_parser
    from hub_tools.training.arguments import parse_args

    for argv in (
        ["train", "--max-steps", "3", "--config", str(recipe)],
        ["train", "--config", str(recipe), "--max-steps", "3"],
    ):
        args, extra = build_parser().parse_known_args(argv)
        sft_argv = ["--config", *args.config[:1], *extra, *args.config[1:]]
        _, training_args, _ = parse_args(sft_argv, prog="adamllm train")
        assert training_args.max_steps == 3, argv
    for path in sorted((REPO / "recipes").glob("*/sft/*.yaml")):
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)  # e.g. gradient_checkpointing is deprecated
            parse_args(["--config", str(path), "--output-dir", "/tmp/x", "--bf16", "false", "--use-cpu", "true"])
    help_text = subprocess.run(
        [sys.executable, "-m", "hub_tools.sft", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert help_text.startswith("usage: python -m hub_tools.sft")
    for group in ("data, stages and publishing (ours):", "training (TRL's SFTConfig", "model (TRL's ModelConfig):"):
        assert group in help_text


# -- 7. help and cards ---------------------------------------------------------------------------------------------
def test_help_shows_default_values_and_every_run_dir_command_takes_both_spellings():
    from hub_tools.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, command in sub.choices.items():
        text = command.format_help()
        assert "Config." not in text and "<function" not in text, name
    for name in ("filter", "compose", "doctor"):
        for argv in ([name, "runs/x"], [name, "--output", "runs/x"]):
            assert parser.parse_args(argv).run_dir in ("runs/x", None), argv
    from hub_tools.commands.synthesize import synthesis_config

    for argv in (["synthesize", "runs/x", "--pairs", "p.json"], ["synthesize", "--output", "runs/x", "--pairs", "p"]):
        assert synthesis_config(parser.parse_args(argv)).output == "runs/x"


def test_cards_name_models_alike_and_use_slugs_repo_ids_and_licences(tmp_path):
    from huggingface_hub import ModelCard

    from hub_tools.publish.cards import build_model_card, slug

    base = tmp_path / "base"
    base.mkdir()
    (base / "README.md").write_text("---\nlicense: apache-2.0\n---\n# base\n")
    card = build_model_card(
        base_model=str(base), domain="biomedicine and food (bundled samples)", datasets=[str(tmp_path / "data")]
    )
    data = ModelCard(str(card)).data
    assert "biomedicine-and-food-bundled-samples" in data.tags and all(t == slug(t) for t in data.tags)
    assert data.datasets is None and data.license == "apache-2.0"  # a local folder: no repo id to name


def test_demo_api_names_every_output_and_the_summary_reads_well(app):
    from hub_tools import demo as core

    returns = app.demo.get_api_info()["named_endpoints"]["/synthesize"]["returns"]
    labels = [r["label"] for r in returns]
    assert not [label for label in labels if label.startswith("value_")], labels
    assert labels[0] == "Summary" and returns[-1]["python_type"]["type"] == "filepath"  # the download: a file
    result = core.DemoResult("id", "", ["t"], [{"label": "Yes"}], ["t"], {}, app.checker_label("LLM"), 1)
    summary = core.summary_markdown(result)
    assert f"judged by the LLM checker `{Path(app.MODELS.checker).name}` (Yes)" in summary, summary
    assert "checker checker" not in summary and "(checker) checker" not in summary
