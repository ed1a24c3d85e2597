"""The vision side of a VLM: find its vision encoder and projector, freeze them, give the encoder its own rate.

Module names cover Qwen2-VL (``visual``, with its projector ``visual.merger``), LLaVA-NeXT (``vision_tower`` +
``multi_modal_projector``) and Llama-3.2-Vision (``vision_model`` + ``multi_modal_projector``); wrappers such
as PEFT's are looked through. Used by the SFT recipe and the synthesizer-tuning recipe alike.
"""

from __future__ import annotations

from collections.abc import Callable

VISION_TOWER_MODULES = ("visual", "vision_tower", "vision_model")
PROJECTOR_MODULES = ("multi_modal_projector",)
QWEN_MERGER = "merger"  # Qwen2-VL keeps its projector inside `visual`


def _named_submodules(model, names: tuple[str, ...]) -> list[tuple[str, object]]:
    """The outermost submodules whose own name is one of ``names`` (wrappers such as PEFT's are looked through)."""
    found: list[tuple[str, object]] = []
    for name, module in model.named_modules():
        if name.split(".")[-1] in names and not any(name.startswith(f"{outer}.") for outer, _ in found):
            found.append((name, module))
    return found


def vision_tower_parameters(model) -> list[tuple[str, object]]:
    """``(name, parameter)`` of the vision encoder: Qwen2-VL's ``visual`` minus its merger, ``vision_tower``
    (LLaVA-NeXT) or ``vision_model`` (Llama-3.2-Vision). The projector is not included."""
    out, seen = [], set()
    for prefix, tower in _named_submodules(model, VISION_TOWER_MODULES):
        for name, param in tower.named_parameters():
            if QWEN_MERGER in name.split(".") or id(param) in seen:
                continue
            seen.add(id(param))
            out.append((f"{prefix}.{name}", param))
    return out


def projector_parameters(model) -> list[tuple[str, object]]:
    """``(name, parameter)`` of the vision-language projector: ``multi_modal_projector``, or Qwen2-VL's merger."""
    out = []
    for prefix, module in _named_submodules(model, PROJECTOR_MODULES):
        out += [(f"{prefix}.{name}", param) for name, param in module.named_parameters()]
    for prefix, tower in _named_submodules(model, VISION_TOWER_MODULES):
        out += [
            (f"{prefix}.{name}", param) for name, param in tower.named_parameters() if QWEN_MERGER in name.split(".")
        ]
    return out


def _freeze(params: list[tuple[str, object]]) -> int:
    frozen = 0
    for _, param in params:
        if param.requires_grad:
            param.requires_grad_(False)
            frozen += param.numel()
    return frozen


def freeze_vision_tower(model) -> int:
    """Freeze the vision encoder's parameters (not the projector/merger); return how many were frozen."""
    params = vision_tower_parameters(model)
    if not params:
        raise ValueError(f"freeze_vision_tower: no vision tower found on {type(model).__name__}")
    return _freeze(params)


def freeze_multi_modal_projector(model) -> int:
    """Freeze the projector (``multi_modal_projector`` / Qwen2-VL's ``visual.merger``); return how many were frozen."""
    params = projector_parameters(model)
    if not params:
        raise ValueError(f"freeze_multi_modal_projector: no projector found on {type(model).__name__}")
    return _freeze(params)


def split_vision_tower_groups(optimizer, model, lr_for: Callable[[dict], float]) -> None:
    """Give the vision-encoder parameters optimizer groups of their own at ``lr_for(group)`` (one per original
    group, so weight decay is kept); the projector and the language model keep their rate. Call before the first
    step (no optimizer state to move). Raises ``ValueError`` when ``model`` has no vision encoder."""
    vision = {id(p) for _, p in vision_tower_parameters(model)}
    if not vision:
        raise ValueError(f"no vision tower found on {type(model).__name__}")
    groups = []
    for group in optimizer.param_groups:
        rest = [p for p in group["params"] if id(p) not in vision]
        tower = [p for p in group["params"] if id(p) in vision]
        if rest:
            groups.append({**group, "params": rest})
        if tower:
            groups.append({**group, "params": tower, "lr": lr_for(group)})
    optimizer.param_groups = groups
