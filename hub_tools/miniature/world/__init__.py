"""A miniature world for the quickstart: procedurally drawn images whose every fact is known.

Two kinds of image, drawn by our own code from a seed (no external assets): **food plates** (one to three kinds
of ingredient, one to four pieces each, every ingredient with a fixed colour and shape) and **scans** (CT, MRI or
X-ray of the brain, the lungs or the kidneys, with no lesion or one small or large lesion on the left or right
side *of the image*). Every image has a parameter record, captions and questions written from it, and
:func:`check_triplet` decides whether a synthesized triplet is true of the image.

Rooms: :mod:`~hub_tools.miniature.world.params` (parameters, sampling, held-out combinations),
:mod:`~hub_tools.miniature.world.draw` (the one drawer), :mod:`~hub_tools.miniature.world.text` (captions,
questions), :mod:`~hub_tools.miniature.world.grounding` (checks) and :mod:`~hub_tools.miniature.world.files`
(:func:`build_world` and readers). Build one from the command line with ``adamllm world OUT_DIR``.
"""

from __future__ import annotations

from hub_tools.defaults import CAPTION_PROMPT
from hub_tools.filtering.lexical import NUMBER_WORDS
from hub_tools.miniature.world.draw import draw, draw_food, draw_scan, png_bytes
from hub_tools.miniature.world.files import (
    ALLAVA_IMAGE_PREFIX,
    DEFAULT_TASK_NAMES,
    SEED_IMAGE_DIR,
    SEED_QUESTION_WEIGHTS,
    VFLAN_IMAGE_PREFIX,
    WORLD_FORMAT_VERSION,
    WorldConfig,
    build_world,
    load_pairs,
    seed_entries,
    world_corpus,
    world_files,
    write_benchmark,
    write_pairs,
    write_seed_sets,
)
from hub_tools.miniature.world.grounding import (
    _INGREDIENT_FORMS,
    _MODALITY_FORMS,
    _ORGAN_FORMS,
    _mentions,
    answer_is_true,
    check_triplet,
    parse_question,
)
from hub_tools.miniature.world.params import (
    COLORS,
    INGREDIENTS,
    MODALITIES,
    MODALITY_LONG,
    MODALITY_WORDS,
    ORGANS,
    SIDES,
    SIZES,
    Food,
    Ingredient,
    Item,
    Params,
    Scan,
    all_combos,
    as_params,
    choose_heldout,
    params_from_dict,
    params_to_dict,
    sample_food,
    sample_params,
    sample_scan,
)
from hub_tools.miniature.world.text import (
    QA,
    caption,
    caption_paraphrases,
    food_caption,
    food_questions,
    listing,
    questions,
    scan_caption,
    scan_questions,
)

__all__ = [
    "ALLAVA_IMAGE_PREFIX",
    "CAPTION_PROMPT",
    "COLORS",
    "DEFAULT_TASK_NAMES",
    "INGREDIENTS",
    "MODALITIES",
    "MODALITY_LONG",
    "MODALITY_WORDS",
    "NUMBER_WORDS",
    "ORGANS",
    "QA",
    "SEED_IMAGE_DIR",
    "SEED_QUESTION_WEIGHTS",
    "SIDES",
    "SIZES",
    "VFLAN_IMAGE_PREFIX",
    "WORLD_FORMAT_VERSION",
    "Food",
    "Ingredient",
    "Item",
    "Params",
    "Scan",
    "WorldConfig",
    "_INGREDIENT_FORMS",
    "_MODALITY_FORMS",
    "_ORGAN_FORMS",
    "_mentions",
    "all_combos",
    "answer_is_true",
    "as_params",
    "build_world",
    "caption",
    "caption_paraphrases",
    "check_triplet",
    "choose_heldout",
    "draw",
    "draw_food",
    "draw_scan",
    "food_caption",
    "food_questions",
    "listing",
    "load_pairs",
    "params_from_dict",
    "params_to_dict",
    "parse_question",
    "png_bytes",
    "questions",
    "sample_food",
    "sample_params",
    "sample_scan",
    "scan_caption",
    "scan_questions",
    "seed_entries",
    "world_corpus",
    "world_files",
    "write_benchmark",
    "write_pairs",
    "write_seed_sets",
]
