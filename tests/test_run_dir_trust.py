"""A run dir (or dataset folder) from an archive or a shared folder cannot be turned against its user (issue 20).

Planted symbolic links are never read or written through; damaged rows are found by ``adamllm doctor`` and
named (file, line, repair) by the stages; a read-only run dir can be read, and writing to it fails in one line.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_run_lock import REPO, adamllm, env, ids, input_ids, make_run

from hub_tools.rundir import RunDirRefused, ShardWriter, recover_partials, shard_files, write_bytes_atomic

SECRET = b"the user's own file\n"


def victim(tmp_path: Path, data: bytes = SECRET) -> Path:
    """A file the user owns, outside the run dir, that a planted link points to."""
    path = tmp_path / "home" / "private.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def one_error_line(res: subprocess.CompletedProcess, command: str) -> str:
    """The single ``adamllm COMMAND: error: ...`` line of a refused command (exit 1, no traceback)."""
    assert res.returncode == 1, res.stdout[-2000:] + res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"adamllm {command}: error: "), res.stderr[-2000:]
    return lines[0]


def plant(path: Path, target: Path) -> None:
    """Replace ``path`` (a file or folder of the run) by a symbolic link to ``target``."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    path.symlink_to(target)


# ---------------------------------------------------------------------------------------------
# item 2: planted symbolic links
# ---------------------------------------------------------------------------------------------
STAGE_ARGS = {
    "doctor": ["doctor"],
    "filter": ["filter", "--checker", "lexical"],
    "compose": ["compose"],
    "build-dataset": ["build-dataset", "--no-progress", "--output"],
}


def stage_args(command: str, run: Path, tmp_path: Path) -> list:
    first, *rest = STAGE_ARGS[command]
    return [first, run, *rest] + ([tmp_path / "ds"] if command == "build-dataset" else [])


