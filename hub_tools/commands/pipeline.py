"""``adamllm pipeline --pairs ... --output RUN_DIR``: synthesize -> filter -> compose, resumable."""

from __future__ import annotations

import argparse

DESCRIPTION = """\
Run the whole data side of the method: synthesize task triplets from image-caption pairs, judge
them with the consistency checker, and compose single-stage training conversations, all in
RUN_DIR. Every stage resumes: rerun the same command after an interruption. Ends with a summary
(pairs in, triplets, Yes/No/Open, kept tasks, caption-only, rejected, question-type diversity).
"""


def register(subparsers, name: str, help: str) -> None:
    """Add the ``pipeline`` subcommand (synthesize options + checker options + compose options)."""
    from hub_tools.commands.compose import add_compose_arguments
    from hub_tools.commands.filter import add_checker_arguments
    from hub_tools.commands.synthesize import add_arguments, add_endpoint_arguments

    p = subparsers.add_parser(
        name, help=help, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(p, endpoint_flag="--synthesizer-endpoint")
    add_checker_arguments(p, prefix="checker-")
    add_endpoint_arguments(p, "--checker-endpoint", "the checker (its /v1/completions)")
    add_compose_arguments(p, seed=False)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def pipeline_kwargs(args: argparse.Namespace) -> dict:
    """The typed arguments of :func:`hub_tools.pipeline.run_pipeline` for parsed pipeline ``args``.

    The checker is passed as a factory, so it is loaded only after synthesis (as before the split).
    """
    from hub_tools.commands.compose import compose_options
    from hub_tools.commands.filter import checker_factory
    from hub_tools.commands.synthesize import synthesis_config

    synthesis = synthesis_config(args)  # usage errors (run dir, image sizes) before the checker is looked for
    checker = checker_factory(args, prefix="checker-")  # a bad --checker-prompt fails here, before synthesis
    return {
        "synthesis": synthesis,
        "checker": checker,
        "checker_batch_size": args.checker_batch_size,
        "all_triplets": args.all_triplets,
        "compose": compose_options(args),
    }


def run(args: argparse.Namespace) -> int:
    """Run the pipeline and print its summary."""
    import json

    from hub_tools.cli import fail
    from hub_tools.defaults import set_progress
    from hub_tools.errors import ConfigMismatch
    from hub_tools.pipeline import format_summary, run_pipeline
    from hub_tools.synthesis.endpoint_client import EndpointError

    if args.checker_batch_size < 1:
        return fail("pipeline", "--checker-batch-size must be at least 1", 2)
    try:
        kwargs = pipeline_kwargs(args)
    except ValueError as err:  # a bad --checker-prompt, before anything runs: a usage error
        return fail("pipeline", err, 2)
    set_progress(not args.no_progress, quiet_transformers=True)
    try:
        summary = run_pipeline(**kwargs)
    except ConfigMismatch as err:  # a resume with different settings (synthesis or filter): a usage error
        return fail("pipeline", err, 2)
    except (ImportError, FileNotFoundError, ValueError, EndpointError) as err:  # a missing input or model
        return fail("pipeline", err)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    if summary["rejected"] == summary["pairs_in"]:
        from hub_tools.data.layout import all_rejected

        return fail("pipeline", all_rejected(args.pairs, summary["pairs_in"]))
    return 0
