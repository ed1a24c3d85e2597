"""A new user's first hour (issue 22): every mistake is one line naming its fix, exits non-zero, and leaves nothing
that blocks the corrected command. Each test runs ``adamllm`` as a user does (subprocess: exit code, exact lines)."""

from __future__ import annotations

import os
import subprocess
import sys
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
