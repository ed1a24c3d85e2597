"""The one image-size contract: how big a picture is when it reaches a model, in every stage.

One setting pair, ``image_max_pixels`` / ``image_min_pixels`` (areas in pixels), with LLaMA-Factory's semantics
(``src/llamafactory/data/mm_plugin.py``, ``BasePlugin._preprocess_image``; read at the v0.9.1 tag and at v0.9.2):

- an image with more than ``max_pixels`` pixels (``w * h``) is scaled by ``sqrt(max_pixels / (w * h))``, both sizes
  floored (``int``), nearest-neighbour resampling (v0.9.1's ``image_resolution``, default 512 * 512, the value the
  released Qwen2-VL / Llama-3.2-Vision students were trained with);
- an image with fewer than ``min_pixels`` pixels is scaled up by ``sqrt(min_pixels / (w * h))`` the same way
  (v0.9.2's ``image_min_pixels``; v0.9.2 resized with PIL's default filter, we keep nearest-neighbour for both);
- aspect ratio kept; a size that would floor to 0 becomes 1 (LLaMA-Factory would fail there).

:class:`ImageSize` is that policy as a value every stage takes: in-process synthesis
(:class:`hub_tools.synthesis.engines.TransformersEngine`, ``image_size=``), SFT (``image_max_pixels`` /
``image_min_pixels`` in the recipe, applied by the collator before the processor) and evaluation
(:func:`hub_tools.evaluation.harness.evaluate_model`, ``image_size=``; ``adamllm evaluate --image-max-pixels``).
A served client applies the same :func:`fit_area` to the PIL image before encoding it. The model's processor may
then resize again (Qwen2-VL rounds to multiples of 28 within its own ``min_pixels`` / ``max_pixels``); that step is
the model's, the same in every stage. What the release itself did differently per stage: ``docs/protocol.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RELEASE_IMAGE_MAX_PIXELS = 512 * 512
"""LLaMA-Factory v0.9.1's ``image_resolution`` default (an area): the released Qwen2-VL-2B / Llama-3.2-11B students."""


def fitted_size(width: int, height: int, max_pixels: int | None = None, min_pixels: int | None = None) -> tuple:
    """The ``(width, height)`` :func:`fit_area` gives a ``width`` x ``height`` image (no image needed)."""
    for name, value in (("max_pixels", max_pixels), ("min_pixels", min_pixels)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"image {name} must be a positive whole number of pixels, not {value!r}")
    if max_pixels is not None and min_pixels is not None and min_pixels > max_pixels:
        raise ValueError(f"image_min_pixels ({min_pixels}) is larger than image_max_pixels ({max_pixels})")
    if max_pixels is not None and width * height > max_pixels:
        factor = math.sqrt(max_pixels / (width * height))
        width, height = max(1, int(width * factor)), max(1, int(height * factor))
    if min_pixels is not None and width * height < min_pixels:
        factor = math.sqrt(min_pixels / (width * height))
        width, height = max(1, int(width * factor)), max(1, int(height * factor))
    return width, height


def fit_area(image, max_pixels: int | None = None, min_pixels: int | None = None):
    """``image`` (PIL) resized to :func:`fitted_size`, nearest-neighbour; the same object when no cap applies."""
    size = fitted_size(image.width, image.height, max_pixels, min_pixels)
    if size == (image.width, image.height):
        return image
    from PIL import Image

    return image.resize(size, resample=Image.Resampling.NEAREST)


@dataclass(frozen=True)
class ImageSize:
    """An image-size policy: the area caps (:func:`fit_area`), or the older longer-side cap ``max_side``.

    ``max_side`` is LLaMA-Factory v0.9.0's ``image_resolution`` (longer side scaled to it, floored, nearest) and
    the SFT recipes' ``image_max_side`` before the area cap existed here; it cannot be combined with the areas.
    Call the policy on a PIL image to apply it.
    """

    max_pixels: int | None = None
    min_pixels: int | None = None
    max_side: int | None = None

    def __post_init__(self):
        if self.max_side is not None and (self.max_pixels is not None or self.min_pixels is not None):
            raise ValueError("image_max_side (a longer-side cap) cannot be combined with image_max/min_pixels")
        if self.max_side is not None and (not isinstance(self.max_side, int) or self.max_side < 1):
            raise ValueError(f"image_max_side must be a positive number of pixels, not {self.max_side}")
        fitted_size(1, 1, self.max_pixels, self.min_pixels)  # validates the two areas

    @property
    def active(self) -> bool:
        """Whether the policy changes any image at all."""
        return any(v is not None for v in (self.max_pixels, self.min_pixels, self.max_side))

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The size an image of ``width`` x ``height`` pixels gets."""
        if self.max_side is not None:
            if max(width, height) <= self.max_side:
                return width, height
            scale = self.max_side / max(width, height)
            return max(1, int(width * scale)), max(1, int(height * scale))
        return fitted_size(width, height, self.max_pixels, self.min_pixels)

    def __call__(self, image):
        size = self.size(image.width, image.height)
        if size == (image.width, image.height):
            return image
        from PIL import Image

        return image.resize(size, resample=Image.Resampling.NEAREST)

    def describe(self) -> str:
        """One line for cards and logs."""
        if self.max_side is not None:
            return f"longer side capped at {self.max_side} px before the processor"
        parts = []
        if self.max_pixels is not None:
            parts.append(f"area capped at {self.max_pixels:,} px")
        if self.min_pixels is not None:
            parts.append(f"raised to at least {self.min_pixels:,} px")
        if not parts:
            return "as given (the processor's own resizing only)"
        return (
            " and ".join(parts)
            + " (LLaMA-Factory's rule: scaled by sqrt(cap / area), floored, nearest) before the processor"
        )


def image_size(
    max_pixels: int | None = None, min_pixels: int | None = None, max_side: int | None = None
) -> ImageSize | None:
    """An :class:`ImageSize`, or ``None`` when no cap is set (every stage then passes images as given)."""
    policy = ImageSize(max_pixels, min_pixels, max_side)
    return policy if policy.active else None


def apply(image, policy) -> object:
    """``image`` under ``policy``: an :class:`ImageSize`, an ``int`` (a longer-side cap, the older setting) or None."""
    if policy is None:
        return image
    if isinstance(policy, int) and not isinstance(policy, bool):
        policy = ImageSize(max_side=policy)
    return policy(image)
