"""Visual instruction synthesis: prompts, generation engines and task-triplet parsing.

Light to import: engines load torch / transformers only when constructed.
"""

from hub_tools.synthesis.engines import TransformersEngine, make_engine
from hub_tools.synthesis.parse import LLAMA3, TaskTriplet, TurnFormat, parse_triplets, split_turns
from hub_tools.synthesis.prompts import (
    build_chat_prompt,
    build_released_prompt,
    chat_inputs,
    chat_turn_format,
    pick_prompt_format,
    released_inputs,
)

__all__ = [
    "LLAMA3",
    "TaskTriplet",
    "TransformersEngine",
    "TurnFormat",
    "build_chat_prompt",
    "build_released_prompt",
    "chat_inputs",
    "chat_turn_format",
    "make_engine",
    "parse_triplets",
    "pick_prompt_format",
    "released_inputs",
    "split_turns",
]
