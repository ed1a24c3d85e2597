"""``adamllm filter RUN_DIR``: judge synthesized triplets for consistency (Yes / No / Open)."""

from __future__ import annotations

import argparse

from hub_tools.defaults import DEFAULT_CHECKER


def register(subparsers, name: str, help: str) -> None:
    """Add the ``filter`` subcommand."""
    from hub_tools.cli import add_run_dir_argument

    p = subparsers.add_parser(
        name,
        help=help,
        description=help + " Keeps going where an interrupted run stopped (RUN_DIR/filter/ shards).",
    )
    from hub_tools.commands.synthesize import add_endpoint_arguments

    add_run_dir_argument(p, "run directory written by `adamllm synthesize`")
    add_checker_arguments(p)
    add_endpoint_arguments(p, "--endpoint", "the checker (its /v1/completions)")
    p.add_argument(
        "--overwrite", action="store_true", help="start over: remove RUN_DIR's earlier verdicts (filter/) first"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def add_checker_arguments(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """The checker options shared by ``filter`` and ``pipeline`` (there prefixed ``--checker-``)."""
    p.add_argument(
        "--checker",
        default=DEFAULT_CHECKER,
        help=f"checker LLM (Hub id or local folder), or 'lexical' for the offline heuristic (default: {DEFAULT_CHECKER})",
    )
    p.add_argument(f"--{prefix}batch-size", type=int, default=8, help="checker items per forward pass (default: 8)")
    p.add_argument(f"--{prefix}device", default=None, help="torch device for the checker (default: cuda if available)")
    p.add_argument(
        f"--{prefix}dtype", default=None, help="checker dtype, e.g. bfloat16 (default: bf16 on GPU, fp32 on CPU)"
    )
    p.add_argument(
        f"--{prefix}decision",
        choices=("released", "label-logits"),
        default="released",
        help="released (default): greedily generate up to 2 tokens, keep iff the text, stripped and lower-cased, is "
        "'yes' (verdict Yes / No / Open / Other); label-logits: argmax over the first-token logits of Yes / No / Open",
    )
    p.add_argument(
        "--checker-prompt",
        metavar="FILE",
        default=None,
        help="few-shot prompt template with the placeholders {Q}, {informative_A}, {precise_A}, ending where the "
        "label is generated (default: our built-in prompt)",
    )
    p.add_argument(
        f"--{prefix}clip-fields",
        action="store_true",
        help="cut the checker prompt's question / informative / precise answers to 1,000 / 4,000 / 1,000 characters "
        "and collapse their whitespace (our earlier default; the release inserts them as given)",
    )
    p.add_argument(
        "--no-shared-prefix",
        action="store_true",
        help="run the whole few-shot prompt per item instead of reusing the prefix KV cache (slower; for comparison)",
    )
    p.add_argument(
        "--all-triplets",
        action="store_true",
        help="judge every triplet of a pair, not only the first (the one the released protocol keeps)",
    )


def checker_factory(args: argparse.Namespace, prefix: str = ""):
    """Check the checker options now and return a zero-argument function that loads the checker.

    Raises :class:`~hub_tools.filtering.PromptError` (one line, naming the file and the missing
    placeholder) for a bad ``--checker-prompt``, ``ValueError`` for a prompt given to the lexical
    checker, and :class:`~hub_tools.errors.ModelNotFound` for a checker folder or Hub id that does not exist
    (:func:`hub_tools.preflight.check_model`), before any model is loaded.
    """
    from hub_tools.filtering import PromptTemplate, load_checker
    from hub_tools.preflight import check_model

    key = prefix.replace("-", "_")
    clip = getattr(args, f"{key}clip_fields", False)
    template = PromptTemplate.from_file(args.checker_prompt) if args.checker_prompt else None
    if args.checker == "lexical":
        if template is not None or clip:
            flag = "--checker-prompt" if template is not None else f"--{prefix}clip-fields"
            raise ValueError(f"{flag} needs an LLM checker; the lexical checker uses no prompt")
        return lambda: load_checker("lexical")
    if clip:
        template = (template or PromptTemplate.default()).clipped()
    urls = getattr(args, f"{key}endpoint", None)
    if urls:
        if getattr(args, f"{key}decision") != "released":
            raise ValueError("a served checker takes the released decision only (label-logits needs the logits)")
        from hub_tools.filtering.served import ServedChecker

        served = {
            "template": template,
            "concurrency": args.concurrency,
            "api_key_env": args.api_key_env,
            "request_timeout": args.request_timeout,
        }
        checker = ServedChecker(args.checker, urls, server=args.server, **served)  # probed now, before any stage
        return lambda: checker
    check_model("checker", args.checker)  # a served checker's name is no folder or repo id: checked above
    kwargs = {
        "device": getattr(args, f"{key}device"),
        "dtype": getattr(args, f"{key}dtype"),
        "shared_prefix": not args.no_shared_prefix,
        "decision": getattr(args, f"{key}decision"),
        "template": template,
    }
    return lambda: load_checker(args.checker, **kwargs)


def make_checker(args: argparse.Namespace, prefix: str = ""):
    """Build the checker named by ``args.checker`` (options read with the same ``prefix`` as added)."""
    return checker_factory(args, prefix)()


def run(args: argparse.Namespace) -> int:
    """Judge the pending pairs, then print the verdict counts."""
    from hub_tools.cli import run_dir_arg

    args.run_dir = run_dir_arg(args)  # RUN_DIR or --output RUN_DIR
    import json

    from hub_tools.cli import fail
    from hub_tools.defaults import set_progress
    from hub_tools.filtering import filter_run

    if args.batch_size < 1:
        return fail("filter", "--batch-size must be at least 1", 2)
    try:
        load = checker_factory(args)
    except ValueError as err:  # a bad --checker-prompt, before any model is loaded: a usage error
        return fail("filter", err, 2)
    from hub_tools.rundir.ownership import OutputRefused, check_stage_run_dir

    try:  # before the checker loads: a link or a folder that is no run dir is refused untouched
        check_stage_run_dir(args.run_dir, "adamllm filter", removing=args.overwrite)
    except OutputRefused as err:
        return fail("filter", err)
    set_progress(not args.no_progress, quiet_transformers=args.checker != "lexical")
    from hub_tools.synthesis.endpoint_client import EndpointError

    checker = None
    try:
        checker = load()
        batch_size = max(args.batch_size, getattr(checker, "batch_size", 0))  # a served checker: fill the replicas
        result = filter_run(
            args.run_dir, checker, batch_size=batch_size, all_triplets=args.all_triplets, overwrite=args.overwrite
        )
    except (FileNotFoundError, ValueError, EndpointError) as err:
        return fail("filter", err)
    finally:
        if hasattr(checker, "close"):
            checker.close()
    print(f"judged {result['items']} item(s) of {result['pairs']} pair(s) ({result['already_done']} done before)")
    print(json.dumps(result["stats"], indent=2))
    return 0
