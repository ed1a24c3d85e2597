"""Publishing that holds up on the Hub: the Space's documented upload set installs, `adamllm publish-metrics`
pushes the metric Spaces, and the dataset and model cards carry licence, language, provenance and TRL's fields."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from test_dataset_builders import make_run_dir

REPO = Path(__file__).resolve().parents[1]
METRICS = ("medical_vqa", "multilabel", "multiple_choice", "rouge_l")
FAKE_TOKEN = "hf_FakeTokenForTestsOnly0123456789abcdefXYZ"


def _cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`adamllm ARGS` in a subprocess, as a user runs it (offline unless ``env`` says otherwise)."""
    full = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    full = {k: v for k, v in full.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-m", "hub_tools", *args], capture_output=True, text=True, env=full, cwd=cwd or REPO
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# the synthesizer Space: the documented upload set builds the package
# ---------------------------------------------------------------------------------------------
def documented_upload_set() -> list[tuple[str, str]]:
    """``[(local path, path in the Space repo)]`` from the `hf upload` lines of spaces/synthesizer/README.md."""
    text = (REPO / "spaces" / "synthesizer" / "README.md").read_text(encoding="utf-8")
    pairs = re.findall(r"^hf upload \S+ (\S+) (\S+) --repo-type space$", text, flags=re.MULTILINE)
    assert pairs, "no `hf upload ... --repo-type space` lines in spaces/synthesizer/README.md"
    return pairs


def test_the_documented_space_upload_set_builds_a_wheel(tmp_path):
    space = tmp_path / "space"
    space.mkdir()
    for local, remote in documented_upload_set():
        source, target = REPO / local, space / remote
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    assert (space / "app.py").is_file() and (space / "requirements.txt").read_text().strip().endswith(".")
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(tmp_path / "wheels"), str(space)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    (wheel,) = (tmp_path / "wheels").glob("adamllm_hub-*.whl")
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert "hub_tools/demo/__init__.py" in names and "hub_tools/metrics/medical_vqa/medical_vqa.py" in names


# ---------------------------------------------------------------------------------------------
# adamllm publish-metrics
# ---------------------------------------------------------------------------------------------
def _fake_api():
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoUrl

    api = mock.create_autospec(HfApi, instance=True)
    api.create_repo.side_effect = lambda repo_id, **kw: RepoUrl(f"https://huggingface.co/spaces/{repo_id}")
    return api


@pytest.mark.parametrize("name", METRICS)
def test_each_metric_folder_is_a_valid_gradio_space(name):
    from huggingface_hub import SpaceCard

    from hub_tools.publish.hub import check_space_folder

    folder = REPO / "metrics" / name
    data = SpaceCard.load(folder / "README.md").data
    assert data.sdk == "gradio" and data.app_file == "app.py" and data.license == "apache-2.0"
    assert {"evaluate", "metric"} <= set(data.tags)
    files = check_space_folder(folder)
    # evaluate.load("ORG/<name>") fetches spaces/ORG/<name>/resolve/main/<name>.py
    assert f"{name}.py" in files and "requirements.txt" in files and "app.py" in files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]


def test_publish_metrics_dry_run_lists_the_four_spaces_offline():
    result = _cli("publish-metrics", "my-org", "--dry-run", "--private")
    assert result.returncode == 0, result.stderr
    for name in METRICS:
        assert f"https://huggingface.co/spaces/my-org/{name} (Space, gradio, private)" in result.stdout
        assert f"{name}.py" in result.stdout
    assert "nothing pushed" in result.stdout and "evaluate.load('my-org/medical_vqa')" in result.stdout


