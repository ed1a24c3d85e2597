"""The one procedural drawer of the miniature: world plates, scans and aerial scenes, the bundled sample pairs, the SFT
demo shapes.

Pixels are part of the contract: the world's files, the bundled example PNGs (``spaces/synthesizer/examples/``) and
the tests depend on every drawing call and every ``rng`` draw staying in its order.
"""

from __future__ import annotations

import io
import math
import random

from hub_tools.miniature.world.params import AERIAL_OBJECTS, INGREDIENTS, LAND_USES, Aerial, Food, Params, Scan


# ---------------------------------------------------------------------------------------------
# the world's plates and scans
# ---------------------------------------------------------------------------------------------
def _jitter(rng: random.Random, rgb: tuple[int, int, int], amount: int = 12) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)  # type: ignore[return-value]


def _shade(rng: random.Random, rgb: tuple[int, int, int], amount: int = 8) -> tuple[int, int, int]:
    """Brighten or darken all channels by one random offset (keeps greys grey)."""
    delta = rng.randint(-amount, amount)
    return tuple(max(0, min(255, c + delta)) for c in rgb)  # type: ignore[return-value]


def draw_food(params: Food, rng: random.Random, size: int = 112):
    """Draw a plate: each piece in its own cell of a jittered grid inside the plate."""
    from PIL import Image, ImageDraw

    s = size / 112
    img = Image.new("RGB", (size, size), _jitter(rng, (165, 120, 80), 10))
    d = ImageDraw.Draw(img)
    for y in range(0, size, max(2, int(9 * s))):  # wood grain
        d.line([(0, y), (size, y + rng.randint(-2, 2))], fill=_jitter(rng, (150, 105, 70), 8))
    c, r = size / 2, 50 * s
    d.ellipse([c - r, c - r, c + r, c + r], fill=(185, 200, 228), outline=(120, 130, 160))
    d.ellipse([c - r * 0.82, c - r * 0.82, c + r * 0.82, c + r * 0.82], outline=(205, 215, 238))
    cell = 19 * s
    cells = [(cx, cy) for cx in range(-2, 2) for cy in range(-2, 2)]
    rng.shuffle(cells)
    pieces = [name for item in params.items for name in [item.name] * item.count]
    if len(pieces) > len(cells):
        raise ValueError(f"too many pieces to draw ({len(pieces)} > {len(cells)})")
    for name, (gx, gy) in zip(pieces, cells):
        ing = INGREDIENTS[name]
        x = c + (gx + 0.5) * cell + rng.uniform(-2, 2) * s
        y = c + (gy + 0.5) * cell + rng.uniform(-2, 2) * s
        q = ing.size * s
        color = _jitter(rng, ing.rgb, 10)
        edge = tuple(max(0, v - 60) for v in color)
        if ing.draw == "circle":
            d.ellipse([x - q, y - q, x + q, y + q], fill=color, outline=edge)
        elif ing.draw == "oval":
            d.ellipse([x - q, y - q * 0.75, x + q, y + q * 0.75], fill=color, outline=(200, 200, 190))
            d.ellipse([x - q * 0.4, y - q * 0.4, x + q * 0.4, y + q * 0.4], fill=(250, 200, 40))
        elif ing.draw == "square":
            d.rectangle([x - q * 0.8, y - q * 0.8, x + q * 0.8, y + q * 0.8], fill=color, outline=edge)
        elif ing.draw == "stick":
            if rng.random() < 0.5:
                d.rectangle([x - q, y - q * 0.3, x + q, y + q * 0.3], fill=color, outline=edge)
            else:
                d.rectangle([x - q * 0.3, y - q, x + q * 0.3, y + q], fill=color, outline=edge)
        else:  # half
            d.pieslice([x - q, y - q, x + q, y + q], 180, 360, fill=color, outline=edge)
            d.rectangle([x - q * 0.25, y, x + q * 0.25, y + q * 0.7], fill=(225, 205, 175))
    return img


_SCAN_STYLE = {  # background, body, organ, lesion
    "CT": ((8, 8, 8), (95, 95, 95), (150, 150, 150), (235, 235, 235)),
    "MRI": ((0, 0, 12), (55, 55, 75), (185, 185, 205), (250, 250, 255)),
    "X-ray": ((20, 20, 20), (70, 70, 70), (120, 120, 120), (245, 245, 245)),
}


