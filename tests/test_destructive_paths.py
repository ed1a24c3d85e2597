"""Hostile checks of every destructive path (docs/destructive_flags.md): nothing the project did not write is deleted.

Each test plants the user's files in a temporary folder (a fake HOME with ``images/`` and ``notes.txt``, a git
repository, a symbolic-link RUN_DIR, a mistyped benchmark folder next to real predictions, an earlier report, a
link swapped during synthesis, a 2 GB caption), then checks the user's bytes (hashes before and after), the exit
code and the one line. One subprocess per CLI behaviour; the rest runs in-process. No model is loaded: every
refusal happens before loading.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOOD = (
    "Answer with a precise response.\nWhich organ?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    "Kidney.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nAnswer with an informative response.\n"
    "Which organ?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nThe organ is the kidney.<|eot_id|>"
)
PICK = "pick an empty or new folder"


# -- helpers -------------------------------------------------------------------------------------------
def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (not following links): file -> sha256, link -> its target, folder -> 'dir'."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                found[rel] = "link:" + os.readlink(path)
            elif path.is_dir():
                found[rel] = "dir"
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def adamllm(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    cmd = [sys.executable, "-m", "hub_tools", *args]
    return subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)


def one_line(done: subprocess.CompletedProcess, command: str, *needles: str) -> str:
    """The refusal is exactly one line on stderr, ``adamllm COMMAND: error: ...``, holding every needle."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"adamllm {command}: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def png(path: Path, color=(200, 30, 30), size=(16, 16)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def pair(image: str, caption: str) -> dict:
    return {
        "messages": [{"role": "user", "content": "<image>Describe."}, {"role": "assistant", "content": caption}],
        "images": [image],
    }


class FakeEngine:
    """Canned generations (a complete triplet every time): no model."""

    from hub_tools.synthesis import LLAMA3 as turn_format

    def generate(self, batch):
        return [GOOD for _ in batch]


def synth_config(pairs: Path, out: Path, overwrite: bool = False):
    from hub_tools.synthesis.runner import SynthesisConfig

    return SynthesisConfig(pairs=str(pairs), output=str(out), synthesizer="fake", batch_size=4, overwrite=overwrite)


# -- planted folders -----------------------------------------------------------------------------------
@pytest.fixture
def home(tmp_path) -> Path:
    """A fake HOME: ``images/`` (named like a run dir's folder), ``notes.txt``, a hidden file."""
    home = tmp_path / "home"
    png(home / "images" / "0.png")
    png(home / "images" / "holiday.png", (10, 120, 10))
    (home / "notes.txt").write_text("my notes\n")
    (home / ".bashrc").write_text("export X=1\n")
    return home


@pytest.fixture
def git_repo(tmp_path) -> Path:
    """A git repository with its own README.md and a folder named like a dataset config."""
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README.md").write_text("# my project\n")
    (repo / "image_caption_pairs").mkdir()
    (repo / "image_caption_pairs" / "mine.txt").write_text("keep me\n")
    (repo / "SLAKE").mkdir()
    (repo / "SLAKE" / "notes.md").write_text("keep me too\n")
    return repo


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pairs")
    records = [pair(str(png(root / "images" / f"p{i}.png", (20 * i, 40, 90)).relative_to(root)), f"A plate {i}.")
               for i in range(6)]  # fmt: skip
    path = root / "pairs.json"
    path.write_text(json.dumps(records))
    return path


@pytest.fixture(scope="module")
def run_dir(pairs_file, tmp_path_factory) -> Path:
    """A finished run dir (synthesize -> lexical filter -> compose) made in-process with a fake engine."""
    from hub_tools.filtering import load_checker
    from hub_tools.pipeline import run_pipeline

    out = tmp_path_factory.mktemp("runs") / "run"
    run_pipeline(synth_config(pairs_file, out), load_checker("lexical"), engine=FakeEngine())
    return out


# -- 1. ownership: RUN_DIR and --output folders ----------------------------------------------------------
def test_synthesize_overwrite_into_home_is_refused_and_touches_nothing(home, pairs_file):
    before = snapshot(home)
    done = adamllm(
        "synthesize", "--pairs", str(pairs_file), "--output", str(home), "--synthesizer", "x", "--overwrite"
    )
    assert done.returncode == 1
    one_line(done, "synthesize", str(home), "images", "notes.txt", "not written by adamllm", PICK)
    assert snapshot(home) == before  # no images/ removed, not even a lock file created


def test_pipeline_into_a_symlinked_run_dir_is_refused(tmp_path, home, pairs_file):
    link = tmp_path / "run"
    link.symlink_to(home, target_is_directory=True)
    before = snapshot(home)
    done = adamllm(
        "pipeline", "--pairs", str(pairs_file), "--output", str(link), "--synthesizer", "x", "--checker", "lexical",
        "--overwrite",
    )  # fmt: skip
    assert done.returncode == 1
    one_line(done, "pipeline", str(link), "symbolic link", PICK)
    assert snapshot(home) == before and link.is_symlink()


def test_overwrite_in_a_run_dir_removes_only_the_stage_outputs(run_dir, pairs_file, tmp_path):
    """In-process: --overwrite of a real run dir keeps the user's file in it and starts over."""
    import shutil

    from hub_tools.rundir.ownership import OutputRefused, clear_run_outputs
    from hub_tools.synthesis.runner import synthesize

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    (run / "my-notes.txt").write_text("mine\n")
    synthesize(synth_config(pairs_file, run, overwrite=True), engine=FakeEngine())
    assert (run / "my-notes.txt").read_text() == "mine\n"
    assert not (run / "filter").exists() and not (run / "compose").exists()  # the earlier run's stages went
    # a planted link among the stage outputs refuses the whole removal, before anything goes
    outside = tmp_path / "outside"
    png(outside / "keep.png")
    shutil.rmtree(run / "images")
    (run / "images").symlink_to(outside, target_is_directory=True)
    before = snapshot(outside), snapshot(run / "synthesis")
    with pytest.raises(OutputRefused, match="symbolic link"):
        clear_run_outputs(run)
    assert (snapshot(outside), snapshot(run / "synthesis")) == before


def test_filter_and_compose_remove_nothing_outside_a_run_dir(tmp_path, run_dir):
    """A folder holding synthesis/ and filter/ but no run manifest is not a run dir: nothing in it is removed."""
    import shutil

    from hub_tools.compose import compose_run
    from hub_tools.filtering import filter_run, load_checker
    from hub_tools.rundir.ownership import OutputRefused

    user = tmp_path / "user"
    shutil.copytree(run_dir, user)
    (user / "manifest.json").write_text('{"name": "my web app"}')  # a user's manifest.json is no marker
    before = snapshot(user)
    with pytest.raises(OutputRefused, match=PICK):
        filter_run(user, load_checker("lexical"), overwrite=True, progress=False)
    with pytest.raises(OutputRefused, match=PICK):
        compose_run(user, mode="two-stage")
    assert snapshot(user) == before


def test_build_dataset_overwrite_into_a_git_repo_is_refused(run_dir, git_repo):
    before = snapshot(git_repo)
    done = adamllm("build-dataset", str(run_dir), "--output", str(git_repo), "--overwrite", "--no-progress")
    assert done.returncode == 1
    one_line(done, "build-dataset", str(git_repo), ".git", "README.md", "not written by adamllm", PICK)
    assert snapshot(git_repo) == before


def test_build_dataset_overwrite_replaces_only_its_own_outputs(run_dir, tmp_path):
    from hub_tools.publish.dataset import build_visual_instructions
    from hub_tools.rundir.ownership import read_owner

    out = tmp_path / "dataset"
    build_visual_instructions(run_dir, out, progress=False)
    (out / "my-notes.txt").write_text("mine\n")
    owner = read_owner(out)
    assert owner.writer == "adamllm build-dataset" and "README.md" in owner.entries
    build_visual_instructions(run_dir, out, overwrite=True, progress=False)
    assert (out / "my-notes.txt").read_text() == "mine\n"
    assert (out / "image_caption_pairs").is_dir() and (out / "README.md").is_file()


def test_build_benchmark_into_a_git_repo_is_refused(git_repo):
    from hub_tools.evaluation.benchmarks import build_benchmark
    from hub_tools.evaluation.raw_readers import TaskSource
    from hub_tools.rundir.ownership import OutputRefused

    rows_read = []
    source = TaskSource("SLAKE", "medical", iter(rows_read), "raw", "prompt", "label")
    before = snapshot(git_repo)
    with pytest.raises(OutputRefused, match=PICK):
        build_benchmark([source], git_repo, domain="biomed", overwrite=True, progress=False)
    assert snapshot(git_repo) == before


def test_world_sample_data_and_demo_rows_refuse_a_user_folder(home):
    """Three writers of data folders (``world``, ``sample-data``, ``train --write-demo-data``) into HOME."""
    before = snapshot(home)
    for argv, command in (
        (["world", "--output", str(home)], "world"),
        (["sample-data", "--output", str(home)], "sample-data"),
        (["train", "--write-demo-data", str(home)], "train"),
    ):
        done = adamllm(*argv)
        assert done.returncode == 1, (argv, done.stderr)
        one_line(done, command, str(home), "not written by adamllm", PICK)
    assert snapshot(home) == before


def test_tiny_models_never_replace_a_folder_they_did_not_build(tmp_path):
    models = tmp_path / "models"
    (models / "llama").mkdir(parents=True)
    (models / "llama" / "model.safetensors").write_bytes(b"my real weights")
    before = snapshot(models)
    done = adamllm("tiny-models", "--output", str(models), "--no-tuned", "--no-progress")
    assert done.returncode == 1
    one_line(done, "tiny-models", str(models / "llama"), "not a tiny model", PICK)
    assert snapshot(models) == before  # checked before anything was built: no qwen2_vl/ either


def test_doctor_repair_refuses_a_folder_that_is_no_run_dir(home):
    (home / "stats.json").write_text("{not json")  # would be moved to quarantine/ in a run dir
    before = snapshot(home)
    done = adamllm("doctor", str(home), "--repair")
    assert done.returncode == 1
    one_line(done, "doctor", str(home), "not written by adamllm", PICK)
    assert snapshot(home) == before


def test_train_output_dir_that_is_a_user_folder_is_refused(tmp_path, home):
    """``adamllm train`` would write weights and a README.md card into output_dir."""
    from hub_tools.rundir.ownership import OutputRefused, prepare_train_folder

    before = snapshot(home)
    with pytest.raises(OutputRefused, match=PICK):
        prepare_train_folder(home)
    assert snapshot(home) == before
    fresh = prepare_train_folder(tmp_path / "model")
    assert prepare_train_folder(fresh) == fresh  # its own folder again: a resume


# -- 2. check everything, then delete ---------------------------------------------------------------------
@pytest.fixture
def earlier_evaluation(tmp_path) -> Path:
    """An evaluation folder as ``adamllm evaluate`` leaves it (marker, run.json, predictions, scores)."""
    from hub_tools.evaluation.harness import EVALUATION_OUTPUTS, EVALUATION_WRITER
    from hub_tools.rundir.ownership import claim

    out = tmp_path / "eval"
    claim(out, EVALUATION_WRITER, EVALUATION_OUTPUTS)
    settings = {"model": "m", "max_new_tokens": None, "min_pixels": 50176, "max_pixels": 1003520}
    (out / "run.json").write_text(json.dumps({**settings, "prompt_format": "released"}))
    (out / "predictions").mkdir()
    (out / "predictions" / "SLAKE.jsonl").write_text('{"id": 0, "prediction": "yes", "score": 1.0}\n')
    (out / "scores.json").write_text('{"tasks": {"SLAKE": {}}}\n')
    return out


def test_evaluate_overwrite_with_a_mistyped_benchmark_dir_keeps_the_predictions(
    earlier_evaluation, tmp_path, tiny_models
):
    real = tmp_path / "benchmarks"
    (real / "SLAKE").mkdir(parents=True)
    before = snapshot(earlier_evaluation)
    done = adamllm(
        "evaluate", "--model", str(tiny_models["qwen2_vl"]), "--tasks", "SLAKE", "--output", str(earlier_evaluation),
        "--benchmark-dir", str(tmp_path / "benchmark"), "--overwrite", "--no-progress",
    )  # fmt: skip
    assert done.returncode == 1
    one_line(done, "evaluate", "benchmark folder not found", str(tmp_path / "benchmark"))
    assert snapshot(earlier_evaluation) == before


def test_evaluate_overwrite_into_a_folder_it_did_not_write_is_refused(home, tmp_path):
    from hub_tools.evaluation.harness import prepare_evaluation_folder
    from hub_tools.rundir.ownership import OutputRefused

    (home / "predictions").mkdir()
    (home / "predictions" / "mine.jsonl").write_text("{}\n")
    before = snapshot(home)
    with pytest.raises(OutputRefused, match=PICK):
        prepare_evaluation_folder(home, overwrite=True)
    assert snapshot(home) == before


# -- 3. reports are outputs -------------------------------------------------------------------------------
def test_ablate_refuses_an_earlier_report_before_any_work(tmp_path):
    from hub_tools.miniature.ablate import ABLATE_OUTPUTS, ABLATE_WRITER
    from hub_tools.rundir.ownership import claim

    out = tmp_path / "ablate"
    claim(out, ABLATE_WRITER, ABLATE_OUTPUTS)
    (out / "ABLATIONS.md").write_text("# the tables of last week\n")
    (out / "ablations.json").write_text("{}\n")
    before = snapshot(out)
    done = adamllm("ablate", "--small", "--output", str(out), "--no-progress")
    assert done.returncode == 1
    one_line(done, "ablate", "ABLATIONS.md", "--overwrite")
    assert snapshot(out) == before
    assert "[1/8]" not in done.stdout  # refused before the first stage


def test_quickstart_refuses_an_earlier_report_and_a_user_folder(tmp_path, home):
    from hub_tools.miniature.quickstart import QUICKSTART_OUTPUTS, QUICKSTART_WRITER
    from hub_tools.rundir.ownership import OutputRefused, claim

    out = tmp_path / "qs"
    claim(out, QUICKSTART_WRITER, QUICKSTART_OUTPUTS)
    (out / "REPORT.md").write_text("# earlier\n")
    before = snapshot(out)
    done = adamllm("quickstart", "--small", "--output", str(out), "--no-progress")
    assert done.returncode == 1
    one_line(done, "quickstart", "REPORT.md", "--overwrite")
    assert snapshot(out) == before
    from hub_tools.miniature.quickstart import prepare_quickstart

    home_before = snapshot(home)
    with pytest.raises(OutputRefused, match=PICK):
        prepare_quickstart(home, overwrite=True)
    assert snapshot(home) == home_before


def test_ablate_overwrite_removes_only_what_the_marker_lists(tmp_path):
    """In-process: --overwrite removes the earlier run's listed outputs; the user's file in the folder stays."""
    from hub_tools.miniature.ablate import ABLATE_OUTPUTS, ABLATE_WRITER, prepare_ablations
    from hub_tools.rundir.ownership import claim

    out = tmp_path / "ablate"
    claim(out, ABLATE_WRITER, ABLATE_OUTPUTS)
    (out / "ABLATIONS.md").write_text("old\n")
    (out / "eval").mkdir()
    (out / "eval" / "x.json").write_text("{}")
    (out / "notes.txt").write_text("mine\n")
    prepare_ablations(out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [".adamllm-owner.json", "notes.txt"]


def test_compare_refuses_to_replace_an_existing_chart(tmp_path):
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "scores.json").write_text(json.dumps({"model": side, "tasks": {}}))
    chart = tmp_path / "compare.png"
    chart.write_bytes(b"my hand-made chart")
    done = adamllm("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--output", str(chart))
    assert done.returncode == 1
    one_line(done, "compare", str(chart), "--overwrite")
    assert chart.read_bytes() == b"my hand-made chart"


# -- 4. races and giants are per record -------------------------------------------------------------------
def test_a_link_that_cannot_be_resolved_any_more_rejects_its_record(tmp_path, monkeypatch):
    """The Errno 22 of a link swapped for a file while it is resolved: one record's rejection, not a crash."""
    import errno

    from hub_tools.data import BadInput, resolve_image_path

    png(tmp_path / "images" / "real.png")
    (tmp_path / "images" / "swap.png").symlink_to("real.png")
    real_readlink = os.readlink

    def swapped(path, *args, **kwargs):  # the link became a regular file between lstat and readlink
        if str(path).endswith("swap.png"):
            raise OSError(errno.EINVAL, "Invalid argument", str(path))
        return real_readlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "readlink", swapped)
    with pytest.raises(BadInput, match="could not be resolved"):
        resolve_image_path("images/swap.png", tmp_path)