def test_publish_metrics_pushes_each_folder_as_a_gradio_space(monkeypatch, capsys):
    from huggingface_hub import constants

    from hub_tools.cli import main

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    api = _fake_api()
    with mock.patch("huggingface_hub.HfApi", autospec=True) as cls:
        cls.return_value = api
        code = main(["publish-metrics", "my-org", "--private"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [c.args[0] for c in api.create_repo.call_args_list] == [f"my-org/{n}" for n in METRICS]
    for call in api.create_repo.call_args_list:
        assert call.kwargs == {"repo_type": "space", "private": True, "exist_ok": True, "space_sdk": "gradio"}
    assert api.upload_folder.call_count == 4
    for name, call in zip(METRICS, api.upload_folder.call_args_list):
        kw = call.kwargs
        assert kw["repo_id"] == f"my-org/{name}" and kw["repo_type"] == "space"
        assert Path(kw["folder_path"]).name == name and (Path(kw["folder_path"]) / f"{name}.py").is_file()
        assert "*.pyc" in kw["ignore_patterns"] and kw["delete_patterns"] is None
        assert "token" not in kw
    assert "published my-org/rouge_l: https://huggingface.co/spaces/my-org/rouge_l" in out
    assert "evaluate.load('my-org/medical_vqa')" in out and FAKE_TOKEN not in out + err


def test_publish_metrics_one_metric_and_an_http_error_in_one_line(monkeypatch, capsys):
    import httpx
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError

    from hub_tools.cli import main

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    api = _fake_api()
    request = httpx.Request("POST", "https://huggingface.co/api/spaces/my-org/rouge_l/commit/main")
    api.upload_folder.side_effect = HfHubHTTPError(
        "403 Forbidden: you cannot write to my-org.\n\nMore help here.", response=httpx.Response(403, request=request)
    )
    with mock.patch("huggingface_hub.HfApi", autospec=True) as cls:
        cls.return_value = api
        code = main(["publish-metrics", "my-org", "--metric", "rouge_l"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.strip() == (
        "adamllm publish-metrics: error: pushing 'my-org/rouge_l' failed: HfHubHTTPError: 403 Forbidden: you cannot "
        "write to my-org."
    )
    assert api.create_repo.call_count == 1


def test_publish_metrics_user_errors_are_one_line(tmp_path):
    env = {"HF_HUB_OFFLINE": "0", "HF_TOKEN": None, "HUGGING_FACE_HUB_TOKEN": None, "HF_HOME": str(tmp_path)}
    no_token = _cli("publish-metrics", "my-org", env=env)
    assert no_token.returncode == 1
    assert no_token.stderr.count("\n") == 1 and "no Hugging Face token" in no_token.stderr, no_token.stderr
    assert "hf auth login" in no_token.stderr and not no_token.stdout

    env = {**env, "HF_TOKEN": FAKE_TOKEN, "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"}
    offline_net = _cli("publish-metrics", "my-org", "--metric", "medical_vqa", env=env)
    assert offline_net.returncode == 1
    assert offline_net.stderr.count("\n") == 1, offline_net.stderr
    assert "pushing 'my-org/medical_vqa' failed" in offline_net.stderr and FAKE_TOKEN not in offline_net.stderr

    offline = _cli("publish-metrics", "my-org")  # HF_HUB_OFFLINE=1
    assert offline.returncode == 1 and "HF_HUB_OFFLINE" in offline.stderr and offline.stderr.count("\n") == 1

    for args, words in ((["my-org/x"], "not a Hub user or organisation"), (["my-org", "--metric", "bleu"], "bleu")):
        bad = _cli("publish-metrics", *args, "--dry-run")
        assert bad.returncode == 2 and words in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr


# ---------------------------------------------------------------------------------------------
# the dataset card of adamllm build-dataset: licence, language, caption-only rows
# ---------------------------------------------------------------------------------------------
def _no_task_run(run: Path) -> dict:
    """A run directory whose stats count one image with no complete triplet (as the pipeline leaves it)."""
    expected = make_run_dir(run)
    lines = (run / "synthesis" / "shard-0-0.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    kept = set(expected["kept_ids"])
    victim = next(r for r in rows if r["status"] == "synthesized" and r["id"] not in kept)
    victim["triplets"] = []
    (run / "synthesis" / "shard-0-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    fil = [json.loads(line) for line in (run / "filter" / "shard-0-0.jsonl").read_text().splitlines()]
    (run / "filter" / "shard-0-0.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in fil if r["id"] != victim["id"])
    )
    com = [json.loads(line) for line in (run / "compose" / "train.jsonl").read_text().splitlines()]
    (run / "compose" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in com if r["id"] != victim["id"]))
    stats = json.loads((run / "stats.json").read_text())
    stats["caption_only"] -= 1
    stats["no_task"] = 1
    (run / "stats.json").write_text(json.dumps(stats))
    return stats


def test_build_dataset_card_defaults_licence_other_and_language_en(tmp_path):
    from huggingface_hub import DatasetCard

    run = tmp_path / "run"
    stats = _no_task_run(run)
    result = _cli("build-dataset", str(run), "--output", str(tmp_path / "out"), "--no-progress")
    assert result.returncode == 0, result.stderr
    card = DatasetCard.load(tmp_path / "out" / "README.md")
    assert card.data.license == "other" and card.data.language == ["en"]
    header = card.data.to_dict()  # the Hub asks a name and a link with `other`
    assert header["license_name"] == "see-licence-section" and header["license_link"] == "README.md"
    text = " ".join(card.text.split())
    assert "No licence was chosen" in text and "--license" in text
    assert (
        "generated by the synthesizer `AdaptLLM/visual-instruction-synthesizer` and judged by the consistency "
        "checker `lexical`, so they inherit the terms of use of those models" in text
    )
    assert f"`caption_only` rows are images whose task was judged not consistent, kept with the caption turn alone ({stats['caption_only']} rows)" in text  # fmt: skip
    assert "the 1 image(s) with no complete task triplet (`no_task`) are not in this config" in text
    assert "images without a kept task keep the caption turn alone" not in text  # the old, wrong wording
    assert "| no complete task triplet (`no_task`: not in the training configs) | 1 |" in text


def test_build_dataset_licence_and_languages_are_the_users_choice(tmp_path, capsys):
    from huggingface_hub import DatasetCard

    from hub_tools.cli import main

    run = tmp_path / "run"
    make_run_dir(run)
    code = main(["build-dataset", str(run), "--output", str(tmp_path / "out"), "--license", "cc-by-4.0",
                 "--language", "en", "--language", "fr", "--no-progress"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    card = DatasetCard.load(tmp_path / "out" / "README.md")
    assert "license_name" not in card.data.to_dict()
    assert card.data.license == "cc-by-4.0" and card.data.language == ["en", "fr"]
    assert [c["config_name"] for c in card.data.configs][0] == "image_caption_and_synthetic_task"
    assert "released under `cc-by-4.0`" in card.text and "inherit the terms of use" in card.text
    capsys.readouterr()
    assert main(["build-dataset", str(run), "--output", str(tmp_path / "o2"), "--language", "English"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'English' is not a language code" in err
    assert not (tmp_path / "o2").exists()


# ---------------------------------------------------------------------------------------------
# the model card of the SFT recipe
# ---------------------------------------------------------------------------------------------
def test_model_card_carries_trl_fields_citation_and_a_local_datasets_hub_id(tmp_path, monkeypatch):
    from huggingface_hub import ModelCard

    from hub_tools.publish.cards import build_model_card, write_model_card
    from hub_tools.publish.dataset import build_visual_instructions

    run = tmp_path / "run"
    make_run_dir(run)
    pushed = build_visual_instructions(run, tmp_path / "pushed", repo_id="someone/food-tasks", progress=False)
    local = build_visual_instructions(run, tmp_path / "local", pretty_name="Food tasks", progress=False)
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    card = build_model_card(
        base_model="Qwen/Qwen2-VL-2B-Instruct",
        domain="food",
        datasets=[str(pushed.output), str(local.output), "you/other-data", str(tmp_path / "missing")],
        recipe_text=f"learning_rate: 1.0e-5\nhub_token: {FAKE_TOKEN}\n",
        stages=[{"name": "single-stage", "rows": 12, "metrics": {"train_loss": 1.5}}],
        model_name="qwen2-vl-2b-food",
    )
    path = write_model_card(tmp_path / "model", card) if (tmp_path / "model").mkdir() is None else None
    loaded = ModelCard.load(path)
    data = loaded.data
    assert data.base_model == "Qwen/Qwen2-VL-2B-Instruct"
    assert data.datasets == ["someone/food-tasks", "you/other-data"]  # repo ids only (the local folder: body)
    assert "Food tasks" in loaded.text
    assert data.library_name == "transformers" and data.pipeline_tag == "image-text-to-text"
    assert {"trl", "sft", "adamllm", "food"} <= set(data.tags)
    assert data.model_name == "qwen2-vl-2b-food"
    text = loaded.text
    from importlib.metadata import version

    for label, dist in (("TRL", "trl"), ("Transformers", "transformers"), ("PyTorch", "torch"),
                        ("Datasets", "datasets"), ("huggingface_hub", "huggingface-hub")):  # fmt: skip
        assert f"- {label}: {version(dist)}" in text
    assert "@article{cheng2024adamllm" in text and "arXiv:2411.19930" in text and "@software{vonwerra2020trl" in text
    assert "processor.apply_chat_template(" in text and "model.generate(**inputs" in text
    assert FAKE_TOKEN not in path.read_text() and "hub_token: <redacted>" in text


def test_model_card_usage_example_runs_on_a_tiny_model(tiny_models, tmp_path):
    """The card's Quick start, with the tiny Qwen2-VL and a real image substituted, runs and generates."""
    from PIL import Image

    from hub_tools.publish.cards import build_model_card

    card = build_model_card(base_model="Qwen/Qwen2-VL-2B-Instruct", domain="biomedicine", model_id="you/m")
    (code,) = re.findall(r"## Quick start\n\n```python\n(.*?)```", card.text, flags=re.DOTALL)
    Image.new("RGB", (56, 56), (200, 30, 30)).save(tmp_path / "image.png")
    code = code.replace('"you/m"', repr(str(tiny_models["qwen2_vl"]))).replace("256", "3")
    code = code.replace('"image.png"', repr(str(tmp_path / "image.png")))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    assert out.returncode == 0, out.stderr[-3000:]
