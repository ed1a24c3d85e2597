"""``adamllm evaluate``: score a chat VLM on the biomedicine / food / remote-sensing benchmarks (resumable)."""

from __future__ import annotations

import argparse

_EPILOG = """\
tasks (group: biomed)  SLAKE, VQA_RAD, PathVQA (medical_vqa: OPEN recall / CLOSED accuracy),
                       PMC-VQA (multiple_choice: accuracy)
tasks (group: food)    Recipe1M (rouge_l), Food101 (multiple_choice over 101 classes),
                       FoodSeg103 (multilabel F1), Nutrition5K (multilabel recall)
tasks (group: remote-sensing)  CLRS, UC_Merced (multiple_choice over scene classes),
                       FloodNet (medical_vqa), NWPU-Captions (rouge_l); configs not verified on the Hub
data: AdaptLLM/{biomed,food,remote-sensing}-VQA-benchmark (test splits), or
      --benchmark-dir DIR with DIR/<Task>/ holding the same columns as parquet / jsonl.
output: DIR/predictions/<task>.jsonl, DIR/scores.json, DIR/scores.md; rerun to resume.
"""


def register(subparsers, name: str, help: str) -> None:
    """Add the ``evaluate`` subcommand."""
    p = subparsers.add_parser(
        name,
        help=help,
        description=help,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="Hub id or local folder of a chat VLM (AutoModelForImageTextToText)")
    p.add_argument(
        "--tasks",
        default=None,
        help="biomed, food, remote-sensing, all, or comma-separated task names (default: --domain's, else biomed)",
    )
    p.add_argument(
        "--domain",
        choices=("biomed", "food", "remote-sensing"),
        default=None,
        help="evaluate this domain's task group (the same as --tasks DOMAIN)",
    )
    p.add_argument("--output", required=True, help="output folder (reused to resume a run)")
    p.add_argument(
        "--overwrite", action="store_true", help="start over: remove the folder's earlier evaluation outputs first"
    )
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N items of each task")
    p.add_argument("--batch-size", type=int, default=8, help="questions per generate() call (default: 8)")
    p.add_argument("--benchmark-dir", default=None, help="local benchmark folder instead of the Hub datasets")
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="override every task's generation budget (1024; 256 for Food101/FoodSeg103/Nutrition5K) - smoke runs",
    )
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    p.add_argument(
        "--dtype", default="auto", help="torch dtype name, e.g. bfloat16, float32 (default: bf16 on GPU, fp32 on CPU)"
    )
    p.add_argument(
        "--min-pixels",
        type=int,
        default=224 * 224,
        help="Qwen2-VL image resize floor (default: 224*224, as published)",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=1280 * 28 * 28,
        help="Qwen2-VL image resize cap (default: 1280*28*28, as published)",
    )
    p.add_argument(
        "--image-max-pixels",
        type=int,
        default=None,
        help="shrink images with more pixels than this (area; LLaMA-Factory's rule, as the SFT recipes' "
        "image_max_pixels) before the processor; default: as stored, as the release evaluated",
    )
    p.add_argument(
        "--image-min-pixels", type=int, default=None, help="enlarge images with fewer pixels than this (area)"
    )
    p.add_argument(
        "--prompt-format",
        choices=("released", "chat"),
        default="released",
        help="released (default): LLaVA-NeXT/LLaVA models with a Llama-3 tokenizer get the release's "
        "llava_llama_3 prompt, other models their chat template; chat: the chat template for every model",
    )
    from hub_tools.commands.synthesize import add_endpoint_arguments

    add_endpoint_arguments(p, "--endpoint", "the model")
    p.add_argument(
        "--allow-approximate",
        action="store_true",
        help="with --endpoint: accept a server that cannot take the exact request (transformers serve and Qwen2-VL's "
        "published image budget); the predictions then only approximate in-process ones",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the harness and print the score table."""
    import os

    from hub_tools.cli import fail
    from hub_tools.defaults import set_progress
    from hub_tools.evaluation.tasks import resolve_tasks

    if args.tasks is not None and args.domain is not None:
        return fail("evaluate", "give --tasks or --domain, not both", 2)
    args.tasks = args.tasks or args.domain or "biomed"
    try:
        resolve_tasks(args.tasks)
    except ValueError as err:  # a bad --tasks value
        return fail("evaluate", err, 2)
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    if offline and not args.benchmark_dir:
        return fail(
            "evaluate",
            "the Hub is offline (HF_HUB_OFFLINE is set) and --benchmark-dir is not given: "
            "pass --benchmark-dir with benchmarks built by `adamllm build-benchmark` (or `adamllm world`)",
        )
    if not getattr(args, "endpoint", None):  # a served model's name is no folder or repo id
        from hub_tools.preflight import check_model

        check_model("model", args.model)  # a mistyped folder: one line naming the closest one, nothing written
    set_progress(not args.no_progress, quiet_transformers=True)

    from hub_tools.errors import ConfigMismatch
    from hub_tools.evaluation.harness import evaluate_model
    from hub_tools.evaluation.report import scores_markdown
    from hub_tools.synthesis.endpoint_client import EndpointError

    try:
        scores = evaluate_model(
            args.model,
            tasks=args.tasks,
            output_dir=args.output,
            limit=args.limit,
            batch_size=args.batch_size,
            benchmark_dir=args.benchmark_dir,
            max_new_tokens=args.max_new_tokens,
            device=args.device,
            dtype=args.dtype,
            min_pixels=args.min_pixels,
            max_pixels=args.max_pixels,
            progress=not args.no_progress,
            prompt_format=args.prompt_format,
            endpoints=args.endpoint,
            endpoint_options={
                "concurrency": args.concurrency,
                "api_key_env": args.api_key_env,
                "server": args.server,
                "allow_approximate": args.allow_approximate,
                "request_timeout": args.request_timeout,
            },
            overwrite=args.overwrite,
            image_max_pixels=args.image_max_pixels,
            image_min_pixels=args.image_min_pixels,
        )
    except ConfigMismatch as err:  # a resume with other settings: a usage error, as in every stage
        return fail("evaluate", err, 2)
    except (
        ValueError,
        FileNotFoundError,
        EndpointError,
    ) as err:  # a missing benchmark folder or task, bad predictions
        return fail("evaluate", err)
    print(scores_markdown(scores))
    print(f"written: {args.output}/scores.json, {args.output}/scores.md, {args.output}/predictions/")
    return 0