def test_a_folder_swapped_for_a_link_after_the_check_is_not_read(tmp_path):
    from hub_tools.data import BadInput, load_image, resolve_image_path

    root, user = tmp_path / "root", tmp_path / "user"
    png(root / "sub" / "img.png", (1, 2, 3))
    png(user / "img.png", (250, 250, 250))
    checked = resolve_image_path("sub/img.png", root)  # the reader's check: inside the root, no link
    (root / "sub").rename(root / "sub.away")
    (root / "sub").symlink_to(user, target_is_directory=True)  # the swap
    before = snapshot(user)
    with pytest.raises(BadInput, match="changed after it was checked"):
        load_image(str(checked))
    (root / "sub").unlink()
    with pytest.raises(BadInput, match="not found"):
        load_image(str(checked))  # deleted between check and open
    assert snapshot(user) == before


def test_synthesis_goes_on_while_a_background_thread_swaps_links(tmp_path):
    """A thread swaps a link (to a file, away, back) and a folder (for a link out of the root) during synthesis:
    every record ends as a row, no crash, and no pixel of the user's outside image reaches the run."""
    from PIL import Image

    from hub_tools.rundir import iter_records
    from hub_tools.synthesis.runner import synthesize

    root, user = tmp_path / "data", tmp_path / "user"
    png(root / "images" / "real.png", (0, 0, 255))
    png(root / "sub" / "img.png", (0, 0, 255))
    png(user / "img.png", (255, 0, 0))  # the user's image outside the data folder
    (root / "images" / "swap.png").symlink_to("real.png")
    records = [pair("images/swap.png" if i % 2 else "sub/img.png", f"A plate {i}.") for i in range(200)]
    (root / "pairs.json").write_text(json.dumps(records))
    stop = threading.Event()
    user_before = snapshot(user)

    def swapper():
        link, sub = root / "images" / "swap.png", root / "sub"
        while not stop.is_set():
            link.unlink()
            link.write_bytes((root / "images" / "real.png").read_bytes())  # a link becomes a file
            link.unlink()  # ... then nothing
            link.symlink_to("real.png")
            sub.rename(root / "sub.away")
            sub.symlink_to(user, target_is_directory=True)  # a checked folder becomes a link out of the root
            sub.unlink()
            (root / "sub.away").rename(sub)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    thread = threading.Thread(target=swapper, daemon=True)
    thread.start()
    try:
        synthesize(synth_config(root / "pairs.json", tmp_path / "run"), engine=FakeEngine())
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    rows = list(iter_records(tmp_path / "run" / "synthesis"))
    assert len(rows) == 200 and len({r["id"] for r in rows}) == 200
    statuses = Counter(r["status"] for r in rows)
    assert set(statuses) <= {"synthesized", "rejected"}
    assert all(r["reason"] for r in rows if r["status"] == "rejected")
    for row in rows:
        if row["status"] == "synthesized":
            with Image.open(tmp_path / "run" / row["image"]) as img:
                assert img.convert("RGB").getpixel((0, 0)) == (0, 0, 255), row
    assert snapshot(user) == user_before


