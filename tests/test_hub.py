"""Publishing (against an autospec'd HfApi), offline builds without network, and card helpers."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from unittest import mock

import pytest
from test_dataset_builders import make_run_dir

FAKE_TOKEN = "hf_FakeTokenForTestsOnly0123456789abcdefXYZ"


def _fake_api(url="https://huggingface.co/datasets/someone/biomed-tasks"):
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoUrl

    api = mock.create_autospec(HfApi, instance=True)
    api.create_repo.return_value = RepoUrl(url)
    return api


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "ds"
    (folder / "cfg").mkdir(parents=True)
    (folder / "cfg" / "train-00000-of-00001.parquet").write_bytes(b"PAR1")
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# x\n")
    return folder


def test_push_folder_creates_repo_and_uploads_once(tmp_path):
    from hub_tools.publish.hub import push_folder

    api = _fake_api()
    url = push_folder(_folder(tmp_path), "someone/biomed-tasks", private=True, api=api)
    assert url == "https://huggingface.co/datasets/someone/biomed-tasks"
    api.create_repo.assert_called_once_with("someone/biomed-tasks", repo_type="dataset", private=True, exist_ok=True)
    api.upload_folder.assert_called_once()
    kwargs = api.upload_folder.call_args.kwargs
    assert kwargs["repo_type"] == "dataset"
    assert kwargs["repo_id"] == "someone/biomed-tasks"
    assert Path(kwargs["folder_path"]) == tmp_path / "ds"
    assert "*.parquet" in kwargs["delete_patterns"]  # stale shards of an earlier build go in the same commit
    assert "training_args.bin" in kwargs["ignore_patterns"]  # a pickle of the trainer arguments never goes up
    assert "token" not in kwargs
    api.create_commit.assert_not_called()
    api.upload_file.assert_not_called()


def test_push_folder_refuses_an_unbuilt_folder(tmp_path):
    from hub_tools.publish.hub import push_folder

    api = _fake_api()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="README.md"):
        push_folder(tmp_path / "empty", "someone/x", api=api)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        push_folder(tmp_path / "missing", "someone/x", api=api)
    api.create_repo.assert_not_called()


def test_push_folder_refuses_offline_mode(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from hub_tools.publish.hub import push_folder

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RuntimeError, match="HF_HUB_OFFLINE"):
        push_folder(_folder(tmp_path), "someone/x")


def test_cli_build_and_push_never_writes_or_prints_the_token(tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    from hub_tools.cli import main

    run = tmp_path / "run"
    make_run_dir(run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["synthesize"]["hub_token"] = FAKE_TOKEN  # a careless config must not leak into the card
    manifest["synthesize"]["note"] = f"ran with {FAKE_TOKEN} set"
    (run / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    api = _fake_api("https://huggingface.co/datasets/someone/food-tasks")
    with mock.patch("huggingface_hub.HfApi", autospec=True) as cls:
        cls.return_value = api
        code = main(["build-dataset", str(run), "--output", str(tmp_path / "out"), "--push-to-hub",
                     "someone/food-tasks", "--private", "--no-progress"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "published: https://huggingface.co/datasets/someone/food-tasks" in out
    cls.assert_called_once_with()  # the token is resolved by huggingface_hub itself, not passed around
    api.upload_folder.assert_called_once()
    assert api.upload_folder.call_args.kwargs["repo_type"] == "dataset"
    assert api.create_repo.call_args.kwargs["private"] is True
    assert FAKE_TOKEN not in out + err
    files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert FAKE_TOKEN.encode() not in path.read_bytes(), path
    card = (tmp_path / "out" / "README.md").read_text()
    assert 'load_dataset("someone/food-tasks"' in card
    assert '"hub_token": "<redacted>"' in card


def test_offline_build_without_push_makes_no_network_call(tmp_path, monkeypatch):
    """With HF_HUB_OFFLINE=1 and no --push-to-hub, building and loading never open a socket."""
    from hub_tools.cli import main

    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError(f"network call attempted: {args[1:]!r}")

    run = tmp_path / "run"
    make_run_dir(run)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    assert main(["build-dataset", str(run), "--output", str(tmp_path / "out"), "--no-progress"]) == 0
    from datasets import load_dataset

    ds = load_dataset(str(tmp_path / "out"), "synthetic_visual_tasks", split="train")
    assert len(ds) > 0
    assert calls == []
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert FAKE_TOKEN.encode() not in path.read_bytes()


def test_size_category():
    from hub_tools.publish.cards import size_category

    assert size_category(0) == "n<1K"
    assert size_category(999) == "n<1K"
    assert size_category(1000) == "1K<n<10K"
    assert size_category(144_000) == "100K<n<1M"
    assert size_category(2_000_000) == "1M<n<10M"


def test_redact_secrets(monkeypatch):
    from hub_tools.redaction import redact_secrets

    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    cfg = {"max_new_tokens": 512, "hf_token": "abc", "api_key": "k", "nested": [{"text": f"x {FAKE_TOKEN} y"}]}
    assert redact_secrets(cfg) == {
        "max_new_tokens": 512,
        "hf_token": "<redacted>",
        "api_key": "<redacted>",
        "nested": [{"text": "x <redacted> y"}],
    }


def test_shorten_local_paths():
    from hub_tools.publish.hub import shorten_local_paths

    cfg = {"pairs": "/home/alice/data/pairs.json", "model": "AdaptLLM/visual-instruction-synthesizer",
           "win": "C:\\Users\\bob\\run", "list": ["~/x/y", "relative/path"], "n": 3}  # fmt: skip
    assert shorten_local_paths(cfg) == {"pairs": ".../pairs.json", "model": "AdaptLLM/visual-instruction-synthesizer",
                                        "win": ".../run", "list": [".../y", "relative/path"], "n": 3}  # fmt: skip


def test_write_card_round_trip(tmp_path):
    from huggingface_hub import DatasetCard

    from hub_tools.publish.cards import write_card

    configs = [{"config_name": "a", "data_files": [{"split": "test", "path": "a/test-*.parquet"}], "default": True}]
    path = write_card(tmp_path, {"license": "mit", "tags": ["x"], "configs": configs}, "# Title\n\nBody.")
    card = DatasetCard.load(path)
    assert card.data.configs == configs
    assert card.data.license == "mit"
    assert card.text.strip().startswith("# Title")
