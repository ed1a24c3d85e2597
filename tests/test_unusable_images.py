"""An image the synthesizer's processor refuses is bad input (a rejection with its reason), never an engine failure.

Issue 20, item 5: 70 unusable images in a row (20000x20 strips, whose aspect ratio Qwen2-VL's processor refuses)
stopped every run with "synthesis failed on 64 pairs in a row ... broken engine or device, not bad input".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from PIL import Image

from hub_tools.rundir import iter_records

REPO = Path(__file__).resolve().parents[1]


def test_seventy_refused_strips_then_five_good_pairs_end_in_rejections_not_a_stop(sample_pairs, tiny_models, tmp_path):
    root = tmp_path / "in"
    shutil.copytree(Path(sample_pairs).parent / "images", root / "images")
    Image.new("RGB", (20000, 20), (90, 40, 20)).save(root / "images" / "strip.png")
    good = json.loads(Path(sample_pairs).read_text())[:5]
    strips = [
        {
            "messages": [
                {"role": "user", "content": "<image>Describe."},
                {"role": "assistant", "content": f"Strip {n}."},
            ],
            "images": ["images/strip.png"],
        }
        for n in range(70)
    ]
    pairs = root / "pairs.json"
    pairs.write_text(json.dumps(strips + good))
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "hub_tools",
        "pipeline",
        "--pairs",
        str(pairs),
        "--output",
        str(run),
        "--synthesizer",
        str(tiny_models["qwen2_vl"]),
        "--max-new-tokens",
        "8",
        "--checker",
        "lexical",
        "--no-progress",
    ]  # fmt: skip  (default --batch-size 8: 64 failures in a row stopped the old runner)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "in a row" not in res.stderr
    stats = json.loads((run / "stats.json").read_text())
    assert (stats["pairs_in"], stats["rejected"], stats["synthesized"]) == (75, 70, 5)
    assert stats["kept"] + stats["caption_only"] + stats["no_task"] + stats["rejected"] == 75
    rows = list(iter_records(run / "synthesis"))
    assert Counter(r["status"] for r in rows) == {"rejected": 70, "synthesized": 5}
    for row in rows:
        if row["status"] == "rejected":
            assert row["caption"] is None and row["source"]["index"] < 70
            assert row["reason"].startswith(
                "the synthesizer's processor cannot preprocess this pair (20000x20 pixels): "
            )
            assert "aspect ratio" in row["reason"]


class Engine:
    """Rejects captions starting with "bad" as bad input (one by one, as a served engine might); fails on "boom"."""

    from hub_tools.synthesis import LLAMA3 as turn_format

    def generate(self, batch):
        from hub_tools.errors import BadInput

        for _, caption, _ in batch:
            if caption.startswith("bad"):
                raise BadInput(f"unusable: {caption}")
            if caption.startswith("boom"):
                raise RuntimeError("device lost")
        return ["no turns" for _ in batch]


def _pairs(tmp_path: Path, captions: list[str]) -> Path:
    Image.new("RGB", (16, 16), (1, 2, 3)).save(tmp_path / "a.png")
    records = [
        {
            "messages": [{"role": "user", "content": "<image>"}, {"role": "assistant", "content": c}],
            "images": ["a.png"],
        }
        for c in captions
    ]
    (tmp_path / "pairs.json").write_text(json.dumps(records))
    return tmp_path / "pairs.json"


def _config(pairs: Path, out: Path):
    from hub_tools.synthesis.runner import SynthesisConfig

    return SynthesisConfig(pairs=str(pairs), output=str(out), synthesizer="x", batch_size=1, window=2)


def test_bad_input_does_not_count_toward_the_engine_failure_stop(tmp_path):
    from hub_tools.synthesis.runner import synthesize

    pairs = _pairs(tmp_path, [f"bad {n}" for n in range(40)] + ["good"])
    counts = synthesize(_config(pairs, tmp_path / "run"), engine=Engine())
    assert (counts["rejected"], counts["synthesized"]) == (40, 1)
    reasons = {r["reason"] for r in iter_records(tmp_path / "run" / "synthesis") if r["status"] == "rejected"}
    assert reasons == {f"unusable: bad {n}" for n in range(40)}


def test_engine_failures_among_bad_input_still_stop_the_run(tmp_path):
    import pytest

    from hub_tools.synthesis.runner import synthesize

    pairs = _pairs(tmp_path, [("bad" if n % 2 else "boom") + f" {n}" for n in range(60)])
    with pytest.raises(RuntimeError, match="synthesis failed on 16 pairs in a row"):
        synthesize(_config(pairs, tmp_path / "run"), engine=Engine())
