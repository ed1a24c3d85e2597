"""Checks a command makes before it writes anything: the pairs source reads, each model id or folder exists.

A mistake found here is one line naming the input and the fix, and leaves nothing behind (no run directory, no
manifest), so the corrected command starts clean. Models are only located here, never loaded.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from hub_tools.errors import ModelNotFound

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
"""The shape of a Hub repo id: ``name`` or ``namespace/name``."""
HUB_CHECK_TIMEOUT_S = 10.0
"""Seconds one Hub lookup of a model id may take (one request, no retries)."""


HUB_PROBE_TIMEOUT_S = 2.0
"""Seconds the one network probe of a process may take (:func:`hub_reachable`)."""
_PROBE: dict[str, bool] = {}
"""The probe's answer, once per process (``{"reachable": bool}``)."""


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` is set to a true value (or this process found no network: :func:`go_offline`)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def offline_fix(ref: str | None = None) -> str:
    """The two ways on without a network: the Hub cache only, or a local folder (``hf download`` it elsewhere)."""
    return (
        "set HF_HUB_OFFLINE=1 to use only the local Hub cache, or give a local folder instead "
        f"(`hf download {ref or 'ID'} --local-dir DIR` where there is network)"
    )


def _probe(host: str, port: int, answer: list) -> None:
    import socket

    try:
        with socket.create_connection((host, port), timeout=HUB_PROBE_TIMEOUT_S):
            answer.append(True)
    except OSError:
        answer.append(False)


def hub_reachable() -> bool:
    """Whether the Hub (``HF_ENDPOINT``, default huggingface.co) answers a TCP connect, asked once per process
    within :data:`HUB_PROBE_TIMEOUT_S` seconds (name resolution included). ``False`` when offline mode is set; ``True``
    without asking when a proxy is configured (the proxy decides). A ``False`` turns offline mode on
    (:func:`go_offline`), so the loaders use the cache at once instead of retrying."""
    if hub_offline():
        return False
    if "reachable" not in _PROBE:
        if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
            _PROBE["reachable"] = True
        else:
            import threading
            from urllib.parse import urlsplit

            from huggingface_hub import constants

            url = urlsplit(constants.ENDPOINT)
            answer: list = []
            port = url.port or (443 if url.scheme == "https" else 80)
            probe = threading.Thread(target=_probe, args=(url.hostname, port, answer), daemon=True)
            probe.start()
            probe.join(HUB_PROBE_TIMEOUT_S + 0.5)
            _PROBE["reachable"] = bool(answer and answer[0])
        if not _PROBE["reachable"]:
            go_offline()
    return _PROBE["reachable"]


def no_network() -> bool:
    """Whether this process probed the Hub and found no network (offline mode then set by :func:`go_offline`)."""
    return _PROBE.get("reachable") is False


def go_offline() -> None:
    """Turn the Hub's offline mode on for this process: ``HF_HUB_OFFLINE=1`` for child processes,
    ``huggingface_hub.constants.HF_HUB_OFFLINE`` (what ``is_offline_mode()`` and transformers read; the variable
    is read once, at import) and, when imported, ``datasets.config.HF_HUB_OFFLINE``."""
    import sys

    from huggingface_hub import constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    constants.HF_HUB_OFFLINE = True
    config = sys.modules.get("datasets.config")
    if config is not None:
        config.HF_HUB_OFFLINE = True
        if hasattr(config, "HF_DATASETS_OFFLINE"):
            config.HF_DATASETS_OFFLINE = True


def _probing_client_factory():
    """huggingface_hub's client factory (:func:`huggingface_hub.set_client_factory`) with :func:`hub_reachable`
    asked first: with no network the client it returns refuses every request at once (offline mode), so no
    request is retried."""
    from huggingface_hub.utils._http import default_client_factory

    hub_reachable()
    return default_client_factory()


def probe_before_first_request() -> None:
    """Make huggingface_hub ask :func:`hub_reachable` before its first request of this process (nothing when
    ``HF_HUB_OFFLINE`` is set). A Hub id that cannot be reached then fails in about :data:`HUB_PROBE_TIMEOUT_S`
    seconds with one line instead of after five retries."""
    if hub_offline():
        return
    from huggingface_hub import set_client_factory

    set_client_factory(_probing_client_factory)


def closest_folder(path: str | os.PathLike) -> str | None:
    """The existing folder whose path is closest to ``path`` (a sibling of its last part, under the deepest
    existing parent), or ``None`` when nothing is close."""
    path = Path(os.path.expanduser(str(path)))
    parent = path.parent
    while not parent.is_dir() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return None
    rest = path.relative_to(parent).parts if path.is_relative_to(parent) else (path.name,)
    try:
        names = sorted(p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return None
    match = difflib.get_close_matches(rest[0], names, n=1, cutoff=0.6)
    if not match:
        return None
    guess = parent / match[0]
    for part in rest[1:]:  # follow the remaining parts where they exist, else stop at the closest one found
        sub = closest_folder(guess / part)
        if sub is None:
            break
        guess = Path(sub)
    return str(guess)


def looks_local(ref: str) -> bool:
    """Whether ``ref`` names a local folder rather than a Hub repo id: it exists, it is not shaped like a Hub id
    (``./x``, ``/x``, ``a/b/c``), or its first part is a local folder (``outputs/student``)."""
    if Path(ref).exists() or not HUB_ID.match(ref):
        return True
    return "/" in ref and Path(ref.split("/", 1)[0]).is_dir()


def check_model(what: str, ref: str) -> None:
    """Raise :class:`~hub_tools.errors.ModelNotFound` (one line) when ``ref`` cannot name a loadable ``what``.

    A local folder must exist (else the closest existing folder is suggested). A Hub id must be in the local cache
    when the Hub is offline; online it is looked up once (at most :data:`HUB_CHECK_TIMEOUT_S` seconds, no
    retries), so a misspelt id fails at once instead of after the loaders' retries.
    """
    if "://" in ref:  # neither loader takes a URL; the message shows it without credentials
        from hub_tools.redaction import strip_credentials

        raise ModelNotFound(f"the {what} {strip_credentials(ref)!r} is a URL; give a Hub id or a local folder")
    if looks_local(ref):
        if Path(ref).is_dir():
            return
        if Path(ref).exists():
            raise ModelNotFound(f"the {what} {ref!r} is a file; give the model's folder (with config.json)")
        near = closest_folder(ref)
        hint = f"; did you mean {near!r}?" if near else ""
        raise ModelNotFound(f"the {what} folder {ref!r} does not exist{hint}")
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(ref, "config.json"), str):
        return
    if hub_offline() or not hub_reachable():
        if no_network():
            raise ModelNotFound(
                f"the {what} {ref!r} is not in the Hub cache and this machine cannot reach the Hub: {offline_fix(ref)}"
            )
        raise ModelNotFound(
            f"the {what} {ref!r} is neither a local folder nor in the Hub cache, and the Hub is offline "
            f"(HF_HUB_OFFLINE is set): give a local folder (`hf download {ref} --local-dir DIR` where there is network)"
        )
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        HfApi().model_info(ref, timeout=HUB_CHECK_TIMEOUT_S)
    except GatedRepoError:
        return  # it exists; loading says how to get access
    except RepositoryNotFoundError:
        raise ModelNotFound(
            f"the {what} {ref!r} is not a model on the Hub (check the spelling; a private model needs `hf auth login`)"
        ) from None
    except Exception as err:  # no network, a timeout: one line now, not the loaders' retries
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ModelNotFound(f"cannot reach the Hub to look up the {what} {ref!r}: {first}") from None


def check_pairs(spec: str, **read_kwargs) -> None:
    """Read the first records of the pairs source ``spec`` (at most :data:`~hub_tools.data.layout.PEEK`, no image
    decoding) so that a missing file, an unknown format, a missing column, a Hub dataset that cannot be loaded or
    records of another layout (none accepted, every rejection about the record's shape) fail before anything is
    written. ``read_kwargs`` are :func:`hub_tools.data.read_pairs`'s (``image_root``, ``image_column``, ...)."""
    from collections import Counter

    from hub_tools.data import ImageCaptionPair, read_pairs, reason_kind
    from hub_tools.data.layout import PEEK, layout_is_wrong, nothing_accepted

    read_kwargs = {**read_kwargs, "limit": PEEK, "check_images": False}
    reasons: Counter = Counter()
    for record in read_pairs(spec, **read_kwargs):
        if isinstance(record, ImageCaptionPair):
            return
        reasons[reason_kind(record.reason)] += 1
    if layout_is_wrong(reasons):
        columns = {k: read_kwargs[k] for k in ("image_column", "caption_column") if k in read_kwargs}
        raise ValueError(nothing_accepted(spec, reasons, **columns))
