"""``adamllm doctor``: find (and with ``--repair`` quarantine and rewrite) damage a run directory must never have."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hub_tools.rundir.accounting import VERDICT_LABELS, collect_outcomes
from hub_tools.rundir.rows import row_problem
from hub_tools.rundir.shards import (
    SHARD_NAME,
    DamagedFile,
    ShardWriter,
    fsync_dir,
    read_json,
    shard_files,
    write_json_atomic,
)
from hub_tools.rundir.trust import RunDirRefused, open_no_follow, planted_links

DOCTOR_STAGES = ("synthesis", "filter")
_SHOWN = 10  # problems listed one per line before the rest are summed up


@dataclass
class ShardScan:
    """One shard as :func:`check_run_dir` reads it (every line, not only up to the first bad one)."""

    stage: str
    path: Path
    rows: list[tuple[int, dict]] = field(default_factory=list)
    """``(line number, row)`` of every readable row, in order (rows recovered from around NUL bytes included)."""
    bad: list[tuple[int, str]] = field(default_factory=list)
    """``(line number, why)`` of every line that is not a clean row."""
    torn: str | None = None
    """For a finished shard whose last line has no newline: what that line is."""
    lost: int = 0
    """Lines whose row cannot be read back: the stage redoes those ids after a repair."""

    @property
    def finished(self) -> bool:
        return not self.path.name.endswith(".partial")

    @property
    def rank(self) -> int:
        return int(SHARD_NAME.match(self.path.name).group(1))

    @property
    def where(self) -> str:
        return f"{self.stage}/{self.path.name}"


def _parse_row(line: bytes, stage: str) -> tuple[dict | None, str | None]:
    try:
        obj = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not valid UTF-8"
    except json.JSONDecodeError as err:
        return None, f"not valid JSON ({err.msg})"
    why = row_problem(stage, obj)
    if why is not None:
        return None, f"not a {stage} row ({why})"
    return obj, None


def _parse_line(line: bytes, stage: str) -> tuple[dict | None, str | None]:
    """``(row, None)``: a clean line; ``(row, why)``: a whole row with NUL bytes around it; ``(None, why)``: lost."""
    row, why = _parse_row(line, stage)
    if row is not None or b"\0" not in line:
        return row, why
    why = f"{line.count(0)} NUL byte(s)"
    stripped = line.strip(b"\0")
    if stripped != line:
        row, _ = _parse_row(stripped, stage)
        if row is not None:
            return row, why + " around a whole row (the row is kept)"
    return None, why


def scan_shard(stage: str, path: Path) -> ShardScan:
    """Read every line of a shard; a ``.partial`` shard's torn tail is normal (the stage redoes it) and not reported.

    A line that is JSON but not a row of ``stage`` (:func:`~hub_tools.rundir.rows.row_problem`) is bad: its row is
    lost (the stage redoes that id after a repair). Never reads through a link.
    """
    with os.fdopen(open_no_follow(path, os.O_RDONLY), "rb") as fh:
        data = fh.read()
    complete = data.rfind(b"\n") + 1
    body, tail = data[:complete], data[complete:]
    scan = ShardScan(stage, path)
    n = 0
    for n, line in enumerate(body.split(b"\n")[:-1], 1):
        if not line.strip():
            continue
        row, why = _parse_line(line, stage)
        if row is not None:
            scan.rows.append((n, row))
        else:
            scan.lost += 1
        if why is not None:
            scan.bad.append((n, why))
    if tail and scan.finished:
        row, why = _parse_line(tail, stage)
        if row is not None:
            scan.rows.append((n + 1, row))
            scan.torn = f"line {n + 1} has no newline (its row is kept)"
        else:
            scan.lost += 1
            scan.torn = f"line {n + 1} is torn ({len(tail)} bytes without a newline: {why})"
    return scan


def _scan_stages(run_dir: Path) -> dict[str, list[ShardScan]]:
    """Every shard of each stage, except symbolic links (never read: reported by :func:`check_run_dir`)."""
    return {
        stage: []
        if (run_dir / stage).is_symlink()
        else [scan_shard(stage, p) for p in shard_files(run_dir / stage) if not p.is_symlink()]
        for stage in DOCTOR_STAGES
    }


def _read_run_json(path: Path) -> tuple[object, str | None]:
    """``(content or None, problem or None)`` of ``manifest.json`` / ``stats.json`` (a link is not read)."""
    try:
        return read_json(path), None
    except RunDirRefused:
        return None, None  # reported with the other links
    except DamagedFile as err:
        return None, f"{path.name} is not valid JSON ({err.why})"


def input_ids(run_dir: Path) -> tuple[set[str] | None, str | None]:
    """The ids of the run's input (``manifest.json`` ``synthesize.pairs``, re-read without decoding images), or
    ``(None, why not)``: the input is not a local file or folder any more, differs from the fingerprint the run
    recorded (a rerun is refused then), or cannot be read."""
    manifest, _ = _read_run_json(run_dir / "manifest.json")
    entry = manifest.get("synthesize") if isinstance(manifest, dict) else None
    pairs = entry.get("pairs") if isinstance(entry, dict) else None
    if not isinstance(pairs, str):
        return None, None
    if not Path(pairs).exists():
        return None, f"ids not checked against the input: {pairs!r} is not a local file or folder here"
    from hub_tools.data import read_pairs

    kwargs = {k: entry[k] for k in ("image_root", "image_column", "caption_column", "split") if entry.get(k)}
    try:
        if isinstance(entry.get("input"), dict):
            from hub_tools.data.fingerprint import describe_change, input_fingerprint

            now = input_fingerprint(pairs, split=entry.get("split") or "train", previous=entry["input"])
            change = describe_change(pairs, entry["input"], now)
            if change is not None:
                return None, f"ids not checked against the input: {change[0]} changed since the run ({change[1]})"
        return {rec.id for rec in read_pairs(pairs, check_images=False, **kwargs)}, None
    except Exception as err:  # the input's own problem: report it, check the rest
        return None, f"ids not checked against the input {pairs!r}: {str(err).splitlines()[0] if str(err) else err!r}"


def _first_rows(scans: list[ShardScan]) -> dict[str, dict]:
    """The first row of every id, in shard order (what a repair keeps)."""
    first: dict[str, dict] = {}
    for scan in scans:
        for _, row in scan.rows:
            first.setdefault(row["id"], row)
    return first


def image_missing(run_dir: Path, row: dict) -> bool:
    """A synthesized row whose image file is gone (e.g. a planted link that ``--repair`` removed): redo the pair."""
    image = row.get("image") or f"images/{row['id']}.png"  # compose's default for rows without one
    return row.get("status") == "synthesized" and not os.path.lexists(run_dir / image)


def _expected_stats(scans: dict[str, list[ShardScan]]) -> tuple[dict | None, dict | None]:
    """What ``stats.json`` must say given the rows: synthesis counts (None while synthesis is unfinished or
    empty) and outcome counts (None unless the filter is finished and has judged every pair with a triplet)."""
    if not scans["synthesis"] or any(not s.finished for s in scans["synthesis"]):
        return None, None
    synth, judged = _first_rows(scans["synthesis"]), _first_rows(scans["filter"])
    c = Counter()
    for row in synth.values():
        c["rejected" if row.get("status") == "rejected" else "synthesized"] += 1
        c["triplets"] += len(row.get("triplets") or [])
        c["pairs_with_triplets"] += bool(row.get("triplets"))
    syn = {
        "pairs_in": len(synth),
        **{k: c[k] for k in ("synthesized", "rejected", "triplets", "pairs_with_triplets")},
    }
    todo = [r for r in synth.values() if r.get("status") != "rejected" and r.get("triplets")]
    if any(not s.finished for s in scans["filter"]) or any(r["id"] not in judged for r in todo):
        return syn, None
    labels = Counter()
    kept = 0
    for row in todo:
        verdicts = judged[row["id"]].get("verdicts") or []
        labels.update(v.get("label") for v in verdicts if isinstance(v, dict))
        kept += bool(verdicts) and isinstance(verdicts[0], dict) and verdicts[0].get("label") == "Yes"
    out = {
        "kept": kept,
        "caption_only + no_task": c["synthesized"] - kept,
        "verdicts": {label: labels[label] for label in VERDICT_LABELS},
    }
    return syn, out


def _stats_problems(run_dir: Path, scans: dict[str, list[ShardScan]]) -> list[str]:
    syn, out = _expected_stats(scans)
    stats, damaged = _read_run_json(run_dir / "stats.json")
    if syn is None or damaged or (run_dir / "stats.json").is_symlink():
        return []  # a damaged or linked stats.json is reported on its own
    if not isinstance(stats, dict):
        return [f"stats.json is missing (the rows give pairs_in={syn['pairs_in']})"]
    problems = [
        f"stats.json: {k} is {stats[k]!r}, the rows give {v}" for k, v in syn.items() if k in stats and stats[k] != v
    ]
    if out is not None and "kept" in stats:
        got = {
            "kept": stats.get("kept"),
            "caption_only + no_task": (stats.get("caption_only") or 0) + (stats.get("no_task") or 0),
            "verdicts": {label: (stats.get("verdicts") or {}).get(label, 0) for label in VERDICT_LABELS},
        }
        problems += [f"stats.json: {k} is {got[k]!r}, the rows give {v!r}" for k, v in out.items() if got[k] != v]
    return problems


@dataclass
class RunCheck:
    """What :func:`check_run_dir` found: ``problems`` (one line each; none means healthy) and ``notes``."""

    problems: list[str]
    notes: list[str]
    synthesis_rows: int
    filter_rows: int

    @property
    def healthy(self) -> bool:
        return not self.problems


def check_run_dir(run_dir: str | os.PathLike) -> RunCheck:
    """Read every shard of ``synthesis/`` and ``filter/`` and list what is wrong, one line per problem.

    Problems: symbolic links where the project reads or writes (the lock files, ``manifest.json``,
    ``stats.json``, stage folders, shards, images: never read), a ``manifest.json`` / ``stats.json`` that is not
    valid JSON, lines that are not valid UTF-8 JSON rows of their stage (e.g. a run of NUL bytes, a row
    without ``status``: :func:`~hub_tools.rundir.rows.row_problem`), a torn last line in a finished shard,
    ids written more than once (within or across shards), synthesis rows whose id is not in the run's input
    (checked when the input is still a local file or folder), filter rows whose id has no synthesis row, and
    ``stats.json`` disagreeing with the rows. An unfinished (``.partial``) shard is a note, not a problem:
    rerunning its stage resumes it.
    """
    run_dir = Path(run_dir)
    problems, notes = [], []
    for link in planted_links(run_dir):
        problems.append(
            f"{link.relative_to(run_dir)} is a symbolic link (to {os.readlink(link)!r}); the project never reads or "
            "writes through one (`--repair` removes the link, not its target)"
        )
    for name in ("manifest.json", "stats.json"):
        _, why = _read_run_json(run_dir / name)
        if why:
            problems.append(why)
    scans = _scan_stages(run_dir)
    ids: dict[str, dict[str, list[str]]] = {}
    for stage, stage_scans in scans.items():
        where: dict[str, list[str]] = ids.setdefault(stage, {})
        for scan in stage_scans:
            if not scan.finished:
                notes.append(f"{scan.where} is unfinished (an interrupted run): rerun the stage to resume it")
            if scan.bad:
                shown = "; ".join(f"line {n}: {why}" for n, why in scan.bad[:3])
                more = f"; and {len(scan.bad) - 3} more" if len(scan.bad) > 3 else ""
                problems.append(f"{scan.where}: {len(scan.bad)} line(s) are not valid UTF-8 JSON rows ({shown}{more})")
            if scan.torn:
                problems.append(f"{scan.where}: finished shard with a torn last line: {scan.torn}")
            for n, row in scan.rows:
                where.setdefault(row["id"], []).append(f"{scan.path.name}:{n}")
        dups = [(i, w) for i, w in where.items() if len(w) > 1]
        problems += [f"{stage}: id {i!r} appears {len(w)} times ({', '.join(w)})" for i, w in dups[:_SHOWN]]
        if len(dups) > _SHOWN:
            problems.append(f"{stage}: and {len(dups) - _SHOWN} more id(s) written more than once")
    gone = [row["id"] for scan in scans["synthesis"] for _, row in scan.rows if image_missing(run_dir, row)]
    if gone:
        shown = ", ".join(repr(i) for i in gone[:5])
        problems.append(f"synthesis: {len(gone)} synthesized row(s) have no image file (e.g. {shown})")
    inputs, note = input_ids(run_dir) if ids["synthesis"] else (None, None)
    notes += [note] if note else []
    strays = [i for i in ids["synthesis"] if inputs is not None and i not in inputs]
    if strays:
        shown = ", ".join(repr(i) for i in strays[:5])
        problems.append(f"synthesis: {len(strays)} row(s) have ids that are not in the run's input (e.g. {shown})")
    orphans = [i for i in ids["filter"] if i not in ids["synthesis"]]
    if orphans:
        shown = ", ".join(repr(i) for i in orphans[:5])
        problems.append(f"filter: {len(orphans)} row(s) judge ids that have no synthesis row (e.g. {shown})")
    problems += _stats_problems(run_dir, scans)
    return RunCheck(problems, notes, len(ids["synthesis"]), len(ids["filter"]))


def _quarantine(run_dir: Path, path: Path, stage: str | None) -> Path:
    qdir = run_dir / "quarantine" / stage if stage else run_dir / "quarantine"
    qdir.mkdir(parents=True, exist_ok=True)  # no link on the way: repair_run_dir removed them first
    target, k = qdir / path.name, 1
    while os.path.lexists(target):
        target, k = qdir / f"{path.name}.{k}", k + 1
    os.replace(path, target)
    fsync_dir(qdir)
    fsync_dir(path.parent)
    return target


def repair_run_dir(run_dir: str | os.PathLike) -> dict:
    """Make a damaged run directory resumable again; the caller holds :func:`lock_run_dir`.

    First every symbolic link where the project reads or writes is removed (unlinked: its target is never
    touched), and a ``manifest.json`` / ``stats.json`` that is not valid JSON is moved to ``RUN_DIR/quarantine/``.
    Each damaged shard (unreadable lines or rows that break their stage's schema, a torn finished tail, an id
    already written before it, a synthesis row whose id is not in the run's input, or, in ``filter/``, a row
    for an id synthesis does not have) is moved to ``RUN_DIR/quarantine/<stage>/`` and its rows are
    rewritten into a fresh finished shard, except ids already written earlier (the first occurrence is
    kept), ids not in the input and orphan filter rows. Rows that could not be read are lost, so
    rerunning the stage redoes exactly those ids. ``stats.json`` is then recounted from the rows.
    Returns ``{"actions": [one line per shard], "lost": {stage: n}}``.
    """
    run_dir = Path(run_dir)
    actions: list[str] = []
    for link in planted_links(run_dir):
        target = os.readlink(link)
        link.unlink()
        actions.append(
            f"removed the symbolic link {link.relative_to(run_dir)} (to {target!r}; the target is untouched)"
        )
    for name in ("manifest.json", "stats.json"):
        if _read_run_json(run_dir / name)[1]:
            moved = _quarantine(run_dir, run_dir / name, None)
            actions.append(f"{name} is not valid JSON -> {moved.relative_to(run_dir)}")
    lost: Counter = Counter()
    synth_ids: set[str] = set()
    inputs, _ = input_ids(run_dir)
    for stage in DOCTOR_STAGES:
        seen: set[str] = set()
        plan = []
        for scan in (scan_shard(stage, p) for p in shard_files(run_dir / stage)):
            keep, dups, orphans, strays = [], 0, 0, 0
            for _, row in scan.rows:
                if row["id"] in seen:
                    dups += 1
                elif stage == "filter" and row["id"] not in synth_ids:
                    orphans += 1
                elif stage == "synthesis" and inputs is not None and row["id"] not in inputs:
                    strays += 1  # not a pair of this run: nothing to redo
                elif stage == "synthesis" and image_missing(run_dir, row):
                    scan.lost += 1  # the stage redoes the pair (and saves its image again)
                    scan.bad.append((0, "image file missing"))
                else:
                    seen.add(row["id"])
                    keep.append(row)
            if scan.bad or scan.torn or dups or orphans or strays:
                plan.append((scan, keep, dups, orphans, strays))
        if stage == "synthesis":
            synth_ids = seen
        for scan, keep, dups, orphans, strays in plan:
            # quarantine first: a crash after this loses rows the stage redoes, never duplicates them
            target = _quarantine(run_dir, scan.path, stage)
            writer = ShardWriter(run_dir / stage, rank=scan.rank)
            for row in keep:
                writer.write(row)
            new = writer.close()
            lost[stage] += scan.lost + orphans
            dropped = [
                f"{n} {what}"
                for n, what in (
                    (dups, "duplicate(s)"),
                    (orphans, "orphan row(s)"),
                    (strays, "row(s) not in the input"),
                )
                if n
            ]
            actions.append(
                f"{scan.where} -> {target.relative_to(run_dir)}: {len(keep)} row(s) rewritten"
                + (f" to {stage}/{new.name}" if new else "")
                + (f", {' and '.join(dropped)} dropped" if dropped else "")
                + (f", {scan.lost} unreadable row(s) to redo" if scan.lost else "")
            )
    syn, out = _expected_stats(_scan_stages(run_dir))
    if syn is not None:
        stats, _ = _read_run_json(run_dir / "stats.json")
        stats = stats if isinstance(stats, dict) else {}
        fresh = {**stats, **syn}
        if out is None:  # outcome counts are stale until the filter and compose are rerun
            for key in ("kept", "caption_only", "no_task", "verdicts"):
                fresh.pop(key, None)
        else:
            compose = (read_json(run_dir / "manifest.json", default={}) or {}).get("compose") or {}
            fresh.update(collect_outcomes(run_dir, bool(compose.get("keep_captions_without_task")))[1])
        if fresh != stats:
            write_json_atomic(run_dir / "stats.json", fresh)
            actions.append("stats.json recounted from the rows")
    return {"actions": actions, "lost": dict(lost)}
