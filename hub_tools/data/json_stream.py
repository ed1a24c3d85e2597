"""Streaming JSON for pairs files: a JSON array read element by element, JSONL line by line, in bounded memory.

A malformed element or line is one :class:`hub_tools.errors.BadInput` naming its index or line number, and
reading resynchronises at the next element; a BOM is skipped; bytes that do not decode are reported per record.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hub_tools.errors import BadInput

MAX_RECORD_BYTES = 1 << 26
"""The largest single input record read (64 MiB): a longer JSONL line, or a JSON-array element longer than this many
characters, is rejected on its own (its reason names the cap) and read past in bounded memory; the run goes on."""
MAX_JSON_ELEMENT_CHARS = MAX_RECORD_BYTES
"""Longest JSON-array element read (64 Mi characters, :data:`MAX_RECORD_BYTES`)."""
_SKIP_CHUNK = 1 << 20
_MAX_GROWTH = 1 << 22  # a long element's buffer grows by at most this many characters a read: bounded peaks
_SEP = re.compile(r"[ \t\r\n,]*")
_WS = re.compile(r"[ \t\r\n]*")
_STRUCT = re.compile(r'["\[\]{},]')
_STR_END = re.compile(r'["\\\n\r]')  # a raw newline cannot be inside a JSON string: an unclosed one ends there
_BAD_BYTE = re.compile("[\udc80-\udcff]")  # bytes that do not decode as UTF-8, as errors="surrogateescape" reads them


def too_large(what: str, size: int | None, cap: int, unit: str = "bytes") -> str:
    """The rejection reason of a record over the cap (:data:`MAX_RECORD_BYTES`)."""
    length = f" ({size} {unit})" if size is not None else ""
    limit = f"MAX_RECORD_BYTES, {cap >> 20} MiB" if cap == MAX_RECORD_BYTES else f"{cap} {unit} here"
    return (
        f"record too large: {what} is longer than {cap} {unit}{length}, the cap on one input record "
        f"({limit}); rejected without being read whole"
    )


def _bad_byte_reason(what: str, match: re.Match, start: int) -> str:
    byte = ord(match.group()) - 0xDC00
    return f"not UTF-8: {what} has byte 0x{byte:02x} at character {match.start() - start + 1} that does not decode"


def _element_starts(decoder: json.JSONDecoder, buf: str, pos: int) -> bool:
    """Whether a whole JSON value followed by ',' or ']' (an array element) starts at ``pos``."""
    try:
        _, end = decoder.raw_decode(buf, _WS.match(buf, pos).end())
    except ValueError:
        return False
    end = _WS.match(buf, end).end()
    return end < len(buf) and buf[end] in ",]"


def iter_json_array_records(
    path: str | os.PathLike, chunk_size: int = 1 << 16, max_element_chars: int = MAX_JSON_ELEMENT_CHARS
) -> Iterator[tuple[int, Any, str | None]]:
    """Yield ``(index, element, None)`` or, for a malformed element, ``(index, None, reason)`` from a JSON array.

    Streams the file (memory: a chunk plus the largest element); a UTF-8 byte-order mark is skipped. A malformed
    element (invalid JSON, bytes that are not UTF-8) is one rejection naming its index; reading goes on at the
    next top-level comma, found by a scan that respects strings and brackets. Where no such comma can be found
    (the file ends inside the element, or it is longer than ``max_element_chars``), :class:`BadInput` names the
    element and says why the rest of the file is refused; so does a file that is not an array or not closed.
    A string left unclosed by a broken element ends, for the scan, at the end of its line (a line ending in ','
    followed by a whole element ends the element): pretty-printed and one-element-per-line arrays resynchronise;
    in a one-line array the scan may land inside a later element, whose pieces are then rejected as malformed,
    or find no end (the file is refused as above); a record is never accepted from a misread.
    An element longer than ``max_element_chars`` is one rejection (:func:`too_large`): the scan reads past it
    keeping none of it, so memory stays bounded by the cap, whatever the element's size.
    """
    name = os.fspath(path)
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8-sig", errors="surrogateescape") as fh:
        buf, pos, eof = "", 0, False

        def more(least: int = chunk_size) -> bool:  # append to buf (dropping what is before pos); sizes grow
            nonlocal buf, pos, eof
            if eof:
                return False
            chunk = fh.read(max(least, min(len(buf) - pos, _MAX_GROWTH)))
            if not chunk:
                eof = True
                return False
            buf, pos = buf[pos:] + chunk, 0
            return True

        while True:
            pos = _WS.match(buf, pos).end()
            if pos < len(buf) or not more():
                break
        if pos >= len(buf) or buf[pos] != "[":
            raise BadInput(f"{name!r} is not a JSON array (expected '[' at the start)")
        pos += 1
        index = 0
        while True:
            while True:
                pos = _SEP.match(buf, pos).end()
                if pos < len(buf) or not more():
                    break
            if pos >= len(buf):
                raise BadInput(f"{name!r}: JSON array is not closed (truncated file?)")
            if buf[pos] == "]":
                pos += 1
                while True:  # only whitespace may follow; anything else means a broken element misled the scan
                    pos = _WS.match(buf, pos).end()
                    if pos < len(buf) or not more():
                        break
                if pos < len(buf):
                    raise BadInput(
                        f"{name!r}: text follows the array's closing ']' after element {index - 1} (a broken "
                        "element before it may have hidden where it ends); the rest of the file is refused"
                    )
                return
            # fast path: the element decodes and a delimiter follows it inside the buffer
            try:
                value, end = decoder.raw_decode(buf, pos)
            except ValueError:
                end = -1
            if end >= 0:
                after = _WS.match(buf, end).end()
                if (after < len(buf) and buf[after] in ",]") or (after >= len(buf) and eof):
                    bad = _BAD_BYTE.search(buf, pos, end)
                    if end - pos > max_element_chars:
                        yield index, None, too_large(f"element {index}", end - pos, max_element_chars, "characters")
                    elif bad:
                        yield index, None, _bad_byte_reason(f"element {index}", bad, pos)
                    else:
                        yield index, value, None
                    index += 1
                    pos = end
                    continue
            # slow path: find the element's extent (to the next top-level ',' or the closing ']'), then decode it
            i, depth, in_str, stop, skipped = 0, 0, False, None, None
            while stop is None:
                j = pos + i
                if in_str:
                    m = _STR_END.search(buf, j)
                    if m and m.group() == "\\" and m.end() < len(buf):
                        i = m.end() + 1 - pos
                        continue
                    if m and m.group() == '"':
                        in_str, i = False, m.end() - pos
                        continue
                    if m and m.group() != "\\":  # a raw line break: an unclosed string, which ends here
                        nl = m.start() - pos
                        line = buf[j : m.start()].rstrip()
                        if line.endswith(","):  # one element per line: the ',' ends it if an element comes next
                            comma = j + len(line) - 1 - pos
                            while buf.find("\n", pos + nl + 1) < 0 and more():
                                pass
                            if _element_starts(decoder, buf, pos + nl + 1):
                                stop = comma
                                break
                        in_str, i = False, nl + 1
                        continue
                    i = (m.start() if m else len(buf)) - pos
                else:
                    m = _STRUCT.search(buf, j)
                    if m:
                        c, k = m.group(), m.start()
                        if c == '"':
                            in_str = True
                        elif c in "[{":
                            depth += 1
                        elif c == "}":
                            depth = max(0, depth - 1)
                        elif depth == 0:  # a top-level ',' or the array's ']'
                            stop = k - pos
                            break
                        elif c == "]":
                            depth -= 1
                        i = k + 1 - pos
                        continue
                    i = len(buf) - pos
                if skipped is None and i > max_element_chars:
                    skipped = 0  # too large: read on to its end keeping none of it (the scan's state is kept)
                if skipped is not None:
                    pos, skipped, i = pos + i, skipped + i, 0
                if not more(chunk_size if skipped is None else _SKIP_CHUNK):
                    if skipped is not None:
                        raise BadInput(
                            f"{name!r}: element {index} is longer than {max_element_chars} characters and the file "
                            "ends before it does (a bracket or string in it is never closed); the rest of the file "
                            "is refused"
                        )
                    raise BadInput(
                        f"{name!r}: element {index} is not valid JSON and the file ends before it does (truncated "
                        "file, or a bracket or string in it is never closed); the rest of the file is refused"
                    )
            if skipped is not None:
                yield index, None, too_large(f"element {index}", skipped + stop, max_element_chars, "characters")
                index += 1
                pos += stop
                continue
            text = buf[pos : pos + stop]
            bad = _BAD_BYTE.search(text)
            if bad:
                yield index, None, _bad_byte_reason(f"element {index}", bad, 0)
            else:
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as err:
                    yield (
                        index,
                        None,
                        f"malformed JSON: element {index} is not valid JSON: {err.msg} (character {err.pos + 1})",
                    )
                else:
                    yield index, value, None
            index += 1
            pos += stop


def iter_json_array(path: str | os.PathLike, chunk_size: int = 1 << 16) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, element)`` from a top-level JSON array without loading the file.

    Strict: the first malformed element raises :class:`BadInput` naming its index (readers of image-caption
    pairs use :func:`iter_json_array_records`, which rejects it and reads on).
    """
    for index, value, error in iter_json_array_records(path, chunk_size):
        if error:
            raise BadInput(f"{os.fspath(path)!r}: {error}")
        yield index, value


