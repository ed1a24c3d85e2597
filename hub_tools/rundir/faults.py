"""Test-only fault injection (``ADAMLLM_SYNTH_FAULT``): SIGKILL at a chosen point of synthesis; inert when unset."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping

from hub_tools.rundir.shards import ShardWriter

FAULT_ENV = "ADAMLLM_SYNTH_FAULT"
"""``<point>:<N>`` (``after-record``, ``torn-record``, ``after-image``): SIGKILL at that point of the N-th pair."""


class FaultPoints:
    """Test seam: kill the process at a chosen point of a run, as a crash would. Inert unless the env var is set.

    Build one per run with :meth:`from_env` (the variable is read once); the runner calls it at each
    named point with a running count.
    """

    def __init__(self, spec: str | None = None):
        self.plan: tuple[str, int] | None = None
        if spec:
            point, _, n = spec.partition(":")
            self.plan = (point, int(n or 1))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaultPoints:
        """The plan in ``$ADAMLLM_SYNTH_FAULT`` (none when unset); raises ``ValueError`` for a bad count."""
        return cls((os.environ if environ is None else environ).get(FAULT_ENV))

    def __call__(self, point: str, count: int, torn: tuple[ShardWriter, dict] | None = None) -> None:
        """SIGKILL this process if ``(point, count)`` is the plan; ``torn=(writer, row)`` first writes half the row."""
        if self.plan is None or (point, count) != self.plan:
            return
        if torn is not None:
            writer, row = torn
            line = json.dumps(row).encode()
            writer._fh.write(line[: len(line) // 2])
            writer._fh.flush()
            os.fsync(writer._fh.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
