"""What a synthesis run records in RUN_DIR: its settings (:func:`manifest_config`, guarded by the manifest), its
input's fingerprint (:func:`check_input`), its rows (:func:`rejected_row`, :func:`synthesized_row`), images
(:func:`save_image`) and counts (:func:`merge_stats`). The run loop that writes them is
:mod:`hub_tools.synthesis.runner`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub_tools.defaults import DEFAULT_SYNTHESIZER
from hub_tools.errors import OVERWRITE_FIX, ConfigMismatch, describe_exception, settings_mismatch
from hub_tools.rundir import (  # RUN_OUTPUTS: what the stages write into RUN_DIR (``--overwrite`` removes only these)
    RUN_OUTPUTS,
    iter_records,
    read_json,
    update_stats,
    write_bytes_atomic,
)

STAGE = "synthesis"
REASON_LIMIT = 1000
"""Characters kept of a rejection's reason."""
CONFIG_KEYS = (
    "pairs",
    "synthesizer",
    "prompt_format",
    "max_new_tokens",
    "seed",
    "image_column",
    "caption_column",
    "split",
    "image_root",
    "image_max_pixels",
    "image_min_pixels",
)


class InputChanged(ConfigMismatch):
    """RUN_DIR holds a synthesis run of an input that has changed since (``--overwrite`` starts over)."""


@dataclass
class SynthesisConfig:
    """The settings of one synthesis run (``adamllm synthesize`` flags of the same names, same defaults).

    ``pairs`` .. ``image_root`` change what is generated (:data:`CONFIG_KEYS`, guarded by the manifest);
    the rest are runtime choices that may change between runs (a larger ``limit`` extends a run).
    """

    pairs: str
    output: str
    synthesizer: str = DEFAULT_SYNTHESIZER
    batch_size: int = 8
    max_new_tokens: int = 512
    limit: int | None = None
    seed: int = 0
    image_column: str = "image"
    caption_column: str = "caption"
    split: str = "train"
    image_root: str | None = None
    prompt_format: str = "auto"
    device: str = "auto"
    dtype: str = "auto"
    cache: str = "dynamic"
    decode: str = "auto"
    window: int | None = None
    overwrite: bool = False
    endpoint: list[str] | None = None
    concurrency: int | None = None
    api_key_env: str | None = None
    server: str = "auto"
    request_timeout: float | None = None
    image_max_pixels: int | None = None
    image_min_pixels: int | None = None


# ---------------------------------------------------------------------------------------------
# config, distribution
# ---------------------------------------------------------------------------------------------
def _resolve_spec(spec: str) -> str:
    path = Path(spec)
    return str(path.resolve()) if path.exists() else spec


def manifest_config(cfg: SynthesisConfig) -> dict:
    """The manifest entry of this run: output-changing settings plus a ``runtime`` block."""
    return {
        "pairs": _resolve_spec(cfg.pairs),
        "synthesizer": _resolve_spec(cfg.synthesizer),
        "prompt_format": cfg.prompt_format,
        "max_new_tokens": cfg.max_new_tokens,
        "seed": cfg.seed,
        "image_column": cfg.image_column,
        "caption_column": cfg.caption_column,
        "split": cfg.split,
        "image_root": str(Path(cfg.image_root).resolve()) if cfg.image_root else None,
        # the image-size contract (hub_tools.data.image_size), recorded only when set: older runs still resume
        **{k: getattr(cfg, k) for k in ("image_max_pixels", "image_min_pixels") if getattr(cfg, k) is not None},
        "runtime": {
            "backend": "endpoint" if cfg.endpoint else "transformers",
            "batch_size": cfg.batch_size,
            "limit": cfg.limit,
            "device": cfg.device,
            "dtype": cfg.dtype,
            "cache": cfg.cache,
            "decode": cfg.decode,
            "endpoints": len(cfg.endpoint or []),
        },
    }


def check_manifest(run_dir: Path, config: dict) -> dict:
    """Return the manifest; raise :class:`ConfigMismatch` when its synthesize config differs from ``config``."""
    manifest = read_json(run_dir / "manifest.json", default={}) or {}
    old = manifest.get("synthesize")
    if old is not None:
        diff = {k: (old.get(k), config.get(k)) for k in CONFIG_KEYS if old.get(k) != config.get(k)}
        if diff:
            raise settings_mismatch(run_dir, "synthesis", diff)
    return manifest


