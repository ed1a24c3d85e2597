"""``adamllm synthesize``: image-caption pairs -> task triplets in RUN_DIR (resumable, multi-process)."""

from __future__ import annotations

import argparse

from hub_tools.defaults import DEFAULT_SYNTHESIZER

DESCRIPTION = """\
Synthesize visual instruction task triplets (instruction, informative answer, precise answer)
from image-caption pairs with a synthesizer MLLM, writing RUN_DIR/synthesis/ shards, images/,
manifest.json and stats.json. Rerunning the same command resumes; a killed run loses nothing.
Scale out with: accelerate launch -m hub_tools.synthesize --pairs ... --output ...
or on served replicas (vllm serve, transformers serve): --endpoint URL [--endpoint URL ...]
"""


def add_endpoint_arguments(p: argparse.ArgumentParser, flag: str, what: str, server: bool = True) -> None:
    """``flag`` (repeatable base URL), ``--concurrency``, ``--api-key-env`` and ``--server`` (with ``server``)."""
    dest = flag.lstrip("-").replace("-", "_")
    p.add_argument(
        flag,
        action="append",
        default=None,
        dest=dest,
        metavar="URL",
        help=f"OpenAI-compatible base URL serving {what} (e.g. http://host:8000/v1); repeat it for replicas: "
        "requests are spread over them. The model option then names the served model",
    )
    if any(a.dest == "concurrency" for a in p._actions):
        return  # the shared options are already there (pipeline: two endpoint flags)
    p.add_argument("--concurrency", type=int, default=None, help="requests in flight per endpoint (default: 8)")
    p.add_argument(
        "--request-timeout",
        type=float,
        default=None,
        metavar="S",
        help="overall deadline of one request in seconds, retries included (default: 900); a server that drips or "
        "hangs stops the run within it. Every answer a server can give: docs/served.md",
    )
    p.add_argument(
        "--api-key-env",
        default=None,
        metavar="NAME",
        help="environment variable holding the endpoint's API key (default: HF_TOKEN); never pass a key in argv",
    )
    if server:
        p.add_argument(
            "--server",
            choices=["auto", "transformers", "vllm"],
            default="auto",
            help="server kind behind the endpoints (auto: vllm when its /models says so, else transformers serve)",
        )


