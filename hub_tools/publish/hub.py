"""Hub publishing: :func:`push_folder` uploads a built folder in one commit; card text is cleaned first.

- :func:`push_folder`: create the repo (``exist_ok``) and upload a built folder with
  :meth:`huggingface_hub.HfApi.upload_folder` in a single commit; returns the repo URL.
- :func:`metric_spaces` / :func:`push_metric_space`: the ``evaluate`` metric folders as Gradio Spaces
  (``ORG/<name>``), so that ``evaluate.load("ORG/<name>")`` finds them (``adamllm publish-metrics``).
- :func:`shorten_local_paths`: what a public card may show of a local path (secrets are masked by
  :mod:`hub_tools.redaction`).

The token is never handled here: ``HfApi`` resolves it the usual way (``HF_TOKEN``, then the token
saved by ``hf auth login``) or the caller passes an ``api`` built with one, and nothing in this module
prints, logs or writes it. ``training_args.bin`` (a pickle of the trainer arguments) never goes up.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any


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
    "ignore_patterns": ["checkpoint-*", "checkpoint-*/**", "stage1/**", "*.pt", "*.pth", "training_args.bin"],
}
"""Model folders: checkpoints, stage-1 weights, optimizer states and the pickled trainer arguments stay local."""
SPACE_UPLOAD = {"delete_patterns": None, "ignore_patterns": ["*__pycache__*", "*.pyc", ".DS_Store"]}
"""Space folders (metric Spaces): byte-code caches stay local."""
NEVER_UPLOAD = ["training_args.bin", "*/training_args.bin", ".adamllm-owner.json", "*/.adamllm-owner.json"]
"""Added to every upload's ignore patterns: the pickled trainer arguments may hold a ``hub_token``; the ownership
marker (:data:`hub_tools.rundir.ownership.MARKER`) only means something in the local folder."""


def _with_never_upload(patterns: list[str] | None) -> list[str]:
    return list(dict.fromkeys([*(patterns or []), *NEVER_UPLOAD]))


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
    space_sdk: str | None = None,
    api: Any = None,
) -> str:
    """Create ``repo_id`` if needed and upload ``folder`` to it in one commit; return the repo URL.

    ``ignore_patterns`` / ``delete_patterns`` default to :data:`DATASET_UPLOAD`, :data:`SPACE_UPLOAD` or
    :data:`MODEL_UPLOAD` by ``repo_type`` (datasets: remote ``*.parquet`` the folder no longer has are deleted in the same
    commit, so a rebuilt dataset with fewer shards keeps no stale ones). ``require_card`` refuses a
    folder without ``README.md``. ``space_sdk`` (``"gradio"``, ...) is passed to ``create_repo`` for a
    ``repo_type="space"`` repo. :data:`NEVER_UPLOAD` is always ignored. ``api`` defaults to a fresh
    :class:`huggingface_hub.HfApi` (token from ``HF_TOKEN`` or ``hf auth login``).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"nothing to publish: {str(folder)!r} is not a folder")
    if require_card and not (folder / "README.md").is_file():
        raise FileNotFoundError(f"{str(folder)!r} has no README.md card; build it first")
    defaults = {"dataset": DATASET_UPLOAD, "space": SPACE_UPLOAD}.get(repo_type, MODEL_UPLOAD)
    ignore = _with_never_upload(defaults["ignore_patterns"] if ignore_patterns is None else ignore_patterns)
    if api is None:
        from huggingface_hub import HfApi, constants

        if constants.HF_HUB_OFFLINE:
            raise RuntimeError("cannot publish: HF_HUB_OFFLINE=1 is set; unset it to push to the Hub")
        api = HfApi()
    space = {"space_sdk": space_sdk} if repo_type == "space" and space_sdk else {}
    repo_url = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True, **space)
    api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type=repo_type,
        path_in_repo=path_in_repo,
        commit_message=commit_message or f"Upload {folder.name} with adamllm-hub",
        delete_patterns=defaults["delete_patterns"] if delete_patterns is None else delete_patterns,
        ignore_patterns=ignore,
    )
    prefix = {"dataset": "datasets/", "space": "spaces/"}.get(repo_type, "")
    return str(getattr(repo_url, "url", None) or repo_url or f"https://huggingface.co/{prefix}{repo_id}")


# ---------------------------------------------------------------------------------------------
# metric Spaces
# ---------------------------------------------------------------------------------------------
_NAMESPACE = re.compile(r"^[A-Za-z0-9][\w.-]*$")


def metric_spaces(metrics_root: str | os.PathLike, names: list[str] | None = None) -> list[tuple[str, Path]]:
    """``[(name, folder)]`` of the metric modules under ``metrics_root`` (``<name>/<name>.py``), sorted.

    ``names`` picks some of them; an unknown name raises ``ValueError`` listing the known ones.
    """
    root = Path(metrics_root)
    found = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and (p / f"{p.name}.py").is_file()}
    if not found:
        raise FileNotFoundError(f"no metric modules (<name>/<name>.py) under {str(root)!r}")
    unknown = [n for n in names or [] if n not in found]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(found)}")
    return [(n, found[n]) for n in (names or found)]


def check_space_folder(folder: str | os.PathLike) -> list[str]:
    """Return the files a Space upload of ``folder`` sends (sorted, relative), after checking that its README.md
    holds a Space header (:class:`huggingface_hub.SpaceCard`: ``sdk: gradio`` and an ``app_file`` that exists).

    Raises ``ValueError`` naming the folder and what is wrong.
    """
    from huggingface_hub import SpaceCard
    from huggingface_hub.utils import filter_repo_objects

    folder = Path(folder)
    readme = folder / "README.md"
    if not readme.is_file():
        raise ValueError(f"{str(folder)!r} has no README.md with a Space header")
    data = SpaceCard.load(readme).data
    if data.sdk != "gradio":
        raise ValueError(f"{str(readme)!r}: the Space header needs sdk: gradio, not {data.sdk!r}")
    if not data.app_file or not (folder / data.app_file).is_file():
        raise ValueError(f"{str(readme)!r}: app_file {data.app_file!r} is not in the folder")
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    ignore = _with_never_upload(SPACE_UPLOAD["ignore_patterns"])
    return list(filter_repo_objects(files, ignore_patterns=ignore))


def metric_space_id(org: str, name: str) -> str:
    """``ORG/<name>``: the Space repo id ``evaluate.load`` resolves for a metric; ``ValueError`` for a bad ``org``."""
    if not _NAMESPACE.match(org or ""):
        raise ValueError(f"{org!r} is not a Hub user or organisation name (give ORG, not ORG/NAME)")
    return f"{org}/{name}"


def push_metric_space(folder: str | os.PathLike, repo_id: str, *, private: bool = False, api: Any = None) -> str:
    """Push one metric folder to the Gradio Space ``repo_id`` (created if needed) in one commit; return its URL."""
    check_space_folder(folder)
    return push_folder(
        folder,
        repo_id,
        repo_type="space",
        private=private,
        space_sdk="gradio",
        commit_message=f"Upload the {Path(folder).name} metric with adamllm-hub",
        api=api,
    )
