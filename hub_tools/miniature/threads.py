"""Torch thread counts for the tiny models on a small shared CPU: a fixed count, a live tuner, an idle check.

One thread can be ~10x faster than two when other processes share the two cores (a small matmul waits for a
descheduled worker), and two ~1.6x faster on an idle machine, so the count is measured, not assumed.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from contextlib import contextmanager


@contextmanager
def torch_threads(n: int | None):
    """Run a block with ``torch.set_num_threads(n)`` (restored afterwards); ``None`` leaves it alone.

    For the tiny models one thread is much faster when other processes share the CPU: with two
    threads on two busy cores, every small matmul waits for a descheduled worker (measured here:
    0.19 s vs 2.3 s per training step).
    """
    import torch

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def thread_tuner_callback(candidates: tuple[int, ...] | None = None, probe_steps: int = 6, every: int = 250):
    """A ``TrainerCallback`` that keeps picking the fastest torch thread count while training.

    A round times ``probe_steps`` steps with each of ``candidates`` (default: 1 and all cores; the
    current best first, the first step of each untimed) and then trains with the fastest. Rounds run
    every ``every`` steps and as soon as the last 5 steps average over 2.5x the best's time in the
    last round (another process took a core). A candidate whose step takes over 3x the current best's
    mean is dropped at once, so a round costs one step when a count is much slower. On a quiet 2-core
    machine two threads are ~1.6x faster for the tiny synthesizer; when other processes share the
    cores one thread is up to ~10x faster (see :func:`torch_threads`). ``history`` records
    ``(step, choice)``.
    """
    import torch
    from transformers import TrainerCallback

    cands = tuple(candidates or sorted({1, os.cpu_count() or 1}))

    class ThreadTuner(TrainerCallback):
        def __init__(self):
            self.best = torch.get_num_threads() if torch.get_num_threads() in cands else cands[0]
            self.history: list[tuple[int, int]] = []
            self.times: dict[int, list[float]] = defaultdict(list)
            self.baseline: float | None = None  # the best's mean step time in the last round
            self.recent: list[float] = []
            self._queue: list[int] = []
            self._current: int | None = None  # candidate being probed
            self._done = 0  # probe steps taken with it
            self._start = 0.0

        def _finish_round(self, step: int) -> None:
            means = {n: sum(t) / len(t) for n, t in self.times.items() if t}
            if means:
                self.best = min(means, key=means.get)
                self.baseline = means[self.best]
            self.history.append((step, self.best))
            self.recent = []
            self._current = None

        def _slowed_down(self) -> bool:
            return (
                self.baseline is not None and len(self.recent) >= 5 and sum(self.recent[-5:]) / 5 > 2.5 * self.baseline
            )

        def on_step_begin(self, args, state, control, **kwargs):
            slowed = self._slowed_down()
            if len(cands) > 1 and self._current is None and (slowed or state.global_step % every == 0):
                self.times.clear()
                others = [c for c in cands if c != self.best]
                if slowed:  # the best's recent steps are its measurement: probe only the others
                    self.times[self.best] = list(self.recent)
                    self._queue = others
                else:
                    self._queue = [self.best, *others]
                self._current, self._done = self._queue.pop(0), 0
            torch.set_num_threads(self._current if self._current is not None else self.best)
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            elapsed = time.perf_counter() - self._start
            if self._current is None:
                self.recent = (self.recent + [elapsed])[-5:]
                return
            self._done += 1
            if self._done > 1:  # the first step with a new count warms up
                self.times[self._current].append(elapsed)
            reference = self.times.get(self.best) if self._current != self.best else None
            too_slow = bool(reference) and elapsed > 3 * (sum(reference) / len(reference))
            if too_slow:
                self.times[self._current] = [elapsed]
            if self._done >= probe_steps or too_slow:
                if self._queue:
                    self._current, self._done = self._queue.pop(0), 0
                else:
                    self._finish_round(state.global_step)

    return ThreadTuner()


def auto_threads() -> int:
    """All cores when the machine looks idle (1-minute load average below 0.5), else one thread."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return 1
    return (os.cpu_count() or 1) if load < 0.5 else 1
