"""The README's "Scale out" variant on the tiny models runs as written: serve-folder, two ``transformers serve``
replicas of the synthesizer, one of the checker, ``adamllm pipeline --synthesizer-endpoint ... --checker-endpoint``.

The second ```bash block under "Scale out" is run with bash in a temporary folder; only its fixed ports are swapped
for free loopback ports (the suite may run beside other servers). The servers are killed with the process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Scale out"
PORTS = ("8101", "8102", "8103")


def tiny_block() -> str:
    """The second ```bash block under :data:`HEADING` (the ``transformers serve`` variant)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index(HEADING) :]
    section = section[: section.find("\n## ", len(HEADING))]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert len(blocks) == 2, f"expected two bash blocks under {HEADING!r}"
    return blocks[1]


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_block_uses_the_contract():
    block = tiny_block()
    for needle in ("adamllm serve-folder", "transformers serve", "--synthesizer-endpoint", "--checker-endpoint"):
        assert needle in block, needle
    assert all(block.count(port) >= 2 for port in PORTS)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_scale_out_block_runs_as_written(tmp_path):
    script = tiny_block()
    for port in PORTS:
        script = script.replace(port, free_port())
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HOME": str(tmp_path / "fresh-hf-home"),  # a fresh machine: no Hugging Face cache folder yet
    }
    env.pop("HF_HUB_CACHE", None)
    proc = subprocess.Popen(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=850)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the servers, whatever happened
    assert proc.returncode == 0, out[-3000:] + err[-5000:]
    for noise in ("Traceback", "Unclosed"):  # the servers' output and ours share stderr
        assert noise not in out + err, err[-5000:]
    stats = json.loads((tmp_path / "outputs" / "scaled" / "run" / "stats.json").read_text())
    assert stats["pairs_in"] == 24 == stats["kept"] + stats["caption_only"] + stats["no_task"] + stats["rejected"]
    assert stats["kept"] > 0, stats
