"""The ``adamllm`` command line.

Each subcommand lives in ``hub_tools/commands/<name>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func``. Those modules import only ``argparse`` at top level; the
heavy work is imported inside the command function, so ``adamllm --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from hub_tools.redaction import format_exception, install, redact_text

# (command, module under hub_tools.commands, one-line help)
COMMANDS: list[tuple[str, str, str]] = [
    ("tiny-models", "tiny_models", "Build the offline tiny models (Qwen2-VL, LLaVA-NeXT, Llama) into a folder."),
    ("sample-data", "sample_data", "Write the bundled sample image-caption pairs (biomed + food) to a folder."),
    ("world", "world", "Build the miniature world (seed sets, domain pairs, mini benchmark) into a folder."),
    ("validate-pairs", "validate_pairs", "Read image-caption pairs and report accepted / rejected counts."),
    ("synthesize", "synthesize", "Synthesize visual instruction task triplets from image-caption pairs."),
    ("serve-folder", "serve_folder", "Copy a model folder so that transformers serve returns raw replies."),
    ("filter", "filter", "Judge synthesized triplets for consistency (LLM checker or lexical)."),
    ("compose", "compose", "Compose single-stage (or two-stage) training conversations."),
    ("pipeline", "pipeline", "Run synthesize -> filter -> compose with resume."),
    ("doctor", "doctor", "Check a run directory for damage (corrupt shards, duplicate ids) and --repair it."),
    ("build-dataset", "build_dataset", "Build a Hub dataset folder (parquet + card) from a run directory."),
    ("publish-metrics", "publish_metrics", "Push the evaluate metrics to the Hub as Spaces ORG/<name>."),
    ("build-benchmark", "build_benchmark", "Build the biomed, food or remote-sensing benchmarks from raw releases."),
    ("train", "train", "Post-train a model with the TRL SFT recipe."),
    ("evaluate", "evaluate", "Score a model on the domain benchmarks."),
    ("compare", "compare", "Compare two evaluation runs (table + bar chart)."),
    ("demo", "demo", "Start the Gradio synthesizer demo."),
    ("quickstart", "quickstart", "Run the whole method in miniature on CPU, offline."),
    ("ablate", "ablate", "Rerun the paper's ablations in miniature (seeds, intervals, ground truth)."),
]

RESUMABLE = ("synthesize", "filter", "compose", "pipeline", "evaluate")
"""Commands that continue where they stopped when rerun as they were (their output folder keeps what was done)."""
RESUME_HINT = "stopped; rerun the same command to resume"


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose usage errors, which quote the values given, pass :func:`redact_text` first.

    Subcommand parsers are built by ``add_subparsers`` with the parent's class, so every ``adamllm`` parser is one.
    """

    def error(self, message: str):
        """Print the usage and ``PROG: error: MESSAGE`` (redacted) on stderr and exit 2."""
        super().error(redact_text(message))


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every subcommand registered."""
    from hub_tools import __version__

    parser = ArgumentParser(
        prog="adamllm",
        description="Adapt a multimodal LLM to your domain: synthesize, filter, compose, train, evaluate.",
    )
    parser.add_argument("--version", action="version", version=f"adamllm-hub {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, help_text in COMMANDS:
        mod = importlib.import_module(f"hub_tools.commands.{module}")
        mod.register(sub, name=name, help=help_text)
    return parser


def _subparser(parser: argparse.ArgumentParser, name: str | None) -> argparse.ArgumentParser | None:
    """The parser of subcommand ``name`` (``None`` when there is none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name) if name else None
    return None


