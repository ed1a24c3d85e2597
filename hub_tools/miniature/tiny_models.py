"""Offline tiny models: real architectures, random weights, a tokenizer trained here.

Nothing can be downloaded from the Hub in tests, so the project builds its own tiny models the way
TRL and transformers test with tiny random models: configs of the real architectures (Qwen2-VL,
LLaVA-NeXT, Llama) shrunk to a few hundred thousand parameters, random weights from a fixed seed,
and a byte-level BPE tokenizer trained locally with `tokenizers`. Each model is saved with
``save_pretrained`` and reloads with the ``Auto*`` classes exactly as a Hub model would.

- ``qwen2_vl``: Qwen2-VL model + processor with a chat template (the student, and a generic
  chat-template synthesizer). The template marks assistant turns with ``{% generation %}``.
- ``llava_next``: LLaVA-NeXT whose tokenizer carries the Llama-3 header tokens and an ``<image>``
  token, so the released synthesizer's prompt format runs end to end.
- ``llama``: a Llama causal LM with the same Llama-3 tokenizer (the consistency-checker stand-in).
- ``qwen2_5_vl``: Qwen2.5-VL (``Qwen2_5_VLForConditionalGeneration``): the newer student, its vision tower with
  window attention (one windowed block, one full-attention block) and the Qwen2-VL tokenizer and chat format.

Two more are briefly *tuned* (:mod:`hub_tools.miniature.tiny_tuned`), so an offline run shows the method and
not an empty run: ``synthesizer`` (a tiny Qwen2-VL tuned for a minute to write complete task triplets) and
``checker`` (a tiny Llama tuned to answer the few-shot prompt with Yes / No / Open). They are trained once per
seed into the tiny cache (:func:`hub_tools.defaults.default_tiny_cache_dir`) and copied from there.

Build with ``adamllm tiny-models OUT_DIR`` or :func:`build_tiny_models`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

TINY_FORMAT_VERSION = "2"
"""Bumped whenever the tiny models change, so cached copies are rebuilt."""

QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
LLAMA3_SPECIAL_TOKENS = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
    "<image>",
    "<|finetune_right_pad_id|>",
]

# Qwen2-VL chat format (token strings are the public format). Assistant content is wrapped in
# {% generation %} so TRL's assistant_only_loss can mask everything else.
QWEN2_VL_CHAT_TEMPLATE = (
    "{% macro render(content) %}"
    "{% if content is string %}{{ content }}"
    "{% else %}{% for part in content %}"
    "{% if part['type'] == 'image' or 'image' in part or 'image_url' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in part %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% endmacro %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['role'] == 'assistant' %}"
    # the newline is printed as an expression: jinja's trim_blocks would eat a literal one after the tag
    "{% generation %}{{ render(message['content']) }}<|im_end|>{% endgeneration %}{{ '\\n' }}"
    "{% else %}{{ render(message['content']) }}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Llama-3 chat format with LLaVA's image marker in the user turn.
LLAMA3_CHAT_TEMPLATE = (
    "{% macro render(content) %}"
    "{% if content is string %}{{ content }}"
    "{% else %}{% for part in content %}"
    "{% if part['type'] == 'image' or 'image' in part %}<image>\n"
    "{% elif 'text' in part %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% endmacro %}"
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ render(message['content']) }}<|eot_id|>{% endgeneration %}"
    "{% else %}{{ render(message['content']) }}<|eot_id|>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)

_CORPUS_SEED_TEXT = """\
Describe the image. Answer with a precise response. Answer with an informative response.
You are a helpful language and vision assistant. You are able to understand the visual content that
the user provides, and assist the user with a variety of tasks using natural language.
The image shows an axial CT scan of the abdomen with a small lesion in the left kidney.
A chest X-ray with an opacity in the right lower lobe. Microscopy of tissue stained with hematoxylin
and eosin shows round cells with dark nuclei. An MRI of the brain shows a bright spot in the left
hemisphere. Is there an abnormality? Yes. No. Which organ is shown? What is the modality?
A plate of pasta with tomato sauce, basil and grated cheese. Ingredients: rice, egg, carrot, peas,
onion, soy sauce. Steps: boil the water, cook the noodles, slice the vegetables, fry, season, serve.
A bowl of salad with green leaves, red tomatoes, yellow corn and a slice of bread on the side.
How many items are on the plate? What color is the sauce? Therefore, the answer is. So the answer is.
Let's think step by step. The final answer is. Based on the image, the result could be.
Question: Answer: Options: A B C D. yes no left right upper lower small large round square
one two three four five six seven eight nine ten red green blue yellow orange brown white black
"""


def _corpus() -> list[str]:
    lines = [line for line in _CORPUS_SEED_TEXT.splitlines() if line.strip()]
    # Repeat with variations so BPE learns whole words of the domain vocabulary.
    return lines * 20 + [" ".join(sorted(set(" ".join(lines).split())))]


def train_tokenizer(special_tokens: list[str], vocab_size: int = 2048, corpus: list[str] | None = None):
    """Train a byte-level BPE ``tokenizers.Tokenizer`` offline, with ``special_tokens`` added first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus or _corpus(), trainer=trainer)
    return tok


