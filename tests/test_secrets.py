"""No Hub token, password or credentialed URL is ever written, printed or uploaded (cards, JSON, training_args.bin)."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from unittest import mock

import pytest
from test_dataset_builders import make_run_dir

REPO = Path(__file__).resolve().parents[1]
TINY_RECIPE = REPO / "recipes" / "tiny" / "sft" / "config.yaml"


def _token() -> str:
    """A fake Hub token: ``hf_`` + 34 random letters (never a real one)."""
    return "hf_" + "".join(random.choices(string.ascii_letters, k=34))


def _leaks(data: bytes | str, secrets: list[str]) -> list[str]:
    data = data if isinstance(data, bytes) else data.encode()
    return [s for s in secrets if s.encode() in data]


def _scanning_api(secrets: list[str], uploaded: list[str], url: str):
    """An autospec'd ``HfApi`` whose ``upload_folder`` reads every file it would upload and records leaks."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoUrl
    from huggingface_hub.utils import filter_repo_objects

    api = mock.create_autospec(HfApi, instance=True)
    api.create_repo.return_value = RepoUrl(url)
    leaks = []

    def upload_folder(*, folder_path, ignore_patterns=None, allow_patterns=None, path_in_repo=None, **kwargs):
        root = Path(folder_path)
        files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        for rel in filter_repo_objects(files, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns):
            uploaded.append(f"{path_in_repo or ''}:{rel}")
            leaks.extend(f"{rel}: {s}" for s in _leaks((root / rel).read_bytes(), secrets))

    api.upload_folder.side_effect = upload_folder
    api.leaks = leaks
    return api


def _scan_folder(folder: Path, secrets: list[str]) -> list[str]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    return [f"{p.relative_to(folder)}: {s}" for p in files for s in _leaks(p.read_bytes(), secrets)]


# ---------------------------------------------------------------------------------------------
# redaction helpers
# ---------------------------------------------------------------------------------------------
def test_redact_secrets_masks_secret_keys_credentialed_urls_and_bare_tokens(monkeypatch):
    from hub_tools.redaction import redact_secrets

    live, other, in_url = _token(), _token(), _token()
    monkeypatch.setenv("HF_TOKEN", live)
    cfg = {
        "max_new_tokens": 512,
        "tokenizer_name": "org/tok",
        "pad_token": "<|pad|>",
        "use_auth_token": True,
        "hubToken": other,
        "Client-Secret": "s3cret",
        "OPENAI_API_KEY": "sk-abc",
        "db_password": 1234,
        "model": f"https://alice:{in_url}@huggingface.co/org/model",
        "note": f"ran with {other} and {live}",
        "list": [{"access_token": "x"}, f"http://{in_url}@example.com/x"],
    }
    out = redact_secrets(cfg)
    text = json.dumps(out)
    assert not _leaks(text, [live, other, in_url, "s3cret", "sk-abc", "1234", "alice"]), text
    assert out["max_new_tokens"] == 512 and out["tokenizer_name"] == "org/tok" and out["pad_token"] == "<|pad|>"
    assert out["use_auth_token"] is True
    assert out["hubToken"] == out["Client-Secret"] == out["OPENAI_API_KEY"] == out["db_password"] == "<redacted>"
    assert out["model"] == "https://huggingface.co/org/model"


def test_redact_text_masks_yaml_json_and_command_line_secrets(monkeypatch):
    from hub_tools.redaction import redact_text

    tok, url_tok, cli_tok = _token(), _token(), _token()
    monkeypatch.delenv("HF_TOKEN", raising=False)
    text = (
        "model_name_or_path: Qwen/Qwen2-VL-2B-Instruct\n"
        f"hub_token: {tok}  # do not publish\n"
        "  HF_TOKEN: 'quoted-secret'\n"
        'db: {"password": "pw-123", "max_new_tokens": 64}\n'
        f"base_model_id: https://bob:{url_tok}@huggingface.co/org/model\n"
        f"args: --hub_token {cli_tok} --max_steps 2 --api-key=key-999\n"
        "pad_token: <|pad|>\n"
        "max_length: null\n"
    )
    out = redact_text(text)
    assert not _leaks(out, [tok, url_tok, cli_tok, "quoted-secret", "pw-123", "key-999", "bob"]), out
    assert "hub_token: <redacted>  # do not publish" in out
    assert "base_model_id: https://huggingface.co/org/model" in out
    assert '"max_new_tokens": 64' in out and "pad_token: <|pad|>" in out and "--max_steps 2" in out
    assert "model_name_or_path: Qwen/Qwen2-VL-2B-Instruct" in out


def test_model_card_strips_credentials_from_ids_and_secrets_from_the_recipe():
    from hub_tools.publish.cards import build_model_card

    tok, model_tok, data_tok = _token(), _token(), _token()
    card = build_model_card(
        base_model=f"https://user:{model_tok}@huggingface.co/org/model",
        domain="biomedicine",
        datasets=[f"https://user:{data_tok}@huggingface.co/datasets/org/data"],
        recipe_name="recipes/x.yaml",
        recipe_text=f"learning_rate: 1.0e-5\nhub_token: {tok}\npush_to_hub: true\n",
        stages=[{"name": "single-stage", "rows": 10, "metrics": {"train_loss": 1.25}}],
        model_id=f"https://user:{model_tok}@huggingface.co/org/post-trained",
    )
    text = str(card)
    assert not _leaks(text, [tok, model_tok, data_tok, "user:"]), text
    assert "hub_token: <redacted>" in text and "learning_rate: 1.0e-5" in text
    assert "https://huggingface.co/org/model" in text


