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
