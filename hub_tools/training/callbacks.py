"""Trainer callbacks of the SFT recipe: :class:`HubCheckpointCallback` pushes checkpoints as they are saved."""

from __future__ import annotations

import os

from transformers import TrainerCallback


class HubCheckpointCallback(TrainerCallback):
    """Push checkpoints as they are saved (``hub_strategy``: every_save, checkpoint or all_checkpoints)."""

    def __init__(self, api, repo_id: str, strategy: str, private: bool | None):
        self.api, self.repo_id, self.strategy, self.private = api, repo_id, strategy, private

    def on_save(self, args, state, control, **kwargs):
        """Upload ``checkpoint-<step>`` to the repo root, ``last-checkpoint/`` or ``checkpoint-<step>/``."""
        if not state.is_world_process_zero:
            return
        from hub_tools.publish.hub import push_folder

        folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        target = {"every_save": None, "checkpoint": "last-checkpoint"}.get(
            self.strategy, f"checkpoint-{state.global_step}"
        )
        ignore = ["optimizer.pt", "scheduler.pt", "rng_state*.pth"] if target is None else []
        push_folder(
            folder,
            self.repo_id,
            repo_type="model",
            require_card=False,
            private=self.private,
            path_in_repo=target,
            ignore_patterns=ignore,
            commit_message=f"checkpoint at step {state.global_step}",
            api=self.api,
        )


class StepProgress(TrainerCallback):
    """One progress bar over the training steps (:func:`hub_tools.defaults.progress_bar`: plain lines when stderr
    is no terminal) in place of the trainer's bar and its printed log dicts: the last loss shows on the bar, and
    every logged entry goes to the ``hub_tools.training`` logger (a run's log file) and ``state.log_history``."""

    def __init__(self, desc: str = "training"):
        self.desc, self.bar = desc, None

    def on_train_begin(self, args, state, control, **kwargs):
        """Open the bar (main process only)."""
        from hub_tools.defaults import progress_bar

        if state.is_world_process_zero:
            self.bar = progress_bar(total=state.max_steps, desc=self.desc, unit="step", disable=args.disable_tqdm)

    def on_step_end(self, args, state, control, **kwargs):
        """Advance the bar to the current step."""
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        """Send the entry to the logger; show its loss on the bar."""
        import logging

        if not logs or not state.is_world_process_zero:
            return
        logging.getLogger("hub_tools.training").info("step %d: %s", state.global_step, logs)
        if self.bar is not None and "loss" in logs:
            self.bar.set_postfix(loss=f"{float(logs['loss']):.3f}", refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        """Close the bar."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def use_progress_callback(trainer, callback) -> None:
    """Put ``callback`` (e.g. :class:`StepProgress`) in place of the trainer's own bar and printed log dicts.

    With ``disable_tqdm`` the trainer shows nothing at all (the entries still reach ``state.log_history``).
    """
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    if not trainer.args.disable_tqdm:
        trainer.add_callback(callback)