def test_a_record_over_the_cap_is_rejected_and_the_run_goes_on(tmp_path, monkeypatch):
    """In-process, with the cap lowered to 4 KiB: the cap is per record, the other records are synthesized."""
    import hub_tools.data.json_stream as js
    from hub_tools.rundir import iter_records
    from hub_tools.synthesis.runner import synthesize

    monkeypatch.setattr(js, "MAX_RECORD_BYTES", 4096)
    png(tmp_path / "images" / "a.png")
    for suffix in (".jsonl", ".json"):
        records = [pair("images/a.png", "small"), pair("images/a.png", "x" * 50_000), pair("images/a.png", "ok")]
        path = tmp_path / f"pairs{suffix}"
        text = "".join(json.dumps(r) + "\n" for r in records) if suffix == ".jsonl" else json.dumps(records)
        path.write_text(text)
        run = tmp_path / f"run{suffix}"
        synthesize(synth_config(path, run), engine=FakeEngine())
        rows = sorted(iter_records(run / "synthesis"), key=lambda r: r["source"]["index"])
        assert [r["status"] for r in rows] == ["synthesized", "rejected", "synthesized"]
        assert "record too large" in rows[1]["reason"] and "4096" in rows[1]["reason"]


GIANT_SCRIPT = r"""
import json, sys
from hub_tools.data import read_pairs
from hub_tools.data.json_stream import MAX_RECORD_BYTES

def hwm():  # this process's peak RSS (VmHWM is per address space: ru_maxrss would carry the parent's over exec)
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))

path = sys.argv[1]
base = hwm()
out = [(type(r).__name__, getattr(r, "reason", None)) for r in read_pairs(path, check_images=False)]
print(json.dumps({"records": out, "base_kib": base, "peak_kib": hwm(), "cap": MAX_RECORD_BYTES}))
"""


