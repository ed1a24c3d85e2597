"""Bundled sample data: 24 image-caption pairs, 12 biomedical-style and 12 food-style.

The images are drawn by code (:mod:`hub_tools.miniature.world.draw`; deterministic, no external assets)
and the captions were written for this project, so both can be redistributed under the project's
licence. They are smoke-test data for the quickstart, the demo and the tests — not training data.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from hub_tools.miniature.world.draw import draw_sample_plate, draw_sample_scan

BIOMED = [
    # (modality, organ, side, finding, caption)
    (
        "ct",
        "kidney",
        "left",
        "lesion",
        "Axial CT of the abdomen showing both kidneys; a round hypodense lesion about 2 cm across sits in the left kidney.",
    ),
    (
        "ct",
        "liver",
        "right",
        "lesion",
        "Contrast CT slice through the upper abdomen. The liver has a single dark, well-defined lesion in its right lobe.",
    ),
    (
        "xray",
        "lung",
        "right",
        "opacity",
        "Frontal chest X-ray. There is a patchy opacity in the right lower lung field; the left lung is clear.",
    ),
    (
        "xray",
        "lung",
        "none",
        "normal",
        "Frontal chest radiograph with clear lung fields on both sides and a normal heart outline. No abnormality is seen.",
    ),
    (
        "mri",
        "brain",
        "left",
        "lesion",
        "Axial T2-weighted MRI of the brain with a bright oval lesion in the left hemisphere near the ventricle.",
    ),
    (
        "mri",
        "brain",
        "none",
        "normal",
        "Axial MRI of the brain. Both hemispheres look symmetric and there is no focal lesion.",
    ),
    (
        "micro",
        "tissue",
        "none",
        "many nuclei",
        "Light microscopy of tissue stained with hematoxylin and eosin: pink stroma with many small round dark-purple nuclei.",
    ),
    (
        "micro",
        "blood",
        "none",
        "red cells",
        "Blood smear under a microscope showing numerous round red blood cells and one larger cell with a purple nucleus.",
    ),
    (
        "ct",
        "kidney",
        "right",
        "stone",
        "Non-contrast CT of the abdomen with a small very bright stone in the right kidney; the left kidney is normal.",
    ),
    (
        "xray",
        "bone",
        "left",
        "fracture",
        "X-ray of the forearm. A thin dark line crosses the left bone shaft, consistent with a fracture.",
    ),
    ("us", "liver", "none", "normal", "Ultrasound image of the liver with an even grey texture and no focal mass."),
    (
        "mri",
        "knee",
        "none",
        "effusion",
        "Sagittal MRI of the knee showing a bright fluid collection in front of the joint, a joint effusion.",
    ),
]

FOOD = [
    # (dish, ingredients (name, colour), caption)
    (
        "pasta",
        [("pasta", (232, 196, 110)), ("tomato sauce", (200, 40, 30)), ("basil", (40, 140, 50))],
        "A plate of pasta with tomato sauce topped with basil leaves. Ingredients: pasta, tomatoes, garlic, olive oil, basil. "
        "Steps: boil the pasta, simmer the sauce, toss together and garnish.",
    ),
    (
        "salad",
        [("lettuce", (90, 170, 60)), ("tomato", (220, 50, 40)), ("corn", (240, 210, 60))],
        "A fresh salad of green lettuce, red tomato wedges and yellow corn in a white bowl.",
    ),
    (
        "fried rice",
        [("rice", (245, 235, 200)), ("egg", (250, 220, 80)), ("peas", (80, 160, 60)), ("carrot", (240, 130, 40))],
        "Egg fried rice with peas and diced carrot. Ingredients: cooked rice, eggs, peas, carrots, soy sauce, oil. "
        "Steps: scramble the eggs, fry the vegetables, add the rice and soy sauce, stir-fry until hot.",
    ),
    (
        "pizza",
        [("crust", (220, 170, 90)), ("cheese", (250, 230, 150)), ("pepperoni", (170, 40, 30))],
        "A round pizza with melted cheese and slices of pepperoni on a golden crust.",
    ),
    (
        "sushi",
        [("rice", (245, 245, 240)), ("salmon", (250, 140, 90)), ("nori", (30, 50, 30))],
        "Six pieces of salmon sushi on a dark plate: white rice, orange salmon and a strip of nori.",
    ),
    (
        "soup",
        [("broth", (210, 150, 60)), ("noodles", (240, 220, 160)), ("scallion", (90, 180, 70))],
        "A bowl of noodle soup in a golden broth with sliced scallions on top.",
    ),
    (
        "pancakes",
        [("pancake", (210, 150, 80)), ("blueberries", (60, 70, 160)), ("syrup", (150, 80, 20))],
        "A stack of three pancakes with blueberries and maple syrup. Ingredients: flour, milk, egg, sugar, blueberries. "
        "Steps: whisk the batter, cook on a hot pan, stack and pour syrup.",
    ),
    (
        "steak",
        [("steak", (120, 50, 40)), ("potatoes", (230, 190, 100)), ("green beans", (60, 150, 60))],
        "A grilled steak served with roast potatoes and green beans.",
    ),
    (
        "fruit bowl",
        [("banana", (245, 220, 70)), ("strawberry", (220, 30, 50)), ("kiwi", (130, 180, 50))],
        "A bowl of sliced fruit: banana, strawberries and kiwi.",
    ),
    (
        "burger",
        [("bun", (210, 150, 70)), ("patty", (100, 60, 40)), ("lettuce", (90, 170, 60)), ("tomato", (220, 50, 40))],
        "A burger with a beef patty, lettuce and tomato in a sesame bun.",
    ),
    (
        "curry",
        [("curry", (220, 150, 40)), ("rice", (245, 240, 225)), ("chili", (200, 30, 20))],
        "Chicken curry in a yellow sauce next to white rice, garnished with a red chili. Ingredients: chicken, onion, "
        "curry paste, coconut milk, rice.",
    ),
    (
        "omelette",
        [("omelette", (250, 215, 90)), ("cheese", (250, 230, 150)), ("chives", (60, 140, 50))],
        "A folded omelette with cheese, sprinkled with chopped chives.",
    ),
]


def sample_records(seed: int = 0):
    """Yield ``(file_name, PIL image, caption, domain)`` for the 24 sample pairs."""
    rng = random.Random(seed)
    for i, (modality, organ, side, finding, caption) in enumerate(BIOMED):
        yield (
            f"biomed_{i:02d}_{modality}_{organ}.png",
            draw_sample_scan(rng, modality, organ, side, finding),
            caption,
            "biomed",
        )
    for i, (dish, ingredients, caption) in enumerate(FOOD):
        name = dish.replace(" ", "_")
        yield f"food_{i:02d}_{name}.png", draw_sample_plate(rng, ingredients), caption, "food"


SAMPLES_WRITER = "adamllm sample-data"


def write_sample_pairs(out_dir: str | Path, seed: int = 0, fmt: str = "sharegpt") -> Path:
    """Write the sample pairs under ``out_dir``; return the pairs file.

    ``fmt="sharegpt"`` writes ``image_caption_pairs.json`` (LLaMA-Factory ShareGPT layout, images in
    ``images/``); ``fmt="imagefolder"`` writes images + ``metadata.jsonl`` and returns the folder.
    """
    from hub_tools.rundir.ownership import claim, prepare_folder

    out_dir = Path(out_dir)
    records = list(sample_records(seed))
    names = (
        ["images", "image_caption_pairs.json"] if fmt == "sharegpt" else [r[0] for r in records] + ["metadata.jsonl"]
    )
    # new, empty, or sample data written before (rewritten as it was); anything else is refused in one line
    prepare_folder(out_dir, SAMPLES_WRITER, overwrite=True)
    claim(out_dir, SAMPLES_WRITER, names)
    images = out_dir / "images" if fmt == "sharegpt" else out_dir
    images.mkdir(parents=True, exist_ok=True)
    rows = []
    for file_name, img, caption, domain in records:
        img.save(images / file_name)
        rows.append((file_name, caption, domain))
    if fmt == "imagefolder":
        with open(out_dir / "metadata.jsonl", "w") as fh:
            for file_name, caption, domain in rows:
                fh.write(json.dumps({"file_name": file_name, "caption": caption, "domain": domain}) + "\n")
        return out_dir
    records = [
        {
            "messages": [
                {"role": "user", "content": "<image>Describe the image."},
                {"role": "assistant", "content": caption},
            ],
            "images": [f"images/{file_name}"],
        }
        for file_name, caption, _ in rows
    ]
    path = out_dir / "image_caption_pairs.json"
    path.write_text(json.dumps(records, indent=1))
    return path