# ---------------------------------------------------------------------------------------------
# end to end: adamllm train and adamllm build-dataset with a (faked) push
# ---------------------------------------------------------------------------------------------
def test_train_with_a_token_in_the_recipe_never_writes_prints_or_uploads_it(
    tiny_models, tmp_path, monkeypatch, capsys, caplog
):
    """`adamllm train --config it.yaml` with `hub_token: hf_...` in the YAML and HF_TOKEN set: the token goes to
    HfApi(token=...) and nowhere else (card, summary, stage marker, training_args.bin, checkpoints, logs)."""
    import trl.trainer.sft_config  # noqa: F401  (imported before HfApi is patched: transformers annotates with it)

    from hub_tools.cli import main
    from hub_tools.miniature.sft_demo import write_demo_rows

    yaml_tok, env_tok, url_tok = _token(), _token(), _token()
    secrets = [yaml_tok, env_tok, url_tok]
    monkeypatch.setenv("HF_TOKEN", env_tok)
    rows = write_demo_rows(tmp_path / "rows", num_rows=8)
    out = tmp_path / "run"
    recipe = tmp_path / "it.yaml"
    recipe.write_text(
        TINY_RECIPE.read_text()
        + f"\n# publishing\npush_to_hub: true\nhub_model_id: you/tiny-secret\nhub_token: {yaml_tok}\n"
        + "hub_strategy: checkpoint\n"
        + f"base_model_id: https://someone:{url_tok}@huggingface.co/Qwen/Qwen2-VL-2B-Instruct\n"
    )
    uploaded: list[str] = []
    api = _scanning_api(secrets, uploaded, "https://huggingface.co/you/tiny-secret")
    with mock.patch("huggingface_hub.HfApi", autospec=True) as cls, caplog.at_level("INFO"):
        cls.return_value = api
        code = main(["train", "--config", str(recipe), "--model_name_or_path", str(tiny_models["qwen2_vl"]),
                     "--dataset_dir", str(rows), "--output_dir", str(out), "--max_steps", "2", "--save_steps", "1",
                     "--per_device_train_batch_size", "2", "--save_total_limit", "5"])  # fmt: skip
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr[-3000:]
    cls.assert_called_once_with(token=yaml_tok)  # the recipe's token still reaches the upload
    assert api.upload_folder.call_count == 3  # two checkpoints, then the model
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    assert (out / "training_args.bin").is_file() and (out / "checkpoint-1" / "training_args.bin").is_file()
    assert uploaded and not any(u.endswith("training_args.bin") for u in uploaded), uploaded
    assert api.leaks == []
    assert _scan_folder(out, secrets) == []
    assert not _leaks(stdout + stderr + caplog.text, secrets)
    card = (out / "README.md").read_text()
    assert "hub_token: <redacted>" in card and "https://huggingface.co/Qwen/Qwen2-VL-2B-Instruct" in card


def test_build_dataset_push_never_writes_or_uploads_credentials(tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    from hub_tools.cli import main

    env_tok, url_tok, key_tok, checker_tok = _token(), _token(), _token(), _token()
    secrets = [env_tok, url_tok, key_tok, checker_tok]
    run = tmp_path / "run"
    make_run_dir(run)
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["synthesize"]["model"] = f"https://ann:{url_tok}@huggingface.co/AdaptLLM/visual-instruction-synthesizer"
    manifest["synthesize"]["hubToken"] = key_tok
    manifest["filter"]["auth"] = {"HF_TOKEN": env_tok}
    (run / "manifest.json").write_text(json.dumps(manifest))
    shard = run / "filter" / "shard-0-0.jsonl"
    checker = f"https://bob:{checker_tok}@huggingface.co/org/checker"
    shard.write_text(shard.read_text().replace('"checker": "lexical"', f'"checker": "{checker}"'))
    monkeypatch.setenv("HF_TOKEN", env_tok)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    uploaded: list[str] = []
    api = _scanning_api(secrets, uploaded, "https://huggingface.co/datasets/someone/food-tasks")
    with mock.patch("huggingface_hub.HfApi", autospec=True) as cls:
        cls.return_value = api
        code = main(["build-dataset", str(run), "--output", str(tmp_path / "out"), "--push-to-hub",
                     "someone/food-tasks", "--no-progress"])  # fmt: skip
    stdout, stderr = capsys.readouterr()
    assert code == 0, stderr
    api.upload_folder.assert_called_once()
    assert uploaded and api.leaks == []
    assert _scan_folder(tmp_path / "out", secrets) == []
    assert not _leaks(stdout + stderr, secrets)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "https://huggingface.co/AdaptLLM/visual-instruction-synthesizer" in card
    assert "https://huggingface.co/org/checker" in card


@pytest.mark.parametrize("key", ["hub_token", "push_to_hub_token"])
def test_train_stage_args_never_hold_the_token(key):
    from hub_tools.training.sft import pop_hub_token

    args = mock.Mock(spec=["hub_token", "push_to_hub_token"])
    args.hub_token, args.push_to_hub_token = None, None
    setattr(args, key, "hf_secret")
    assert pop_hub_token(args) == "hf_secret"
    assert args.hub_token is None and args.push_to_hub_token is None
