"""Composition: turn judged triplets into training conversations (the third stage of the method).

``rules`` holds the answer-cue rules and the per-example template choice, ``templates`` the template
pools, ``runner`` the stage over a run directory, ``export`` the LLaMA-Factory export.
``hub_tools.compose.answer_branch`` is a public path.
"""

from hub_tools.compose.export import export_llamafactory, llamafactory_dataset_info, to_sharegpt
from hub_tools.compose.rules import (
    CUE_RULES,
    TaskTurn,
    answer_branch,
    compose_task,
    example_rng,
    has_cue,
    has_released_cue,
    last_sentence,
)
from hub_tools.compose.runner import (
    MODES,
    ComposeOptions,
    caption_turns,
    compose_rows,
    compose_run,
    image_path,
    write_split,
)
from hub_tools.rundir import Outcome, collect_outcomes, update_manifest, write_stats

__all__ = [
    "CUE_RULES",
    "MODES",
    "ComposeOptions",
    "Outcome",
    "TaskTurn",
    "answer_branch",
    "caption_turns",
    "collect_outcomes",
    "compose_rows",
    "compose_run",
    "compose_task",
    "example_rng",
    "export_llamafactory",
    "has_cue",
    "has_released_cue",
    "image_path",
    "last_sentence",
    "llamafactory_dataset_info",
    "to_sharegpt",
    "update_manifest",
    "write_split",
    "write_stats",
]