def _innermost(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[list[argparse.ArgumentParser], list[str]]:
    """The parsers ``argv`` walks through (``adamllm``, its subcommand, a nested one such as ``build-benchmark
    food``) and the arguments after the last subcommand name."""
    path, rest = [parser], list(argv)
    while True:
        name = next((a for a in rest if not a.startswith("-")), None)
        sub = _subparser(path[-1], name)
        if sub is None:
            return path, rest
        path.append(sub)
        rest = rest[rest.index(name) + 1 :]


def check_options(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """A usage error from the subcommand's own parser (its usage, exit 2) for the first ``--option`` in ``argv`` that
    it does not know, naming the closest known one ("did you mean --pairs?"). Unique prefixes are argparse's
    abbreviations and pass; ``train`` passes unknown options on to its recipe, so it is not checked here."""
    import difflib

    path, rest = _innermost(parser, argv)
    if len(path) < 2 or path[1] is _subparser(parser, "train"):
        return
    sub, command = path[-1], path[-1].prog.removeprefix("adamllm ")
    known = [o for p in path for action in p._actions for o in action.option_strings if o.startswith("--")]
    for arg in rest:
        if arg == "--":
            break
        if not arg.startswith("--") or arg in known:
            continue
        flag = arg.split("=", 1)[0]
        if flag in known or len([o for o in known if o.startswith(flag)]) == 1:
            continue
        close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
        # the flag alone, its value never (it may be a secret), and nothing after the flag that reads as its value
        hint = f"did you mean {close[0]}?" if close else f"see: adamllm {command} --help"
        sub.error(f"unrecognized argument {flag}; {hint}")


def _debug() -> bool:
    return os.environ.get("ADAMLLM_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def add_output_argument(p: argparse.ArgumentParser, help: str) -> None:
    """``--output DIR``, the one spelling of an output folder, with a positional ``OUT_DIR`` kept as its alias.

    Read it back with :func:`output_dir`.
    """
    p.add_argument("out_dir", nargs="?", metavar="OUT_DIR", default=None, help="same as --output")
    p.add_argument("--output", metavar="DIR", default=None, help=f"{help} (required; or give it as OUT_DIR)")
    p.set_defaults(output_parser=p)


def output_dir(args: argparse.Namespace) -> str:
    """The folder of :func:`add_output_argument`; a usage error (exit 2) when it is missing or given twice."""
    if args.output and args.out_dir and args.output != args.out_dir:
        args.output_parser.error(f"two output folders given ({args.out_dir!r} and --output {args.output!r})")
    folder = args.output or args.out_dir
    if not folder:
        args.output_parser.error("the output folder is required: --output DIR")
    return folder


def add_run_dir_argument(p: argparse.ArgumentParser, help: str) -> None:
    """``RUN_DIR`` of a command that works on a run directory, given as a positional or as ``--output RUN_DIR``
    (the spelling of ``synthesize`` and ``pipeline``), so either works in every command. Read it with
    :func:`run_dir_arg`."""
    p.add_argument("run_dir", nargs="?", metavar="RUN_DIR", default=None, help=f"{help} (or --output RUN_DIR)")
    p.add_argument("--output", dest="run_dir_option", metavar="RUN_DIR", default=None, help=argparse.SUPPRESS)
    p.set_defaults(run_dir_parser=p)


def run_dir_arg(args: argparse.Namespace) -> str:
    """The run directory of :func:`add_run_dir_argument`; a usage error (exit 2) when missing or given twice."""
    given = [value for value in (args.run_dir, args.run_dir_option) if value]
    if len(set(given)) > 1:
        args.run_dir_parser.error(f"two run directories given ({given[0]!r} and --output {given[1]!r})")
    if not given:
        args.run_dir_parser.error("the run directory is required: RUN_DIR (or --output RUN_DIR)")
    return given[0]


def fail(command: str, message: object, code: int = 1) -> int:
    """Print ``adamllm COMMAND: error: MESSAGE`` on stderr (the one error format) and return ``code``.

    ``code`` is 1 for a runtime failure (a missing input, a model that cannot be loaded) and 2 for a usage
    error (a bad option value, a resume with different settings), as argparse's own errors. The message is
    redacted (:func:`hub_tools.redaction.redact_text`): an error may quote a recipe line, an argument or a URL.
    """
    print(redact_text(f"adamllm {command}: error: {message}"), file=sys.stderr)
    return code


def describe_error(err: BaseException) -> str:
    """One line for an error a user can fix: the message's first line, plus whether the Hub is offline.

    A model or dataset that cannot be loaded (misspelt id, gated repo, no network) surfaces from transformers
    and huggingface_hub as an ``OSError`` with a long explanation; its first line names the id.
    """
    from hub_tools.errors import ModelLoadError, ModelNotFound  # stdlib-only module: cheap, on the error path

    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(err).__name__
    if isinstance(err, ModelNotFound):  # already says where it looked and what to fix
        return text
    from hub_tools.preflight import hub_offline, no_network, offline_fix  # stdlib-only at import: cheap

    hub_error = "huggingface" in text.lower() or "the hub" in text.lower() or isinstance(err, ModelLoadError)
    if isinstance(err, (OSError, ConnectionError)) and hub_error:
        if no_network():  # this process probed the Hub once and found no network (preflight.hub_reachable)
            text += f" (this machine cannot reach the Hub: {offline_fix()})"
        elif hub_offline():
            text += " (the Hub is offline: HF_HUB_OFFLINE is set; give a local folder, or unset it with network)"
        else:
            text += " (check the id, your access and the network)"
    return text


def _terminate_cleanly() -> None:
    """SIGTERM unwinds like Ctrl-C (``finally`` blocks run: locks released, HTTP sessions closed), exit 143."""
    import signal
    import threading

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, terminate)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``adamllm`` console script.

    Exit codes: 0 success, 2 usage errors (argparse's), 1 runtime failures. An unexpected exception is one
    line on stderr (``adamllm COMMAND: error: ...``); ``--debug`` or ``ADAMLLM_DEBUG=1`` shows the traceback.
    Every message, log record, warning and traceback is redacted (:func:`hub_tools.redaction.install`).
    """
    install()
    _terminate_cleanly()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or _debug()
    argv = [a for a in argv if a != "--debug"]
    check_options(parser, argv)  # a mistyped flag: the subcommand's usage and the closest flag, exit 2
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "command", None) == "train":  # recipe overrides before --config go to the recipe
        args.overrides = extra
    elif extra:  # e.g. a stray positional: argparse's own error, from the subcommand's parser when there is one
        (_subparser(parser, getattr(args, "command", None)) or parser).error(
            f"unrecognized arguments: {' '.join(extra)}"
        )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        from hub_tools.preflight import probe_before_first_request

        probe_before_first_request()  # no network: one line within seconds, not the Hub client's retries
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C: one line saying how to go on, exit 130 as a shell's
        hint = RESUME_HINT if args.command in RESUMABLE else "stopped"
        print(f"\nadamllm {args.command}: {hint}", file=sys.stderr)
        return 130
    except Exception as err:
        if debug:
            print(format_exception(err), end="", file=sys.stderr)
            return 1
        from hub_tools.errors import ConfigMismatch, UsageError
        from hub_tools.rundir import RunDirBusy  # stdlib-only package: cheap, and only on the error path

        if isinstance(err, RunDirBusy):  # another process holds RUN_DIR: its own one line, nothing touched
            print(redact_text(str(err)), file=sys.stderr)
            return 1
        if isinstance(err, (ConfigMismatch, UsageError)):  # e.g. a resume with other settings: a usage error
            return fail(args.command, describe_error(err), 2)
        return fail(args.command, describe_error(err))


if __name__ == "__main__":
    sys.exit(main())
