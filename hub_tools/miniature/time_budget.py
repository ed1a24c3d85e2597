"""Time budgets for the tiny synthesizer's training: stop after N minutes, schedule the lr over elapsed time.

A time-budgeted run has no meaningful step count, so its cosine follows the elapsed share of the budget and
its progress bar counts seconds. :func:`budget_hooks` turns a budget into the keywords of
:func:`hub_tools.training.synthesizer.train` (which knows nothing of time budgets).
"""

from __future__ import annotations

import math
import time

TIMED_MAX_STEPS = 1_000_000
"""Step cap of a time-budgeted run (the budget, not this cap, ends it)."""


def time_budget_callback(
    minutes: float,
    warmup_steps: int = 0,
    schedule: bool = True,
    decay_share: float = 1.0,
    warmup_share: float = 0.0,
):
    """A ``TrainerCallback`` that stops training once ``minutes`` have passed since training began.

    Its ``lr_factor(step)`` is a learning-rate multiplier for a ``LambdaLR``: linear warmup over
    ``warmup_steps`` steps (or over the first ``warmup_share`` of the budget), then constant, then a cosine
    decay to zero over the last ``decay_share`` of the *time budget* (1.0: a plain cosine over the whole
    budget; less: a warmup-stable-decay schedule). The schedule ends when the budget does however fast the
    steps run (the CPU may be shared); ``schedule`` says whether the trainer should use it. ``stopped_early``
    tells whether the budget ended training.
    """
    if not 0 < decay_share <= 1:
        raise ValueError(f"decay_share must be in (0, 1], not {decay_share}")
    from transformers import TrainerCallback

    class TimeBudget(TrainerCallback):
        def __init__(self):
            self.start: float | None = None
            self.stopped_early = False
            self.schedule = schedule

        def elapsed_share(self) -> float:
            if self.start is None:
                return 0.0
            return min(1.0, (time.monotonic() - self.start) / (minutes * 60))

        def lr_factor(self, step: int) -> float:
            if step < warmup_steps:
                return (step + 1) / warmup_steps
            if warmup_share and self.elapsed_share() < warmup_share:
                return max(self.elapsed_share() / warmup_share, 1e-3)
            progress = max(0.0, self.elapsed_share() - (1 - decay_share)) / decay_share
            return 0.5 * (1 + math.cos(math.pi * progress))

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            if self.elapsed_share() >= 1.0:
                self.stopped_early = True
                control.should_training_stop = True
            return control

    return TimeBudget()


def time_progress_callback(minutes: float):
    """A ``TrainerCallback`` with a progress bar over the seconds of a time budget (in place of the step bar).

    A time-budgeted run has no meaningful step total, so the bar counts elapsed seconds against the
    budget and shows the step and the last logged loss.
    """
    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    total = max(1, round(minutes * 60))

    class TimeProgress(TrainerCallback):
        def __init__(self):
            self.bar = None
            self.start = 0.0
            self.loss = None

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.start = time.monotonic()
                self.bar = tqdm(total=total, desc="tuning (time budget)", unit="s", dynamic_ncols=True)

        def on_step_end(self, args, state, control, **kwargs):
            second = min(total, int(time.monotonic() - self.start))
            if self.bar is not None and second != self.bar.n:  # one refresh a second, not one a step
                self.bar.n = second
                postfix = {"step": state.global_step}
                if self.loss is not None:
                    postfix["loss"] = f"{self.loss:.3f}"
                self.bar.set_postfix(postfix, refresh=False)
                self.bar.refresh()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self.loss = logs["loss"]

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return TimeProgress()


def budget_hooks(args, max_minutes: float | None, decay_share: float = 1.0) -> dict:
    """The keywords of :func:`hub_tools.training.synthesizer.train` for a ``max_minutes`` budget on ``args``.

    Without ``max_steps`` in ``args`` the budget is the schedule: ``args.max_steps`` becomes
    :data:`TIMED_MAX_STEPS`, the lr follows ``lr_factor`` and a seconds bar replaces the step bar; with
    ``max_steps`` the configured schedule runs and the budget only stops it early. Returns ``callbacks``
    (the budget), ``lr_lambda`` and ``progress_callback`` (``None`` when not used); no budget: no hooks.
    """
    if max_minutes is None:
        return {"callbacks": [], "lr_lambda": None, "progress_callback": None}
    timed = args.max_steps is None or args.max_steps <= 0
    ratio = 0 < args.warmup_steps < 1  # transformers 5: a float below 1 is a share of the run
    budget = time_budget_callback(
        max_minutes,
        warmup_steps=0 if ratio else int(args.warmup_steps),
        warmup_share=args.warmup_steps if ratio else 0.0,
        schedule=timed,
        decay_share=decay_share,
    )
    if timed:
        args.max_steps = TIMED_MAX_STEPS  # a cap; the time budget ends training
    show_seconds = budget.schedule and not args.disable_tqdm
    return {
        "callbacks": [budget],
        "lr_lambda": budget.lr_factor if budget.schedule else None,
        "progress_callback": time_progress_callback(max_minutes) if show_seconds else None,
    }