@pytest.mark.slow
def test_a_2gb_caption_is_rejected_in_bounded_memory(tmp_path):
    """A valid JSONL record whose caption alone is 2 GB (written in chunks): rejected per record with the real
    64 MiB cap named, the next record read, peak RSS of the reading process under 300 MB."""
    size = 2 << 30
    path = tmp_path / "giant.jsonl"
    head = json.dumps(pair("images/a.png", "")).split('""}]')[0]  # up to the caption's opening quote
    with open(path, "w") as fh:
        fh.write(json.dumps(pair("images/a.png", "first")) + "\n")
        fh.write(head + '"')
        block = "a" * (1 << 26)
        for _ in range(size // len(block)):
            fh.write(block)
        fh.write('"}], "images": ["images/a.png"]}\n')
        fh.write(json.dumps(pair("images/a.png", "last")) + "\n")
    assert path.stat().st_size > size
    done = subprocess.run(
        [sys.executable, "-c", GIANT_SCRIPT, str(path)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    path.unlink()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    kinds = [kind for kind, _ in result["records"]]
    assert kinds == ["ImageCaptionPair", "Rejection", "ImageCaptionPair"]
    reason = result["records"][1][1]
    assert "record too large" in reason and "64 MiB" in reason and str(result["cap"]) in reason
    assert result["peak_kib"] < 300 * 1024, result  # the whole process, imports included
    assert result["peak_kib"] - result["base_kib"] < 200 * 1024, result  # the read itself: the cap plus chunks


def test_the_demo_removes_only_its_own_upload_folder(home, monkeypatch):
    """``adamllm demo`` removes, when it stops, the upload folder it made inside ``GRADIO_TEMP_DIR``: nothing else."""
    from hub_tools.demo import upload_folder

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(home))
    before = snapshot(home)
    with upload_folder() as folder:
        assert folder.parent == home and folder.name.startswith("adamllm-demo-uploads-")
        (folder / "upload.png").write_bytes(b"an upload")
    assert snapshot(home) == before
