"""The fingerprint of a synthesis run's input, recorded in ``manifest.json`` so a rerun on changed input is refused.

What :func:`input_fingerprint` covers, by input kind (the kinds of :func:`hub_tools.data.read_pairs`):

- a pairs file (``.json`` / ``.jsonl`` / ``.csv`` / ``.tsv`` / ``.parquet``): its size, mtime and sha256;
- an imagefolder: its ``metadata.jsonl``, likewise;
- a local Hugging Face dataset folder: every file in it (recursively) except hidden ones and image files;
- a Hub dataset: its repo id and split, plus the commit the Hub resolves for it when the Hub answers in a few
  seconds. Offline (``HF_HUB_OFFLINE``) or when the Hub does not answer, no commit is known and only a change of
  repo id or split (already part of the run's settings) is seen; a recorded commit is kept and compared the next
  time the Hub answers.

Not covered: the image files a pairs file, table or imagefolder points to (an image edited in place under the
same name is not seen; hashing every image on every run would cost as much as reading them).

Cheap first: a file whose size and mtime (nanoseconds) equal the recorded ones is taken as unchanged without
reading it, as make and rsync do; any other file is hashed (sha256, streamed) and compared by content.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from hub_tools.data.readers import TABLE_FORMATS

IMAGE_SUFFIXES = frozenset(
    (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".ico", ".heic", ".avif")
)
"""Files a local dataset folder's fingerprint leaves out (images are not fingerprinted anywhere)."""
HUB_TIMEOUT_S = 10


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The sha256 hex digest of a file, read in chunks (never the whole file in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _input_kind(spec: str) -> tuple[str, Path, list[Path]]:
    """``(kind, root, files)``: which files of ``spec`` the fingerprint covers (relative to ``root``)."""
    path = Path(spec)
    if path.is_file() or path.suffix in (".json", ".jsonl", *TABLE_FORMATS):
        return "file", path.parent, [Path(path.name)]
    if path.is_dir() and (path / "metadata.jsonl").is_file():
        return "imagefolder", path, [Path("metadata.jsonl")]
    if path.is_dir():
        files = []
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if not name.startswith(".") and Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                    files.append(Path(dirpath, name).relative_to(path))
        return "dataset_folder", path, sorted(files)
    return "hub", path, []


def _hub_revision(repo_id: str) -> str | None:
    """The commit the Hub resolves for dataset ``repo_id`` now, or ``None`` (offline, no answer, not found)."""
    try:
        from huggingface_hub import HfApi, constants

        if constants.HF_HUB_OFFLINE:
            return None
        return HfApi().dataset_info(repo_id, timeout=HUB_TIMEOUT_S).sha
    except Exception:  # any failure means "not known": the fingerprint then holds the repo id and split only
        return None


def input_fingerprint(spec: str, split: str = "train", previous: dict | None = None) -> dict:
    """The fingerprint of input ``spec`` (see the module doc) as a JSON-able dict.

    ``previous`` (a recorded fingerprint) lets files whose size and mtime are unchanged keep their recorded
    sha256 unread. Shape: ``{"kind": "file" | "imagefolder" | "dataset_folder", "files": {rel path: {"size",
    "mtime_ns", "sha256"}}}`` or ``{"kind": "hub", "repo", "split", "revision"}``.
    """
    kind, root, files = _input_kind(spec)
    if kind == "hub":
        revision = _hub_revision(spec)
        if revision is None and previous and previous.get("kind") == "hub":
            revision = previous.get("revision")  # keep what was recorded; compared when the Hub answers again
        return {"kind": "hub", "repo": spec, "split": split, "revision": revision}
    previous = previous or {}
    known = (previous.get("files") or {}) if previous.get("kind") == kind else {}
    entries = {}
    for rel in files:
        full = root / rel
        try:
            st = full.stat()  # before hashing: a write during the hash leaves a stale mtime, so it is hashed again
        except FileNotFoundError:
            if kind == "file":  # the reader's own words
                raise FileNotFoundError(f"pairs file not found: {spec!r}") from None
            continue
        old = known.get(rel.as_posix()) or {}
        if old.get("size") == st.st_size and old.get("mtime_ns") == st.st_mtime_ns and old.get("sha256"):
            sha = old["sha256"]
        else:
            sha = sha256_file(full)
        entries[rel.as_posix()] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha}
    return {"kind": kind, "files": entries}


def _short(sha: str | None) -> str:
    return f"{sha[:12]}.." if sha else "none"


def describe_change(spec: str, old: dict, new: dict) -> tuple[str, str] | None:
    """``None`` when ``new`` holds the same content as ``old``; else ``(what changed, how)``, naming the file."""
    if old.get("kind") != new.get("kind"):
        return spec, f"it was a {old.get('kind')} input, it is now a {new.get('kind')} input"
    if new["kind"] == "hub":
        if old.get("revision") and new.get("revision") and old["revision"] != new["revision"]:
            return f"dataset {spec!r}", f"commit {_short(old['revision'])} -> {_short(new['revision'])}"
        return None
    before, after = old.get("files") or {}, new.get("files") or {}
    for rel in sorted(set(before) | set(after)):
        name = spec if new["kind"] == "file" else str(Path(spec) / rel)
        if rel not in after:
            return name, "the file is gone"
        if rel not in before:
            return spec, f"new data file {rel}"
        if before[rel].get("sha256") != after[rel]["sha256"]:
            return name, f"sha256 {_short(before[rel].get('sha256'))} -> {_short(after[rel]['sha256'])}"
    return None
