"""One image-size contract: the same 1024 x 768 picture reaches the model at the same size in every stage."""

from __future__ import annotations

import json
from unittest import mock

import pytest

RELEASE_CAP = 512 * 512
EXPECTED = (591, 443)  # sqrt(262144 / 786432) = 0.57735; 1024 * f = 591.2, 768 * f = 443.4, floored


def test_fitted_size_follows_llama_factory():
    from hub_tools.data.image_size import ImageSize, fit_area, fitted_size, image_size

    assert fitted_size(1024, 768, RELEASE_CAP) == EXPECTED
    assert fitted_size(400, 300, RELEASE_CAP) == (400, 300)  # never enlarged by the cap
    assert fitted_size(20, 10, None, 32 * 32) == (45, 22)  # sqrt(1024 / 200) = 2.263, floored
    assert fitted_size(100000, 1, 100) == (3162, 1)  # a size that floors to 0 becomes 1
    assert ImageSize(max_side=512).size(1024, 768) == (512, 384)  # the older longer-side cap
    assert image_size() is None and image_size(RELEASE_CAP) == ImageSize(RELEASE_CAP)
    with pytest.raises(ValueError, match="cannot be combined"):
        ImageSize(max_pixels=RELEASE_CAP, max_side=512)
    with pytest.raises(ValueError, match="larger than image_max_pixels"):
        fitted_size(10, 10, 100, 200)
    from PIL import Image

    image = Image.new("RGB", (1024, 768))
    assert fit_area(image, RELEASE_CAP).size == EXPECTED and fit_area(image) is image


def _spy(processor_class, seen: list):
    """Patch ``processor_class.__call__`` to record the size of every image it is given."""
    original = processor_class.__call__

    def spy(self, *args, **kwargs):
        images = kwargs.get("images")
        for entry in images or []:
            for image in entry if isinstance(entry, (list, tuple)) else [entry]:
                seen.append(image.size)
        return original(self, *args, **kwargs)

    return mock.patch.object(processor_class, "__call__", spy)


def test_one_picture_one_size_in_synthesis_training_and_evaluation(tiny_models, tmp_path):
    """In-process synthesis, the SFT collator and the evaluation harness, each set to the release's area cap,
    hand the model's processor the same 591 x 443 image made from one 1024 x 768 picture."""
    from PIL import Image
    from transformers import AutoProcessor

    from hub_tools.data.image_size import ImageSize
    from hub_tools.evaluation.harness import evaluate_model
    from hub_tools.synthesis.engines import TransformersEngine
    from hub_tools.training.arguments import ScriptArguments
    from hub_tools.training.collator import VisionSFTCollator

    picture = Image.new("RGB", (1024, 768), (30, 120, 60))
    model = tiny_models["qwen2_5_vl"]
    processor = AutoProcessor.from_pretrained(model)
    policy = ImageSize(max_pixels=RELEASE_CAP)
    sizes: dict[str, list] = {}

    # synthesis (in process): the engine the synthesize stage builds, image_size from SynthesisConfig's settings
    engine = TransformersEngine(model, device="cpu", prompt_format="chat", image_size=policy)
    with _spy(type(engine.processor), sizes.setdefault("synthesis", [])):
        engine.encode((picture, "A field beside a road."))

    # SFT: the recipe's image_max_pixels, as the recipe's collator gets it
    script = ScriptArguments(image_max_pixels=RELEASE_CAP)
    assert script.image_policy() == policy
    row = {
        "images": [picture],
        "messages": [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Describe."}]},
            {"role": "assistant", "content": [{"type": "text", "text": "A field."}]},
        ],
    }
    with _spy(type(processor), sizes.setdefault("sft", [])):
        VisionSFTCollator(processor, image_max_side=script.image_policy())([row])

    # evaluation: `adamllm evaluate --image-max-pixels 262144` on a one-row benchmark holding the picture
    task_dir = tmp_path / "bench" / "UC_Merced"
    task_dir.mkdir(parents=True)
    picture.save(task_dir / "field.png")
    (task_dir / "test.jsonl").write_text(json.dumps({"image": "field.png", "input": "Scene?", "label": "forest"}))
    with _spy(type(processor), sizes.setdefault("evaluation", [])):
        evaluate_model(str(model), "UC_Merced", tmp_path / "eval", benchmark_dir=tmp_path / "bench",
                       max_new_tokens=2, progress=False, image_max_pixels=RELEASE_CAP)  # fmt: skip
    run = json.loads((tmp_path / "eval" / "run.json").read_text())
    assert run["image_max_pixels"] == RELEASE_CAP
    assert sizes == {"synthesis": [EXPECTED], "sft": [EXPECTED], "evaluation": [EXPECTED]}


@pytest.mark.parametrize("command", ["synthesize", "pipeline"])
def test_synthesize_and_pipeline_take_the_image_size_contract_from_the_command_line(command, tmp_path, capsys):
    """``--image-max-pixels`` / ``--image-min-pixels`` reach the synthesis config (hence the engines and the
    manifest); a floor above the cap is a usage error before any work (exit 2, one line)."""
    from hub_tools.cli import build_parser, main
    from hub_tools.commands.synthesize import synthesis_config

    argv = [command, "--pairs", str(tmp_path / "pairs.json"), "--output", str(tmp_path / "run")]
    args = build_parser().parse_args([*argv, "--image-max-pixels", str(RELEASE_CAP), "--image-min-pixels", "1024"])
    config = synthesis_config(args)
    assert (config.image_max_pixels, config.image_min_pixels) == (RELEASE_CAP, 1024)
    assert synthesis_config(build_parser().parse_args(argv)).image_max_pixels is None  # default: as given

    assert main([*argv, "--image-max-pixels", "1000", "--image-min-pixels", "2000", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "larger than image_max_pixels" in err[0], err
    assert not (tmp_path / "run").exists()
