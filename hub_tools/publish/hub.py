"""Hub publishing: :func:`push_folder` uploads a built folder in one commit; card text is cleaned first.

- :func:`push_folder`: create the repo (``exist_ok``) and upload a built folder with
  :meth:`huggingface_hub.HfApi.upload_folder` in a single commit; returns the repo URL.
- :func:`redact_secrets` / :func:`shorten_local_paths`: what a public card may show of a config.

The token is never handled here: ``HfApi`` resolves it the usual way (``HF_TOKEN``, then the token
saved by ``hf auth login``), and nothing in this module prints, logs or writes it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_SECRET_KEY = re.compile(r"(^|[_-])(token|secret|password|passwd|api[_-]?key|authorization)$", re.IGNORECASE)


def redact_secrets(value: Any) -> Any:
    """Return ``value`` (nested dicts/lists) with secret-looking keys and the live ``HF_TOKEN`` value masked.

    Pipeline configs go into dataset cards verbatim; this keeps a token that slipped into a config
    from being published.
    """
    live = [t for t in (os.environ.get("HF_TOKEN"), os.environ.get("HUGGING_FACE_HUB_TOKEN")) if t]
    if isinstance(value, dict):
        return {
            k: "<redacted>" if isinstance(k, str) and _SECRET_KEY.search(k) and v else redact_secrets(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact_secrets(v) for v in value]
    if isinstance(value, str):
        for token in live:
            value = value.replace(token, "<redacted>")
        return value
    return value


def shorten_local_paths(value: Any) -> Any:
    """Return ``value`` (nested) with absolute local paths cut to ``.../<name>`` (no home folders in public cards)."""
    if isinstance(value, dict):
        return {k: shorten_local_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [shorten_local_paths(v) for v in value]
    if (
        isinstance(value, str)
        and "\n" not in value
        and (value.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", value))
    ):
        return ".../" + (re.split(r"[\\/]", value.rstrip("/\\"))[-1] or "")
    return value


DATASET_UPLOAD = {"delete_patterns": ["*.parquet"], "ignore_patterns": [".adamllm-build/*"]}
"""Dataset folders: stale remote shards go in the same commit; leftovers of an interrupted build never go up."""
MODEL_UPLOAD = {
    "delete_patterns": None,
    "ignore_patterns": ["checkpoint-*", "checkpoint-*/**", "stage1/**", "*.pt", "*.pth"],
}
"""Model folders: checkpoints, stage-1 weights and optimizer states stay local."""


def push_folder(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    repo_type: str = "dataset",
    private: bool | None = False,
    commit_message: str | None = None,
    path_in_repo: str | None = None,
    ignore_patterns: list[str] | None = None,
    delete_patterns: list[str] | None = None,
    require_card: bool = True,
    api: Any = None,
) -> str:
    """Create ``repo_id`` if needed and upload ``folder`` to it in one commit; return the repo URL.

    ``ignore_patterns`` / ``delete_patterns`` default to :data:`DATASET_UPLOAD` or :data:`MODEL_UPLOAD`
    by ``repo_type`` (datasets: remote ``*.parquet`` the folder no longer has are deleted in the same
    commit, so a rebuilt dataset with fewer shards keeps no stale ones). ``require_card`` refuses a
    folder without ``README.md``. ``api`` defaults to a fresh :class:`huggingface_hub.HfApi` (token from
    ``HF_TOKEN`` or ``hf auth login``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"nothing to publish: {str(folder)!r} is not a folder")
    if require_card and not (folder / "README.md").is_file():
        raise FileNotFoundError(f"{str(folder)!r} has no README.md card; build it first")
    defaults = DATASET_UPLOAD if repo_type == "dataset" else MODEL_UPLOAD
    if api is None:
        from huggingface_hub import HfApi, constants

        if constants.HF_HUB_OFFLINE:
            raise RuntimeError("cannot publish: HF_HUB_OFFLINE=1 is set; unset it to push to the Hub")
        api = HfApi()
    repo_url = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
    api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type=repo_type,
        path_in_repo=path_in_repo,
        commit_message=commit_message or f"Upload {folder.name} with adamllm-hub",
        delete_patterns=defaults["delete_patterns"] if delete_patterns is None else delete_patterns,
        ignore_patterns=defaults["ignore_patterns"] if ignore_patterns is None else ignore_patterns,
    )
    prefix = {"dataset": "datasets/", "space": "spaces/"}.get(repo_type, "")
    return str(getattr(repo_url, "url", None) or repo_url or f"https://huggingface.co/{prefix}{repo_id}")
