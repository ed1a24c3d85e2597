"""``adamllm demo``: serve the Gradio synthesizer Space (``spaces/synthesizer/app.py``) locally."""

from __future__ import annotations

import argparse
import os
import time

DESCRIPTION = (
    "Start the Gradio synthesizer demo: one image + caption through synthesize -> consistency filter -> "
    "compose. Models come from ADAMLLM_SYNTHESIZER / ADAMLLM_CHECKER; unset, the released models on a GPU "
    "with Hub access, else the offline tiny models (a smoke test whose text is meaningless). "
    "ADAMLLM_CHECKER=lexical uses the offline word-overlap checker only (the page defaults to it)."
)


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def server_address(host: str | None, port: int | None, environ=None) -> tuple[str, int]:
    """The interface and port to serve on: the flag, else ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``, else
    127.0.0.1:7860. ``ValueError`` for a ``GRADIO_SERVER_PORT`` that is not a port number."""
    environ = os.environ if environ is None else environ
    if host is None:
        host = environ.get("GRADIO_SERVER_NAME", "").strip() or DEFAULT_HOST
    if port is None:
        text = environ.get("GRADIO_SERVER_PORT", "").strip()
        if not text:
            port = DEFAULT_PORT
        elif text.isdigit() and 0 < int(text) < 65536:
            port = int(text)
        else:
            raise ValueError(f"GRADIO_SERVER_PORT={text!r} is not a port number")
    return host, port


def register(subparsers, name: str, help: str) -> None:
    """Add the ``demo`` subcommand."""
    p = subparsers.add_parser(name, help=help, description=DESCRIPTION)
    p.add_argument(
        "--host",
        default=None,
        help="interface to listen on (default: $GRADIO_SERVER_NAME, else 127.0.0.1; 0.0.0.0 for all)",
    )
    p.add_argument("--port", type=int, default=None, help="port (default: $GRADIO_SERVER_PORT, else 7860)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link (needs network)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the Space app and serve it until interrupted."""
    from hub_tools.cli import fail
    from hub_tools.demo import load_app, upload_folder
    from hub_tools.redaction import strip_credentials

    try:
        host, port = server_address(args.host, args.port)
    except ValueError as err:
        return fail("demo", err, 2)
    with upload_folder():  # gradio's uploads and file cache: a folder of this process, removed when it stops
        try:
            app = load_app()
        except FileNotFoundError as err:  # the Space's app.py is missing: a broken install
            return fail("demo", err)
        # quiet: gradio's banner (its URL after other lines, a share=True hint) gives way to our lines, URL first
        app.demo.launch(
            server_name=host,
            server_port=port,
            share=args.share,
            quiet=True,
            prevent_thread_lock=True,
            **app.launch_kwargs(),
        )
        print(f"adamllm demo: {url_line(app.demo.local_url, app.demo.share_url, args.share)}", flush=True)
        models = f"synthesizer {app.MODELS.synthesizer}, checker {app.MODELS.checker}"
        print(f"adamllm demo: {strip_credentials(models)}", flush=True)
        if app.MODELS.smoke_test:
            print("adamllm demo: tiny smoke-test models in use; their text is meaningless", flush=True)
        try:
            while app.demo.is_running:  # serve until Ctrl-C (SIGTERM too: see upload_folder)
                time.sleep(0.2)
        except KeyboardInterrupt:
            print("adamllm demo: stopped", flush=True)
        finally:
            app.demo.close()
    return 0


def url_line(local_url: str, share_url: str | None, share: bool) -> str:
    """The demo's first line: where to open it, how to stop it, and the public link (``--share``) or how to get
    one. Only flags of ``adamllm demo`` are named."""
    line = f"open {local_url} in a browser (Ctrl-C stops the server)"
    if share:
        return line + (f"; public link {share_url}" if share_url else "; no public link could be made")
    return line + "; --share adds a public gradio.live link"
