"""Readers of the raw public benchmark releases: each turns a release folder into a :class:`TaskSource`.

One reader per release (SLAKE, VQA-RAD, PathVQA, PMC-VQA, Food-101, FoodSeg103, Nutrition5K, Recipe1M), in
the layouts their authors distribute (listed in ``docs/benchmarks.md``). PathVQA's pickle is read with an
unpickler that refuses every class. Prompts are our own wording; :mod:`hub_tools.evaluation.benchmarks`
writes the rows.

The readers live in :mod:`~hub_tools.evaluation.raw_biomed` and :mod:`~hub_tools.evaluation.raw_food`, what they
share in :mod:`~hub_tools.evaluation.raw_common`; this module re-exports them (the import path stays).
"""

from hub_tools.evaluation.raw_biomed import (
    BIOMED_READERS,
    PMC_VQA_IMAGE_DIRS,
    pathvqa_text,
    read_pathvqa,
    read_pmc_vqa,
    read_slake,
    read_vqa_rad,
)
from hub_tools.evaluation.raw_common import (
    FOOD101_PROMPT,
    FOODSEG103_PROMPT,
    MEDICAL_PROMPT,
    NUTRITION5K_PROMPT,
    PMC_PROMPT,
    RECIPE1M_PROMPT,
    SPLIT,
    BenchRow,
    TaskSource,
)
from hub_tools.evaluation.raw_food import (
    FOOD_READERS,
    FOODSEG103_EXCLUDED,
    NUTRITION5K_SPLIT,
    read_food101,
    read_foodseg103,
    read_nutrition5k,
    read_recipe1m,
    recipe_text,
)

__all__ = [
    "BIOMED_READERS",
    "BenchRow",
    "FOOD101_PROMPT",
    "FOODSEG103_EXCLUDED",
    "FOODSEG103_PROMPT",
    "FOOD_READERS",
    "MEDICAL_PROMPT",
    "NUTRITION5K_PROMPT",
    "NUTRITION5K_SPLIT",
    "PMC_PROMPT",
    "PMC_VQA_IMAGE_DIRS",
    "RECIPE1M_PROMPT",
    "SPLIT",
    "TaskSource",
    "pathvqa_text",
    "read_food101",
    "read_foodseg103",
    "read_nutrition5k",
    "read_pathvqa",
    "read_pmc_vqa",
    "read_recipe1m",
    "read_slake",
    "read_vqa_rad",
    "recipe_text",
]
