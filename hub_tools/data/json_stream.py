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

MAX_JSON_ELEMENT_CHARS = 1 << 26
"""Longest JSON-array element read (64 Mi characters); bounds memory when a broken element never closes."""
_SEP = re.compile(r"[ \t\r\n,]*")
_WS = re.compile(r"[ \t\r\n]*")
_STRUCT = re.compile(r'["\[\]{},]')
_STR_END = re.compile(r'["\\\n\r]')  # a raw newline cannot be inside a JSON string: an unclosed one ends there
_BAD_BYTE = re.compile("[\udc80-\udcff]")  # bytes that do not decode as UTF-8, as errors="surrogateescape" reads them


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
    """
    name = os.fspath(path)
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8-sig", errors="surrogateescape") as fh:
        buf, pos, eof = "", 0, False

        def more() -> bool:  # append to buf (dropping what is before pos); sizes double so long elements stay linear
            nonlocal buf, pos, eof
            if eof:
                return False
            chunk = fh.read(max(chunk_size, len(buf) - pos))
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
                    if bad:
                        yield index, None, _bad_byte_reason(f"element {index}", bad, pos)
                    else:
                        yield index, value, None
                    index += 1
                    pos = end
                    continue
            # slow path: find the element's extent (to the next top-level ',' or the closing ']'), then decode it
            i, depth, in_str, stop = 0, 0, False, None
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
                if i > max_element_chars:
                    raise BadInput(
                        f"{name!r}: element {index} is longer than {max_element_chars} characters (or a bracket or "
                        "string in it is never closed); the rest of the file is refused"
                    )
                if not more():
                    raise BadInput(
                        f"{name!r}: element {index} is not valid JSON and the file ends before it does (truncated "
                        "file, or a bracket or string in it is never closed); the rest of the file is refused"
                    )
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


def iter_json_records(path: str | os.PathLike) -> Iterator[tuple[int, Any, str | None]]:
    """Yield ``(index, record, reason)`` from a .json array or a .jsonl file; a bad record gives a reason.

    A UTF-8 byte-order mark is skipped. A JSONL line that is not UTF-8 or not JSON is one rejection naming
    its line number; a malformed array element names its index (:func:`iter_json_array_records`).
    """
    path = Path(path)
    if path.suffix != ".jsonl":
        yield from iter_json_array_records(path)
        return
    with open(path, "rb") as fh:
        for index, raw in enumerate(fh):
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
