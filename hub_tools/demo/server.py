"""The demo server's plumbing: the bundled examples on disk, the request size cap, the upload folder, loading the
Space's ``app.py``."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hub_tools.demo.inputs import MAX_IMAGE_BYTES, MAX_REQUEST_BYTES, _mb


def ensure_examples(folder: str | os.PathLike, pairs: Iterable[tuple[str, Any, str]]) -> list[list[str]]:
    """Write the example images of ``pairs`` (``(file_name, PIL image, caption)``) into ``folder`` when missing.

    Returns ``[[image_path, caption], ...]`` for ``gr.Examples``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for file_name, img, caption in pairs:
        path = folder / file_name
        if not path.is_file():
            tmp = path.with_name(f".{file_name}.{os.getpid()}.tmp")
            img.save(tmp, format="PNG")
            os.replace(tmp, path)
        rows.append([str(path), caption])
    return rows


class UploadLimit:
    """ASGI middleware: answer 413 to a request whose body may pass ``max_bytes``, before reading any of it.

    gradio's ``max_file_size`` caps each file, but one upload request may carry 1000 of them: this caps the
    request (a ``Content-Length`` over ``max_bytes``, or a multipart body of undeclared length), so nothing
    beyond one image per request reaches gradio's upload folder.
    """

    def __init__(self, app, max_bytes: int = MAX_REQUEST_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        """Pass the request on, or refuse it with a message saying the limit."""
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        length = headers.get(b"content-length", b"").strip()
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        if (length and (not length.isdigit() or int(length) > self.max_bytes)) or (multipart and not length):
            size = f"too large ({_mb(int(length))})" if length.isdigit() else "of undeclared size"
            body = f"The upload is {size}; the demo takes one image of at most {_mb(MAX_IMAGE_BYTES)}.".encode()
            head = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 413, "headers": head})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


@contextlib.contextmanager
def upload_folder() -> Iterator[Path]:
    """Point gradio's uploads and file cache (``GRADIO_TEMP_DIR``) at a new folder of this process; remove it on exit.

    Made inside ``GRADIO_TEMP_DIR`` when set, else in the system temp folder. Enter it before the app module builds
    its ``gr.Blocks`` (components fix their cache folder when built). SIGTERM stops the server as Ctrl-C does.
    """
    import shutil
    import signal

    previous = os.environ.get("GRADIO_TEMP_DIR")
    folder = Path(tempfile.mkdtemp(prefix="adamllm-demo-uploads-", dir=previous or None))
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    main_thread = threading.current_thread() is threading.main_thread()
    handler = signal.signal(signal.SIGTERM, signal.default_int_handler) if main_thread else None  # KeyboardInterrupt
    try:
        yield folder
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, handler)
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous
        shutil.rmtree(folder, ignore_errors=True)


APP_MODULE = "adamllm_synthesizer_space"


def app_path() -> Path:
    """``spaces/synthesizer/app.py`` of the source checkout this package runs from."""
    return Path(__file__).resolve().parents[2] / "spaces" / "synthesizer" / "app.py"


def load_app(path: str | os.PathLike | None = None):
    """Import the Space's ``app.py`` as a module (registered in ``sys.modules``) and return it.

    Raises ``FileNotFoundError`` when the file is absent (the Space lives in the source checkout, not
    in an installed wheel).
    """
    import importlib.util
    import sys

    path = Path(path) if path is not None else app_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"the Space app {str(path)!r} was not found: `adamllm demo` runs spaces/synthesizer/app.py from a "
            "source checkout (pip install -e . in a clone of adamllm-hub)"
        )
    spec = importlib.util.spec_from_file_location(APP_MODULE, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[APP_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(APP_MODULE, None)
        raise
    return module