def check_input(run_dir: Path, cfg: SynthesisConfig, manifest: dict, log: bool = True) -> dict:
    """The fingerprint of ``cfg.pairs`` to record (:mod:`hub_tools.data.fingerprint`); raise
    :class:`InputChanged` when the input differs from the one ``manifest`` recorded, so that no row of an older
    input is served. A run made before fingerprints were recorded gets one now (``log``: say so on stderr).
    """
    from hub_tools.data.fingerprint import describe_change, input_fingerprint

    entry = manifest.get("synthesize")
    old = (entry or {}).get("input")
    new = input_fingerprint(cfg.pairs, split=cfg.split, previous=old)
    if old is not None:
        change = describe_change(cfg.pairs, old, new)
        if change is not None:
            what, how = change
            raise InputChanged(f"{what} changed since {run_dir} was started ({how}); {OVERWRITE_FIX}")
    elif entry is not None and log:
        print(
            f"synthesize: {run_dir} has no fingerprint of its input (an older run dir); recording {cfg.pairs}'s now",
            file=sys.stderr,
        )
    return new


def clear_run_dir(run_dir: Path) -> None:
    """Remove every stage output of ``run_dir`` (``--overwrite``); other files in the folder are left alone.

    The one ownership policy (:func:`hub_tools.rundir.ownership.clear_run_outputs`): only in a run directory (its
    ``manifest.json``), only :data:`RUN_OUTPUTS` by name, never through a symbolic link."""
    from hub_tools.rundir.ownership import clear_run_outputs

    clear_run_outputs(run_dir, RUN_OUTPUTS, command="adamllm synthesize --overwrite")


# ---------------------------------------------------------------------------------------------
# rows
# ---------------------------------------------------------------------------------------------
def rejected_row(record: Any) -> dict:
    """The row of a rejected input record; its reason redacted and cut
    (:func:`~hub_tools.synthesis.endpoint_client.safe_reason`: a server may echo a key)."""
    from hub_tools.synthesis.endpoint_client import safe_reason

    return {
        "id": record.id,
        "status": "rejected",
        "reason": safe_reason(record.reason, REASON_LIMIT),
        "caption": None,
        "caption_prompt": None,
        "image": None,
        "source": record.source,
        "generation": None,
        "triplets": [],
    }


def synthesized_row(pair: Any, image_rel: str, generation: str, turn_format: Any) -> dict:
    """The row of a synthesized pair (raw generation + parsed triplets)."""
    from hub_tools.synthesis import parse_triplets

    return {
        "id": pair.id,
        "status": "synthesized",
        "reason": None,
        "caption": pair.caption,
        "caption_prompt": pair.caption_prompt,
        "image": image_rel,
        "source": pair.source,
        "generation": generation,
        "triplets": [t.to_dict() for t in parse_triplets(generation, turn_format=turn_format)],
    }


def save_image(run_dir: Path, pair: Any) -> str:
    """Write ``images/<id>.<ext>`` atomically; returns the path relative to RUN_DIR.

    The source file's own bytes (``.jpg`` / ``.png`` / ``.webp``) where every reader decodes them to the pixels
    the run saw, else a PNG of those pixels (:func:`hub_tools.synthesis.image_payload.saved_image`; ``pair.image``
    carries its source when the producer attached one). An image that cannot be encoded raises
    :class:`~hub_tools.data.BadInput` (the record is rejected); a failing write (disk full, permissions) raises as
    it is: that is the machine's fault, not the record's.
    """
    from hub_tools.data import BadInput
    from hub_tools.synthesis.image_payload import saved_image

    try:
        ext, data = saved_image(pair.image)
    except Exception as err:
        raise BadInput(f"image could not be encoded as PNG: {describe_exception(err)}") from None
    rel = f"images/{pair.id}{ext}"
    write_bytes_atomic(run_dir / rel, data)
    return rel


def merge_stats(run_dir: Path) -> dict:
    """Count every synthesis row of every shard into ``stats.json``; raise if an id appears twice."""
    seen: set[str] = set()
    dup = []
    counts = {"pairs_in": 0, "synthesized": 0, "rejected": 0, "triplets": 0, "pairs_with_triplets": 0}
    for rec in iter_records(run_dir / STAGE):
        if rec["id"] in seen:
            dup.append(rec["id"])
            continue
        seen.add(rec["id"])
        counts["pairs_in"] += 1
        counts[rec["status"]] += 1
        counts["triplets"] += len(rec.get("triplets") or [])
        counts["pairs_with_triplets"] += bool(rec.get("triplets"))
    if dup:
        raise RuntimeError(f"{run_dir / STAGE}: {len(dup)} pair ids written more than once, e.g. {dup[:3]}")
    return update_stats(run_dir, counts)