def add_arguments(p: argparse.ArgumentParser, endpoint_flag: str = "--endpoint") -> argparse.ArgumentParser:
    """Add the synthesize options to ``p`` (shared by the CLI and ``python -m hub_tools.synthesize``); the pipeline
    names the endpoint option ``--synthesizer-endpoint``."""
    p.add_argument(
        "--pairs", required=True, help="pairs: ShareGPT .json/.jsonl, imagefolder, or HF dataset (path or repo id)"
    )
    p.add_argument("--output", metavar="RUN_DIR", default=None, help="run directory to create or resume (required)")
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR", default=None, help=argparse.SUPPRESS)  # = --output
    p.add_argument(
        "--synthesizer",
        default=DEFAULT_SYNTHESIZER,
        help="synthesizer model (Hub id or folder; default: %(default)s)",
    )
    add_endpoint_arguments(p, endpoint_flag, "the synthesizer")
    p.add_argument("--batch-size", type=int, default=8, help="sequences per generate call (default: %(default)s)")
    p.add_argument("--max-new-tokens", type=int, default=512, help="new tokens per pair (default: %(default)s)")
    p.add_argument("--limit", type=int, default=None, help="only the first N input records")
    p.add_argument("--seed", type=int, default=0, help="random seed (decoding is greedy; default: %(default)s)")
    p.add_argument("--image-column", default="image", help="image column of an HF dataset / imagefolder")
    p.add_argument("--caption-column", default="caption", help="caption column of an HF dataset / imagefolder")
    p.add_argument("--split", default="train", help="split of an HF dataset (default: %(default)s)")
    p.add_argument("--image-root", default=None, help="folder that image paths of a JSON file are relative to")
    p.add_argument(
        "--prompt-format",
        choices=["auto", "released", "chat"],
        default="auto",
        help="released LLaVA-NeXT/Llama-3 prompt, the model's chat template, or auto (released when the "
        "tokenizer has Llama-3 headers)",
    )
    p.add_argument("--device", default="auto", help="transformers device (default: cuda when available)")
    p.add_argument("--dtype", default="auto", help="bfloat16 / float16 / float32 (default: bf16 on GPU, fp32 on CPU)")
    p.add_argument(
        "--cache",
        choices=["dynamic", "static"],
        default="dynamic",
        help="KV cache of --decode generate; static also compiles the forward on GPU (default: %(default)s)",
    )
    p.add_argument(
        "--decode",
        choices=["auto", "generate", "compiled"],
        default="auto",
        help="transformers decode path: generate (model.generate), compiled (batched prefill into a static cache, "
        "then a one-token greedy step with argmax and stop checks inside, CUDA-graph compiled on GPU; eager "
        "elsewhere, same tokens), or auto: compiled on CUDA, generate otherwise (default: %(default)s)",
    )
    p.add_argument(
        "--image-max-pixels",
        type=int,
        default=None,
        help="shrink images with more pixels than this (an area, LLaMA-Factory's rule: the SFT recipes' "
        "image_max_pixels, evaluate's --image-max-pixels) before the synthesizer sees them, in-process or served; "
        "default: as given, as the released synthesizer was run",
    )
    p.add_argument(
        "--image-min-pixels", type=int, default=None, help="enlarge images with fewer pixels than this (an area)"
    )
    p.add_argument("--window", type=int, default=None, help="pairs sorted by length together (default: 4 x batch)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start over: remove RUN_DIR's stage outputs (synthesis, filter, compose, images, manifest, stats) first",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p


def register(subparsers, name: str = "synthesize", help: str | None = None) -> None:
    """Register the ``synthesize`` subcommand."""
    p = subparsers.add_parser(
        name, help=help, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(p)
    p.set_defaults(func=run)


def synthesis_config(args: argparse.Namespace):
    """The typed :class:`~hub_tools.synthesis.runner.SynthesisConfig` of parsed synthesize options."""
    from dataclasses import fields

    from hub_tools.data.image_size import image_size
    from hub_tools.synthesis.runner import SynthesisConfig

    given = [value for value in (args.output, getattr(args, "run_dir", None)) if value]  # --output or RUN_DIR
    if len(set(given)) != 1:
        raise ValueError("give the run directory once: --output RUN_DIR (or RUN_DIR)")
    args.output = given[0]
    values = {f.name: getattr(args, f.name) for f in fields(SynthesisConfig) if hasattr(args, f.name)}
    values["endpoint"] = getattr(args, "endpoint", None) or getattr(args, "synthesizer_endpoint", None)
    config = SynthesisConfig(**values)
    image_size(config.image_max_pixels, config.image_min_pixels)  # a bad pair is a usage error, before any work
    return config


def run(args: argparse.Namespace) -> int:
    """Run synthesis with parsed ``args``: expected failures are one line, exit 1 (2 for a resume with other settings)."""
    import os
    import sys
    import time
    from pathlib import Path

    from hub_tools.cli import fail
    from hub_tools.defaults import set_progress
    from hub_tools.errors import ConfigMismatch
    from hub_tools.rundir import read_json
    from hub_tools.synthesis.endpoint_client import EndpointError
    from hub_tools.synthesis.runner import synthesize

    try:
        config = synthesis_config(args)
    except ValueError as err:  # no run directory, or two: a usage error
        return fail("synthesize", err, 2)
    set_progress(not args.no_progress, quiet_transformers=args.synthesizer != "scripted")
    try:
        start = time.perf_counter()
        counts = synthesize(config)
        took = time.perf_counter() - start
        n = counts["synthesized"] + counts["rejected"]
        if n:
            print(
                f"synthesize: this process handled {n} pairs in {took:.1f}s ({n / took:.2f} pairs/s)", file=sys.stderr
            )
    except ConfigMismatch as err:  # a resume with different settings: a usage error
        return fail("synthesize", err, 2)
    except (ImportError, FileNotFoundError, ValueError, EndpointError) as err:  # a missing input or model
        return fail("synthesize", err)
    stats = read_json(Path(args.output) / "stats.json", default={}) or {}
    if os.environ.get("RANK", "0") == "0" and "pairs_in" in stats and stats.get("rejected") == stats["pairs_in"]:
        from hub_tools.data.layout import all_rejected

        return fail("synthesize", all_rejected(args.pairs, stats["pairs_in"]))
    return 0
