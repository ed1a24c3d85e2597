"""The run directory and its accounting, used by every stage (layout and row formats: ``docs/run_dir.md``).

What a reader must know: shards are append-only and durable per record (:class:`ShardWriter`), a
``.partial`` shard is read up to its last complete line, and ``manifest.json`` / ``stats.json`` are
only ever rewritten atomically. Every stage holds :func:`lock_run_dir` while it runs, so one run
directory has one writer; :func:`check_run_dir` / :func:`repair_run_dir` are ``adamllm doctor``.
Nothing is read or written through a symbolic link the project did not create (:mod:`hub_tools.rundir.trust`),
and every stage reader checks each row's schema (:func:`row_problem`).
:class:`FaultPoints` is a test-only seam (``ADAMLLM_SYNTH_FAULT``).
"""

from hub_tools.rundir.accounting import VERDICT_LABELS, Outcome, collect_outcomes, write_stats  # noqa: F401
from hub_tools.rundir.doctor import DOCTOR_STAGES, RunCheck, ShardScan, check_run_dir, repair_run_dir, scan_shard  # noqa: F401
from hub_tools.rundir.faults import FAULT_ENV, FaultPoints  # noqa: F401
from hub_tools.rundir.lock import LOCK_NAME, RunDirBusy, dist_env, lock_run_dir  # noqa: F401
from hub_tools.rundir.rows import DamagedRow, row_problem  # noqa: F401
from hub_tools.rundir.shards import (  # noqa: F401
    SHARD_NAME,
    DamagedFile,
    DiskFull,
    ShardWriter,
    done_ids,
    fsync_dir,
    iter_records,
    read_json,
    recover_partials,
    shard_files,
    update_manifest,
    update_stats,
    write_bytes_atomic,
    write_json_atomic,
)
from hub_tools.rundir.trust import (  # noqa: F401
    RUN_OUTPUTS,
    RunDirRefused,
    check_no_links,
    open_no_follow,
    planted_links,
    refuse_links,
)