def _jsonl_lines(fh, cap: int) -> Iterator[tuple[int, bytes | None, int]]:
    """``(index, line, size)`` per line of a binary file; ``line`` is ``None`` for a line longer than ``cap`` bytes,
    which is read past in chunks and never held (memory: ``cap`` plus a chunk, whatever the line's length)."""
    index = 0
    while True:
        raw = fh.readline(cap + 1)
        if not raw:
            return
        if len(raw) > cap and not raw.endswith(b"\n"):
            size = len(raw)
            del raw
            while chunk := fh.readline(_SKIP_CHUNK):
                size += len(chunk)
                if chunk.endswith(b"\n"):
                    break
            yield index, None, size
        else:
            yield index, raw, len(raw)
        index += 1


def iter_json_records(
    path: str | os.PathLike, max_record_bytes: int | None = None
) -> Iterator[tuple[int, Any, str | None]]:
    """Yield ``(index, record, reason)`` from a .json array or a .jsonl file; a bad record gives a reason.

    A UTF-8 byte-order mark is skipped. A JSONL line that is not UTF-8 or not JSON is one rejection naming
    its line number; a malformed array element names its index (:func:`iter_json_array_records`). A record longer
    than ``max_record_bytes`` (default :data:`MAX_RECORD_BYTES`) is one rejection naming the cap, read past in
    bounded memory (a JSONL line in bytes, an array element in characters).
    """
    path = Path(path)
    cap = MAX_RECORD_BYTES if max_record_bytes is None else max_record_bytes
    if path.suffix != ".jsonl":
        yield from iter_json_array_records(path, max_element_chars=cap)
        return
    with open(path, "rb") as fh:
        for index, raw, size in _jsonl_lines(fh, cap):
            if raw is None:
                yield index, None, too_large(f"line {index + 1}", size, cap)
                continue
            if index == 0 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                yield (
                    index,
                    None,
                    (
                        f"not UTF-8: line {index + 1} has byte 0x{raw[err.start]:02x} at byte {err.start + 1} "
                        "that does not decode"
                    ),
                )
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                yield (
                    index,
                    None,
                    f"malformed JSON: line {index + 1} is not valid JSON: {err.msg} (column {err.colno})",
                )
                continue
            yield index, record, None