def _qwen_tokenizer():
    from transformers import PreTrainedTokenizerFast

    tok = train_tokenizer(QWEN_SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        extra_special_tokens={"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"},
        model_max_length=32768,
        padding_side="left",
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )


def _llama3_tokenizer(chat_template: bool = True, corpus: list[str] | None = None):
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    tok = train_tokenizer(LLAMA3_SPECIAL_TOKENS, corpus=corpus)
    bos_id = tok.token_to_id("<|begin_of_text|>")
    # Like Llama-3's tokenizer: BOS added in front of every encoded text, even one that starts with it.
    tok.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A",
        pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", bos_id)],
    )
    kwargs = {"chat_template": LLAMA3_CHAT_TEMPLATE} if chat_template else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|finetune_right_pad_id|>",
        unk_token=None,
        model_max_length=8192,
        padding_side="left",
        **kwargs,
    )


def _seed(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _qwen_text_config(tokenizer, hidden_size: int, num_layers: int) -> dict:
    """The tiny Qwen2-VL / Qwen2.5-VL language model: 4 heads, 2 KV heads, M-RoPE sections summing to half a head."""
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    heads = 4
    head_dim = hidden_size // heads
    third = head_dim // 2 // 3
    mrope = [head_dim // 2 - 2 * third, third, third]
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": hidden_size * 2,
        "num_hidden_layers": num_layers,
        "num_attention_heads": heads,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": mrope},
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }


def build_tiny_qwen2_vl(out_dir: str | Path, seed: int = 0, hidden_size: int = 64, num_layers: int = 2) -> Path:
    """Save a tiny Qwen2-VL (``Qwen2VLForConditionalGeneration``) and its processor to ``out_dir``."""
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    out_dir = Path(out_dir)
    tokenizer = _qwen_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    config = Qwen2VLConfig(
        text_config=_qwen_text_config(tokenizer, hidden_size, num_layers),
        vision_config={
            "depth": 2,
            "embed_dim": 32,
            "hidden_size": hidden_size,
            "num_heads": 2,
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    _seed(seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    # Small images: at most 8x8 patches of 14 px -> 16 image tokens after the 2x2 merge.
    size = {"shortest_edge": 28 * 28, "longest_edge": 112 * 112}
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size),
        video_processor=Qwen2VLVideoProcessor(size=size),
        tokenizer=tokenizer,
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def build_tiny_llava_next(out_dir: str | Path, seed: int = 0, hidden_size: int = 64, num_layers: int = 2) -> Path:
    """Save a tiny LLaVA-NeXT (``LlavaNextForConditionalGeneration``) with a Llama-3 tokenizer to ``out_dir``."""
    from transformers import (
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextImageProcessor,
        LlavaNextProcessor,
    )

    out_dir = Path(out_dir)
    tokenizer = _llama3_tokenizer()
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    config = LlavaNextConfig(
        text_config={
            "model_type": "llama",
            "vocab_size": len(tokenizer),
            "hidden_size": hidden_size,
            "intermediate_size": hidden_size * 2,
            "num_hidden_layers": num_layers,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 4096,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": [
                tokenizer.convert_tokens_to_ids("<|eot_id|>"),
                tokenizer.convert_tokens_to_ids("<|end_of_text|>"),
            ],
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
            "projection_dim": 32,
        },
        image_token_index=image_token_id,
        image_grid_pinpoints=[[28, 28], [28, 56], [56, 28], [56, 56]],
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        image_seq_length=4,
    )
    _seed(seed)
    model = LlavaNextForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": 28},
        crop_size={"height": 28, "width": 28},
        image_grid_pinpoints=[[28, 28], [28, 56], [56, 28], [56, 56]],
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        chat_template=LLAMA3_CHAT_TEMPLATE,
        image_token="<image>",
        num_additional_image_tokens=1,  # CLIP's CLS token
    )
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def tiny_llama_config(tokenizer, hidden_size: int = 64, num_layers: int = 2):
    """The ``LlamaConfig`` of a tiny Llama for ``tokenizer`` (its vocabulary, BOS, ``<|end_of_text|>`` and pad)."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|end_of_text|>"),
        pad_token_id=tokenizer.pad_token_id,
    )


def build_tiny_llama(out_dir: str | Path, seed: int = 0, hidden_size: int = 64, num_layers: int = 2) -> Path:
    """Save a tiny Llama causal LM with the Llama-3 special tokens (the checker stand-in) to ``out_dir``."""
    from transformers import LlamaForCausalLM

    out_dir = Path(out_dir)
    tokenizer = _llama3_tokenizer(chat_template=False)  # a base model, like Meta-Llama-3-8B
    config = tiny_llama_config(tokenizer, hidden_size, num_layers)
    _seed(seed)
    model = LlamaForCausalLM(config).eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_tiny_qwen2_5_vl(out_dir: str | Path, seed: int = 0, hidden_size: int = 64, num_layers: int = 2) -> Path:
    """Save a tiny Qwen2.5-VL (``Qwen2_5_VLForConditionalGeneration``) and its processor to ``out_dir``.

    The vision tower keeps what sets Qwen2.5-VL apart from Qwen2-VL: RMSNorm + SwiGLU blocks, window attention in
    every block but those in ``fullatt_block_indexes`` (here block 0 windowed, block 1 full), and a merger that
    projects to the language model's width. ``window_size`` 56 px = 2 x 2 merged patches, so a 112 x 112 image
    (the processor's cap, 8 x 8 patches of 14 px) is split into four windows.
    """
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    out_dir = Path(out_dir)
    tokenizer = _qwen_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config=_qwen_text_config(tokenizer, hidden_size, num_layers),
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": hidden_size,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [1],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    _seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    size = {"shortest_edge": 28 * 28, "longest_edge": 112 * 112}  # pixels, as Qwen2.5-VL's min/max_pixels
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size),
        video_processor=Qwen2VLVideoProcessor(size=size),
        tokenizer=tokenizer,
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


BUILDERS = {
    "qwen2_vl": build_tiny_qwen2_vl,
    "llava_next": build_tiny_llava_next,
    "llama": build_tiny_llama,
    "qwen2_5_vl": build_tiny_qwen2_5_vl,
}
"""The random-weight tiny models (seconds to build)."""


def _stamped(path: Path, want: dict) -> bool:
    stamp = path / "tiny.json"
    if os.path.islink(path) or os.path.islink(stamp) or not stamp.is_file():
        return False
    try:
        return json.loads(stamp.read_text()) == want
    except ValueError:
        return False


def _check_replaceable(path: Path) -> None:
    """Refuse (``OutputRefused``, one line) to replace ``path`` unless it is a tiny model this project built: its
    ``tiny.json`` stamp (the ownership marker of a tiny model folder) names it. Never through a link."""
    from hub_tools.rundir.ownership import PICK_ANOTHER, OutputRefused

    if os.path.islink(path):
        raise OutputRefused(
            f"{path} is a symbolic link; adamllm tiny-models never replaces through one: {PICK_ANOTHER}"
        )
    if not os.path.lexists(path):
        return
    try:
        stamp = json.loads((path / "tiny.json").read_text()) if not (path / "tiny.json").is_symlink() else None
    except (OSError, ValueError):
        stamp = None
    if not (isinstance(stamp, dict) and stamp.get("name") == path.name and "version" in stamp):
        raise OutputRefused(
            f"{path} exists and is not a tiny model adamllm built (no tiny.json stamp naming it); "
            f"adamllm tiny-models replaces only its own models: {PICK_ANOTHER}"
        )


def _install(source_builder: Callable[[Path], object], path: Path, want: dict) -> None:
    """Build into a temporary sibling folder, stamp it, then move it into ``path`` (an interrupted build is redone).

    An existing ``path`` is replaced only when it is a tiny model built here (:func:`_check_replaceable`, checked
    before building)."""
    _check_replaceable(path)
    tmp = path.parent / f".{path.name}.building-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    source_builder(tmp)
    (tmp / "tiny.json").write_text(json.dumps(want))
    if os.path.lexists(path):
        _check_replaceable(path)
        shutil.rmtree(path)
    tmp.rename(path)


def build_tiny_models(out_dir: str | Path, seed: int = 0, force: bool = False) -> dict[str, Path]:
    """Build (or reuse, when already built with this version and seed) the random-weight tiny models.

    Returns ``{"qwen2_vl": path, "llava_next": path, "llama": path, "qwen2_5_vl": path}``. A model folder is
    reused only when its ``tiny.json`` stamp matches, so an interrupted build is redone. The briefly tuned
    synthesizer and checker come on top from :func:`hub_tools.miniature.tiny_tuned.build_all_tiny_models` (``adamllm tiny-models``).
    """
    out_dir = Path(out_dir)
    wants = {name: {"version": TINY_FORMAT_VERSION, "seed": seed, "name": name} for name in BUILDERS}
    todo = [name for name in BUILDERS if force or not _stamped(out_dir / name, wants[name])]
    for name in todo:  # every folder to replace is checked before anything is built or removed
        _check_replaceable(out_dir / name)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in BUILDERS}
    if not todo:
        return paths
    from filelock import FileLock  # huggingface_hub's own dependency

    with FileLock(out_dir / ".tiny-models.lock"):  # two processes at once: the second waits, then reuses
        for name, builder in BUILDERS.items():
            if force and name in todo or not _stamped(paths[name], wants[name]):
                _install(lambda tmp, builder=builder: builder(tmp, seed=seed), paths[name], wants[name])
    return paths
