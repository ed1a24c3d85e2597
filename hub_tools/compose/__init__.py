"""Composition: turn judged triplets into training conversations (the third stage of the method).

``rules`` holds the answer-cue rules and the per-example template choice, ``templates`` the template
pools, ``runner`` the stage over a run directory. ``hub_tools.compose.answer_branch`` is a public path.
"""

from hub_tools.compose.runner import (
    DEFAULT_CAPTION_PROMPT,
    MODES,
    Outcome,
    TaskTurn,
    caption_turns,
    clean_question,
    collect_outcomes,
    compose_rows,
    compose_run,
    compose_task,
    example_rng,
    export_llamafactory,
    has_cue,
    image_path,
    last_sentence,
    llamafactory_dataset_info,
    to_sharegpt,
    update_manifest,
    write_split,
    write_stats,
)

__all__ = [
    "DEFAULT_CAPTION_PROMPT",
    "MODES",
    "Outcome",
    "TaskTurn",
    "caption_turns",
    "clean_question",
    "collect_outcomes",
    "compose_rows",
    "compose_run",
    "compose_task",
    "example_rng",
    "export_llamafactory",
    "has_cue",
    "image_path",
    "last_sentence",
    "llamafactory_dataset_info",
    "to_sharegpt",
    "update_manifest",
    "write_split",
    "write_stats",
]
