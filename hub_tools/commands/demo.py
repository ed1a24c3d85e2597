"""``adamllm demo``: serve the Gradio synthesizer Space (``spaces/synthesizer/app.py``) locally."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = (
    "Start the Gradio synthesizer demo: one image + caption through synthesize -> consistency filter -> "
    "compose. Models come from ADAMLLM_SYNTHESIZER / ADAMLLM_CHECKER; unset, the released models on a GPU "
    "with Hub access, else the offline tiny models (a smoke test whose text is meaningless)."
)


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def register(subparsers, name: str, help: str) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(name, help=help, description=DESCRIPTION)
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument(
        "--share",
        type=_bool,
        default=False,
        metavar="{true,false}",
        help="also open a public gradio.live link (default false; needs network)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the Space app and serve it until interrupted."""
    from hub_tools.demo import load_app

    try:
        app = load_app()
    except FileNotFoundError as err:
        print(f"adamllm demo: {err}", file=sys.stderr)
        return 2
    print(f"adamllm demo: synthesizer {app.MODELS.synthesizer}, checker {app.MODELS.checker}", flush=True)
    if app.MODELS.smoke_test:
        print("adamllm demo: tiny smoke-test models in use; their text is meaningless", flush=True)
    app.demo.launch(server_name=args.host, server_port=args.port, share=args.share, **app.launch_kwargs())
    return 0