def draw_scan(params: Scan, rng: random.Random, size: int = 112):
    """Draw a scan: body outline, the organ's outline, and the lesion on its side of the image."""
    from PIL import Image, ImageDraw

    s = size / 112
    bg, body, organ, lesion = _SCAN_STYLE[params.modality]
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    c = size / 2
    if params.modality == "X-ray":  # a rib cage / skull outline, bright bones
        d.rectangle([c - 46 * s, c - 50 * s, c + 46 * s, c + 50 * s], fill=_shade(rng, body, 6))
        for k in range(-3, 4):
            y = c + k * 12 * s
            d.arc([c - 44 * s, y - 8 * s, c + 44 * s, y + 8 * s], 180, 360, fill=(200, 200, 200), width=max(1, int(s)))
        d.line([(c, c - 50 * s), (c, c + 50 * s)], fill=(210, 210, 210), width=max(2, int(3 * s)))
    else:
        d.ellipse([c - 50 * s, c - 44 * s, c + 50 * s, c + 44 * s], fill=_shade(rng, body, 6), outline=(180, 180, 180))
    organ = _shade(rng, organ, 8)
    if params.organ == "brain":
        d.ellipse([c - 38 * s, c - 34 * s, c + 38 * s, c + 34 * s], fill=organ, outline=(230, 230, 230))
        d.line([(c, c - 34 * s), (c, c + 34 * s)], fill=bg, width=max(1, int(2 * s)))
        boxes = [(c - 34 * s, c - 22 * s, c - 6 * s, c + 22 * s), (c + 6 * s, c - 22 * s, c + 34 * s, c + 22 * s)]
    elif params.organ == "lungs":
        d.ellipse([c - 40 * s, c - 40 * s, c - 6 * s, c + 38 * s], fill=organ, outline=(230, 230, 230))
        d.ellipse([c + 6 * s, c - 40 * s, c + 40 * s, c + 38 * s], fill=organ, outline=(230, 230, 230))
        boxes = [(c - 34 * s, c - 26 * s, c - 12 * s, c + 26 * s), (c + 12 * s, c - 26 * s, c + 34 * s, c + 26 * s)]
    else:  # kidneys: two bean shapes
        for sign in (-1, 1):
            x0 = c + sign * 24 * s
            d.ellipse([x0 - 13 * s, c - 22 * s, x0 + 13 * s, c + 22 * s], fill=organ, outline=(230, 230, 230))
            d.ellipse([x0 - sign * 13 * s - 5 * s, c - 6 * s, x0 - sign * 13 * s + 5 * s, c + 6 * s], fill=body)
        boxes = [(c - 33 * s, c - 14 * s, c - 17 * s, c + 14 * s), (c + 17 * s, c - 14 * s, c + 33 * s, c + 14 * s)]
    if params.lesion:
        x0, y0, x1, y1 = boxes[0 if params.side == "left" else 1]
        radius = (4 if params.size == "small" else 8) * s
        x = rng.uniform(x0 + radius * 0.5, x1 - radius * 0.5) if x1 - x0 > radius else (x0 + x1) / 2
        y = rng.uniform(y0 + radius, y1 - radius)
        d.ellipse([x - radius, y - radius, x + radius, y + radius], fill=_shade(rng, lesion, 5))
    return img


