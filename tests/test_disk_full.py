"""A full disk mid-stage: one line naming the file, nothing half-finished left behind, and the rerun resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from test_compose import mixed_rows, write_run

# Runs the CLI with os.fsync failing as a full disk does, after `ok` successful calls.
FULL_DISK = """
import errno, os, sys
from hub_tools.cli import main
real, calls = os.fsync, [0]
def fsync(fd):
    calls[0] += 1
    if calls[0] > int(os.environ["OK_FSYNCS"]):
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(fd)
os.fsync = fsync
sys.exit(main(sys.argv[1:]))
"""


def _run(argv, ok_fsyncs=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    if ok_fsyncs is None:
        cmd = [sys.executable, "-m", "hub_tools", *argv]
    else:
        cmd, env["OK_FSYNCS"] = [sys.executable, "-c", FULL_DISK, *argv], str(ok_fsyncs)
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def test_full_disk_is_one_line_and_the_filter_resumes(tmp_path):
    rows, _ = mixed_rows(18)
    run = write_run(tmp_path / "run", rows, {})
    for path in (run / "filter").iterdir():
        path.unlink()
    res = _run(["filter", str(run), "--checker", "lexical", "--no-progress"], ok_fsyncs=4)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 1, res.stderr
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "no space left on device while writing" in lines[0] and "the run resumes" in lines[0]
    assert str(run / "filter") in lines[0]
    assert not list(run.rglob("*.tmp-*"))
    assert not list((run / "filter").glob("*.jsonl"))  # nothing finished: the shard stays .partial
    done = _run(["filter", str(run), "--checker", "lexical", "--no-progress"])
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["id"] for p in (run / "filter").glob("*.jsonl") for line in p.read_text().splitlines()]
    synthesized = [r["id"] for r in rows if r["status"] != "rejected"]
    assert sorted(ids) == sorted(synthesized)  # each judged exactly once across the two runs


def test_full_disk_while_composing_leaves_no_partial_file(tmp_path):
    rows, labels = mixed_rows(12)
    run = write_run(tmp_path / "run", rows, labels)
    res = _run(["compose", str(run)], ok_fsyncs=0)
    assert res.returncode == 1 and "no space left on device while writing" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not list(run.rglob("*.partial")) and not list(run.rglob("*.tmp-*"))
    assert _run(["compose", str(run)]).returncode == 0
