"""``adamllm filter``: judge every synthesized pair's triplets, resumably (see ``docs/run_dir.md``)."""

from __future__ import annotations

import os
from pathlib import Path

from hub_tools.errors import settings_mismatch
from hub_tools.filtering.prompt import Item, item_text
from hub_tools.rundir import (
    ShardWriter,
    collect_outcomes,
    iter_records,
    lock_run_dir,
    recover_partials,
    shard_files,
    update_manifest,
    write_stats,
)


def _items(row: dict, all_triplets: bool) -> list[Item]:
    triplets = row.get("triplets") or []
    if not all_triplets:
        triplets = triplets[:1]
    return [Item(t["question"], t["informative"], t["precise"]) for t in triplets]


def checker_decision(checker) -> str:
    """The decision rule a checker's rows record (``"lexical"`` for the heuristic)."""
    return getattr(checker, "decision", None) or ("lexical" if checker.name == "lexical" else "label-logits")


def row_decision(row: dict) -> str:
    """The decision of a filter row; rows from before decisions were recorded used ``label-logits`` (or lexical)."""
    return row.get("decision") or ("lexical" if row.get("checker") == "lexical" else "label-logits")


def filter_run(
    run_dir: str | os.PathLike,
    checker,
    batch_size: int = 8,
    all_triplets: bool = False,
    progress: bool = True,
    overwrite: bool = False,
) -> dict:
    """Write one filter row per synthesized pair that has none yet; returns counts of this call.

    Afterwards ``stats.json`` gets the verdict counts and the kept / caption-only / rejected split.

    ``checker`` has ``.name``, ``.decision`` and ``.judge(items) -> verdicts``. By default only ``triplets[0]``
    (the one the released protocol keeps) is judged; ``all_triplets=True`` judges every triplet,
    so that ``verdicts[i]`` judges ``triplets[i]`` for all ``i``. Pairs without triplets get
    ``verdicts: []``. Raises ``ValueError`` if synthesis is unfinished,
    :class:`~hub_tools.errors.ConfigMismatch` if earlier filter rows came from another checker or decision rule
    (``overwrite`` removes them first), and :class:`~hub_tools.rundir.RunDirBusy` if another process holds
    ``run_dir`` (the whole run holds :func:`~hub_tools.rundir.lock_run_dir`).
    """
    from hub_tools.rundir.ownership import check_stage_run_dir

    # a link, or a folder that is not a run dir: refused before the lock, untouched
    check_stage_run_dir(run_dir, "adamllm filter", removing=overwrite)
    with lock_run_dir(run_dir, "adamllm filter", create=False):
        return _filter_run(Path(run_dir), checker, batch_size, all_triplets, progress, overwrite)


def _filter_run(
    run_dir: Path, checker, batch_size: int, all_triplets: bool, progress: bool, overwrite: bool = False
) -> dict:
    from hub_tools.defaults import progress_bar

    synth_dir, filter_dir = run_dir / "synthesis", run_dir / "filter"
    if not synth_dir.is_dir():
        raise FileNotFoundError(f"{str(run_dir)!r} has no synthesis/ folder; run `adamllm synthesize` first")
    if any(p.name.endswith(".partial") for p in shard_files(synth_dir)):
        raise ValueError(f"synthesis in {str(run_dir)!r} is unfinished (.partial shards); resume it first")
    if overwrite and os.path.lexists(filter_dir):  # only in a run dir (its manifest), by name, never via a link
        from hub_tools.rundir.ownership import clear_run_outputs

        clear_run_outputs(run_dir, ("filter",), command="adamllm filter --overwrite")
    recover_partials(filter_dir)  # an interrupted filter run: keep its complete rows, drop a torn tail
    decision = checker_decision(checker)
    done, checkers, decisions = set(), set(), set()
    for row in iter_records(filter_dir):
        done.add(row["id"])
        checkers.add(row.get("checker"))
        decisions.add(row_decision(row))
    diff = {}
    if checkers - {checker.name}:
        diff["checker"] = (", ".join(sorted(map(str, checkers))), checker.name)
    if decisions - {decision}:
        diff["decision"] = (", ".join(sorted(map(str, decisions))), decision)
    if diff:
        raise settings_mismatch(run_dir, "filter", diff)
    pending = [r for r in iter_records(synth_dir) if r.get("status") != "rejected" and r["id"] not in done]
    config = {"checker": checker.name, "decision": decision, "batch_size": batch_size, "all_triplets": all_triplets}
    template = getattr(checker, "template", None)
    if template is not None:
        config["checker_prompt"] = template.source
        config["clip_fields"] = template.clip
    update_manifest(run_dir, "filter", config)
    n_items = sum(len(_items(r, all_triplets)) for r in pending)
    judged = 0
    chunk_pairs = max(1, batch_size * 8)
    with (
        ShardWriter(filter_dir) as writer,
        progress_bar(total=n_items, desc="filter", unit="item", disable=not progress) as bar,
    ):
        for start in range(0, len(pending), chunk_pairs):
            chunk = pending[start : start + chunk_pairs]
            flat = [(n, j, it) for n, row in enumerate(chunk) for j, it in enumerate(_items(row, all_triplets))]
            # Similar lengths together -> less padding; results are put back in place below.
            order = sorted(range(len(flat)), key=lambda k: len(item_text(flat[k][2])))
            verdicts: dict[tuple[int, int], dict] = {}
            for b in range(0, len(order), batch_size):
                batch = [flat[k] for k in order[b : b + batch_size]]
                for (n, j, _), v in zip(batch, checker.judge([it for _, _, it in batch])):
                    verdicts[(n, j)] = v
                bar.update(len(batch))
            for n, row in enumerate(chunk):
                count = len(_items(row, all_triplets))
                writer.write(
                    {
                        "id": row["id"],
                        "checker": checker.name,
                        "decision": decision,
                        "verdicts": [verdicts[(n, j)] for j in range(count)],
                    }
                )
                judged += count
    _, stats = collect_outcomes(run_dir)
    stats = write_stats(run_dir, stats)
    return {"pairs": len(pending), "items": judged, "already_done": len(done), "stats": stats}