def draw_aerial(params: Aerial, rng: random.Random, size: int = 112):
    """Draw an aerial scene: the land use's ground and pattern, then its objects in cells of one half of the image."""
    from PIL import Image, ImageDraw

    s = size / 112
    use = LAND_USES[params.land_use]
    img = Image.new("RGB", (size, size), _jitter(rng, use.rgb, 8))
    d = ImageDraw.Draw(img)
    if use.pattern == "stripes":  # fields: alternating green and brown bands
        band = max(3, int(14 * s))
        for k, y in enumerate(range(0, size, band)):
            fill = _jitter(rng, (150, 110, 60) if k % 2 else (110, 160, 65), 8)
            d.rectangle([0, y, size, y + band - 1], fill=fill)
    elif use.pattern == "crowns":  # tree crowns
        for _ in range(int(90 * s * s)):
            x, y, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(3, 6) * s
            d.ellipse([x - r, y - r, x + r, y + r], fill=_jitter(rng, (25, 75, 30), 10))
    elif use.pattern == "dunes":
        for _ in range(8):
            x, y, w = rng.uniform(-10, size), rng.uniform(0, size), rng.uniform(20, 40) * s
            d.arc([x, y, x + w, y + w * 0.5], 200, 340, fill=_jitter(rng, (190, 160, 100), 6), width=max(1, int(s)))
    elif use.pattern == "waves":
        for _ in range(14):
            x, y, w = rng.uniform(-10, size), rng.uniform(0, size), rng.uniform(8, 18) * s
            d.arc([x, y, x + w, y + w * 0.4], 200, 340, fill=_jitter(rng, (110, 160, 220), 8), width=max(1, int(s)))
    else:  # grid of streets
        step = max(6, int(28 * s))
        for v in range(step // 2, size, step):
            d.line([(v, 0), (v, size)], fill=(95, 95, 95), width=max(2, int(3 * s)))
            d.line([(0, v), (size, v)], fill=(95, 95, 95), width=max(2, int(3 * s)))
    obj = AERIAL_OBJECTS[params.obj]
    half = 0 if params.side == "left" else size / 2
    cell = size / 4  # a 2 x 4 grid inside the half
    cells = rng.sample([(gx, gy) for gx in range(2) for gy in range(4)], params.count)
    for gx, gy in cells:
        x = half + (gx + 0.5) * cell + rng.uniform(-2, 2) * s
        y = (gy + 0.5) * cell + rng.uniform(-2, 2) * s
        q = 8 * s
        color = _jitter(rng, obj.rgb, 8)
        edge = tuple(max(0, v - 90) for v in color)
        if obj.draw == "square":
            d.rectangle([x - q, y - q, x + q, y + q], fill=color, outline=edge)
        elif obj.draw == "circle":
            d.ellipse([x - q, y - q, x + q, y + q], fill=color, outline=(120, 120, 120), width=max(1, int(2 * s)))
        else:  # plane: fuselage, wings, tail
            d.rectangle([x - q * 0.25, y - q, x + q * 0.25, y + q], fill=color)
            d.rectangle([x - q, y - q * 0.25, x + q, y + q * 0.15], fill=color)
            d.rectangle([x - q * 0.5, y + q * 0.65, x + q * 0.5, y + q * 0.85], fill=color)
    return img


def draw(params: Params, rng: random.Random, size: int = 112):
    """Draw ``params`` as a ``size`` x ``size`` RGB image."""
    if isinstance(params, Aerial):
        return draw_aerial(params, rng, size)
    return draw_food(params, rng, size) if isinstance(params, Food) else draw_scan(params, rng, size)


def png_bytes(img) -> bytes:
    """PNG bytes of ``img`` (deterministic: no metadata, fixed compression)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# the bundled sample pairs (hub_tools.miniature.samples): free-form scans and plates
# ---------------------------------------------------------------------------------------------
SAMPLE_SIZE = 160
"""Side of the bundled sample images, in pixels."""


def draw_sample_scan(rng: random.Random, modality: str, organ: str, side: str, finding: str, size: int = SAMPLE_SIZE):
    """Draw a sample scan (``ct``/``xray``/``mri``/``us``/``micro``) with its finding on the radiological side."""
    from PIL import Image, ImageDraw, ImageFilter

    bg = {"ct": 20, "xray": 10, "mri": 5, "us": 15, "micro": 235}.get(modality, 20)
    img = Image.new(
        "L" if modality != "micro" else "RGB", (size, size), bg if modality != "micro" else (240, 220, 230)
    )
    d = ImageDraw.Draw(img)
    if modality == "micro":
        for _ in range(60 if finding == "many nuclei" else 40):
            x, y, r = rng.randint(5, size - 5), rng.randint(5, size - 5), rng.randint(3, 7)
            fill = (90, 40, 120) if finding == "many nuclei" else (200, 60, 70)
            d.ellipse([x - r, y - r, x + r, y + r], fill=fill)
        if finding == "red cells":
            d.ellipse([70, 70, 90, 90], fill=(110, 60, 150))
        return img.filter(ImageFilter.GaussianBlur(0.6))
    d.ellipse([15, 15, size - 15, size - 15], fill=bg + 60)  # body outline
    cx = {"left": size * 0.68, "right": size * 0.32, "none": size * 0.5}[side]  # radiological convention
    if organ in ("kidney",):
        for x in (size * 0.32, size * 0.68):
            d.ellipse([x - 16, 60, x + 16, 105], fill=bg + 120)
    elif organ in ("lung",):
        for x in (size * 0.32, size * 0.68):
            d.ellipse([x - 28, 30, x + 28, 130], fill=bg + 25)
    elif organ in ("brain",):
        d.ellipse([30, 25, size - 30, size - 25], fill=bg + 110)
        d.line([size / 2, 25, size / 2, size - 25], fill=bg + 60, width=2)
    elif organ in ("liver",):
        d.polygon([(25, 50), (95, 40), (90, 110), (30, 100)], fill=bg + 100)
    elif organ in ("bone",):
        d.rectangle([55, 10, 75, 150], fill=bg + 170)
        d.rectangle([90, 10, 108, 150], fill=bg + 170)
    elif organ in ("knee",):
        d.rectangle([60, 10, 100, 70], fill=bg + 150)
        d.rectangle([62, 90, 98, 150], fill=bg + 150)
    if finding == "lesion":
        r = rng.randint(7, 10)
        y = rng.randint(70, 90)
        d.ellipse([cx - r, y - r, cx + r, y + r], fill=bg + (10 if modality == "ct" else 190))
    elif finding == "opacity":
        d.ellipse([cx - 20, 90, cx + 15, 125], fill=bg + 90)
    elif finding == "stone":
        d.ellipse([cx - 4, 80, cx + 4, 88], fill=255)
    elif finding == "fracture":
        d.line([52, 80, 78, 86], fill=bg, width=2)
    elif finding == "effusion":
        d.ellipse([95, 65, 125, 95], fill=230)
    if modality == "us":
        img = img.filter(ImageFilter.GaussianBlur(2))
    return img.filter(ImageFilter.GaussianBlur(0.8)).convert("RGB")


def draw_sample_plate(rng: random.Random, ingredients, size: int = SAMPLE_SIZE):
    """Draw a sample dish: a white plate on a wooden table, the first ingredient in the middle, the others around."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), (150, 110, 70))  # wooden table
    d = ImageDraw.Draw(img)
    d.ellipse([8, 8, size - 8, size - 8], fill=(245, 245, 245))
    d.ellipse([22, 22, size - 22, size - 22], fill=(235, 235, 235))
    for k, (_, colour) in enumerate(ingredients):
        angle = 2 * math.pi * k / max(1, len(ingredients))
        for _ in range(6 if k else 1):
            r = 30 if k == 0 else rng.randint(5, 10)
            dist = 0 if k == 0 else rng.randint(20, 42)
            x = size / 2 + dist * math.cos(angle + rng.uniform(-0.5, 0.5))
            y = size / 2 + dist * math.sin(angle + rng.uniform(-0.5, 0.5))
            d.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    return img


# ---------------------------------------------------------------------------------------------
# the SFT demo rows (hub_tools.miniature.sft_demo): one coloured shape on a pale background
# ---------------------------------------------------------------------------------------------
DEMO_COLORS = {"red": (200, 40, 40), "green": (40, 160, 60), "blue": (40, 70, 200), "yellow": (220, 200, 40)}
"""The demo plates' colour names and their RGB."""
DEMO_SHAPES = ("round", "square")


def draw_demo_shape(color: str, shape: str, size: tuple[int, int]):
    """A ``size`` (width, height) image with one ``color`` (:data:`DEMO_COLORS`) disc or square of ``shape``."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (245, 245, 240))
    box = [8, 8, size[0] - 8, size[1] - 8]
    draw = ImageDraw.Draw(image)
    (draw.ellipse if shape == "round" else draw.rectangle)(box, fill=DEMO_COLORS[color])
    return image