@pytest.mark.parametrize("command", list(STAGE_ARGS))
def test_a_planted_lock_link_never_overwrites_the_users_file(command, sample_pairs, tmp_path):
    """The issue's reproduction: RUN/.adamllm.lock -> a user's file; any command on RUN used to overwrite it."""
    run = make_run(sample_pairs, tmp_path / "run")
    target = victim(tmp_path)
    plant(run / ".adamllm.lock", target)
    res = adamllm(*stage_args(command, run, tmp_path))
    assert target.read_bytes() == SECRET
    if command == "doctor":  # a problem, not "healthy"
        assert res.returncode == 1, res.stdout
        assert f"{run}: .adamllm.lock is a symbolic link (to {str(target)!r})" in res.stdout, res.stdout
        assert "healthy" not in res.stdout
    else:
        line = one_error_line(res, command)
        assert f"{run}/.adamllm.lock is a symbolic link; refusing to read or write through it" in line, line
        assert f"adamllm doctor {run} --repair" in line
    assert (run / ".adamllm.lock").is_symlink()  # refused, not "fixed" behind the user's back

    res = adamllm("doctor", run, "--repair")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "removed the symbolic link .adamllm.lock" in res.stdout and target.read_bytes() == SECRET
    assert not (run / ".adamllm.lock").is_symlink()
    res = adamllm(*stage_args(command, run, tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    assert target.read_bytes() == SECRET


PLANTS = [
    "stats.json",
    "manifest.json",
    "synthesis",
    "filter/shard-0-0.jsonl",
    "images/first.png",
    ".adamllm.lock.rank0",
]


@pytest.mark.parametrize("where", PLANTS)
def test_a_stage_refuses_any_planted_link_and_doctor_reports_and_removes_it(where, sample_pairs, tmp_path):
    """A link where the project reads or writes: the stages refuse the run in one line naming it; doctor lists it
    as a problem and --repair unlinks it (the target is never touched). The link points at a true copy, so a
    stage that followed it would not even fail."""
    run = make_run(sample_pairs, tmp_path / "run")
    if where == "images/first.png":
        where = f"images/{sorted(os.listdir(run / 'images'))[0]}"
    path = run / where
    outside = tmp_path / "outside" / path.name
    outside.parent.mkdir()
    if path.is_dir():
        shutil.copytree(path, outside)
    else:
        outside.write_bytes(path.read_bytes() if path.exists() else SECRET)
    before = sorted(p.name for p in outside.iterdir()) if outside.is_dir() else outside.read_bytes()
    plant(path, outside)

    line = one_error_line(adamllm("compose", run), "compose")
    assert f"{path} is a symbolic link; refusing to read or write through it" in line, line

    res = adamllm("doctor", run)
    assert res.returncode == 1 and f"{run}: {where} is a symbolic link (to {str(outside)!r})" in res.stdout, res.stdout

    res = adamllm("doctor", run, "--repair")
    assert f"{run}: repaired: removed the symbolic link {where}" in res.stdout, res.stdout + res.stderr
    assert not path.is_symlink()
    assert (sorted(p.name for p in outside.iterdir()) if outside.is_dir() else outside.read_bytes()) == before
    assert "symbolic link" not in adamllm("doctor", run).stdout


def test_a_removed_image_link_makes_its_pair_redone(sample_pairs, tmp_path):
    run = make_run(sample_pairs, tmp_path / "run")
    image = sorted((run / "images").iterdir())[0]
    plant(image, victim(tmp_path))
    res = adamllm("doctor", run, "--repair")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "rerun the stages (or the pipeline) to redo 1 synthesis row(s)" in res.stdout, res.stdout
    assert len(ids(run, "synthesis")) == len(input_ids(sample_pairs)) - 1  # its row goes: synthesis redoes it


@pytest.mark.parametrize("where", ["README.md", ".adamllm-build", "image_caption_pairs"])
def test_build_dataset_never_writes_through_a_link_in_its_output_folder(where, sample_pairs, tmp_path):
    run = make_run(sample_pairs, tmp_path / "run")
    out = tmp_path / "ds"
    out.mkdir()
    target = victim(tmp_path)
    if where != "README.md":
        target = tmp_path / "home" / "folder"
        target.mkdir()
    (out / where).symlink_to(target)
    res = adamllm("build-dataset", run, "--output", out, "--overwrite", "--no-progress")
    line = one_error_line(res, "build-dataset")
    assert f"{out / where} is a symbolic link; refusing to read or write through it (remove it)" in line, line
    assert target.read_bytes() == SECRET if where == "README.md" else list(target.iterdir()) == []


def test_atomic_writes_and_shard_recovery_never_follow_a_link(tmp_path):
    run = tmp_path / "run"
    (run / "synthesis").mkdir(parents=True)
    target = victim(tmp_path, b"first line\nno newline at the end")
    before = target.read_bytes()
    # the temp file of an atomic write: created exclusively, a planted one is unlinked, not followed
    (run / f".stats.json.tmp-{os.getpid()}").symlink_to(target)
    write_bytes_atomic(run / "stats.json", b"{}\n")
    assert (run / "stats.json").read_bytes() == b"{}\n" and target.read_bytes() == before
    # a planted .partial shard: recovery would truncate its "torn tail" through the link
    (run / "synthesis" / "shard-0-0.jsonl.partial").symlink_to(target)
    with pytest.raises(RunDirRefused, match="shard-0-0.jsonl.partial is a symbolic link"):
        recover_partials(run / "synthesis")
    assert target.read_bytes() == before
    # a new shard never opens an existing name (exclusive create)
    with ShardWriter(run / "synthesis") as writer:
        writer.write({"id": "a"})
    assert [p.name for p in shard_files(run / "synthesis")][-1] == "shard-0-1.jsonl" and target.read_bytes() == before


# ---------------------------------------------------------------------------------------------
# item 6: damaged rows and JSON files
# ---------------------------------------------------------------------------------------------
def damage(run: Path, kind: str) -> int:
    """Damage line 1 of the synthesis shard (or append a row not in the input); returns the damaged line number."""
    shard = shard_files(run / "synthesis")[0]
    lines = shard.read_text().splitlines()
    row = json.loads(lines[0])
    if kind == "no status":
        del row["status"]
    elif kind == "no informative":
        del row["triplets"][0]["informative"]
    elif kind == "integer id":
        row["id"] = 7
    elif kind == "id not in the input":
        row["id"] = "not-an-input-pair"
        lines.append(json.dumps(row))
        shard.write_text("\n".join(lines) + "\n")
        return len(lines)
    lines[0] = json.dumps(row)
    shard.write_text("\n".join(lines) + "\n")
    return 1


@pytest.mark.parametrize("kind", ["no status", "no informative", "integer id", "id not in the input"])
def test_doctor_finds_damaged_rows_and_stages_name_file_line_and_repair(kind, sample_pairs, tmp_path):
    run = make_run(sample_pairs, tmp_path / "run")
    n_in = len(input_ids(sample_pairs))
    line = damage(run, kind)
    shard = run / "synthesis" / "shard-0-0.jsonl"

    res = adamllm("doctor", run)
    assert res.returncode == 1 and "healthy" not in res.stdout, res.stdout
    if kind == "id not in the input":
        assert f"{run}: synthesis: 1 row(s) have ids that are not in the run's input" in res.stdout, res.stdout
    else:
        why = {"no status": "no 'status'", "no informative": "triplet 0 has no text 'informative'"}.get(
            kind, "'id' is 7"
        )
        assert f"line {line}: not a synthesis row ({why}" in res.stdout, res.stdout
        for command in ("filter", "compose"):  # named file, line and repair, never a bare KeyError
            err = one_error_line(adamllm(*stage_args(command, run, tmp_path)), command)
            assert f"{shard}: line {line} is not a synthesis row ({why}" in err, err
            assert err.endswith(f"run `adamllm doctor {run} --repair`"), err

    res = adamllm("doctor", run, "--repair")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (run / "quarantine" / "synthesis" / "shard-0-0.jsonl").is_file()
    assert set(ids(run, "synthesis")) <= set(input_ids(sample_pairs))
    stats = json.loads((run / "stats.json").read_text())
    assert stats["pairs_in"] == len(ids(run, "synthesis")) <= n_in  # never 25 pairs for 24 inputs


def test_a_garbage_stats_json_is_named_and_repaired(sample_pairs, tmp_path):
    run = make_run(sample_pairs, tmp_path / "run")
    (run / "stats.json").write_text('{"pairs_in": 24 "kept": 1}')
    err = one_error_line(adamllm("compose", run), "compose")
    assert f"{run / 'stats.json'} is not valid JSON (Expecting ',' delimiter at line 1)" in err, err
    assert f"adamllm doctor {run} --repair" in err
    res = adamllm("doctor", run)
    assert res.returncode == 1 and f"{run}: stats.json is not valid JSON" in res.stdout, res.stdout
    res = adamllm("doctor", run, "--repair")
    assert res.returncode == 0 and "healthy (24 synthesis rows, 24 filter rows)" in res.stdout, res.stdout
    assert (run / "quarantine" / "stats.json").read_text() == '{"pairs_in": 24 "kept": 1}'
    assert json.loads((run / "stats.json").read_text())["pairs_in"] == 24
    assert adamllm("compose", run).returncode == 0


# ---------------------------------------------------------------------------------------------
# item 7: a read-only run dir
# ---------------------------------------------------------------------------------------------
def _without_write_override() -> None:
    """In the child: drop the capabilities that let root write through permission bits (no-op for other users)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, from the bounding set: gone at exec
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def as_plain_user(*args) -> subprocess.CompletedProcess:
    """``adamllm ARGS`` as a user for whom permission bits hold (root: without CAP_DAC_OVERRIDE and friends)."""
    cmd = [sys.executable, "-m", "hub_tools", *map(str, args)]
    return subprocess.run(
        cmd, cwd=REPO, env=env(), capture_output=True, text=True, timeout=240, preexec_fn=_without_write_override
    )


def make_read_only(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)


def child_can_write(folder: Path) -> bool:
    code = f"open({str(folder / 'probe')!r}, 'w')"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, preexec_fn=_without_write_override)
    return res.returncode == 0


@pytest.mark.parametrize("lock_file", [True, False], ids=["with-lock-file", "from-an-archive"])
def test_read_only_run_dir_reads_work_and_writes_fail_in_one_line(lock_file, sample_pairs, tmp_path):
    run = make_run(sample_pairs, tmp_path / "run")
    if not lock_file:
        (run / ".adamllm.lock").unlink()
    entries = sorted(p.name for p in run.iterdir())
    make_read_only(run)
    if child_can_write(run):
        pytest.skip("permission bits do not stop this user from writing")
    res = as_plain_user("doctor", run)
    assert res.returncode == 0 and res.stdout.startswith(f"{run}: healthy (24 synthesis rows"), res.stdout + res.stderr
    res = as_plain_user("build-dataset", run, "--output", tmp_path / "ds", "--no-progress")
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "ds" / "README.md").is_file()
    for command, args in (("compose", []), ("doctor", ["--repair"]), ("filter", ["--checker", "lexical"])):
        line = one_error_line(as_plain_user(command, run, *args), command)
        assert line.startswith(f"adamllm {command}: error: {run} is not writable (Permission denied)"), line
    assert sorted(p.name for p in run.iterdir()) == entries
