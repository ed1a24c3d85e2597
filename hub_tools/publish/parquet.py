"""Size-bounded parquet shards with ``datasets`` features and embedded image bytes.

:class:`ShardedParquetWriter` streams rows into ``<folder>/<split>-NNNNN-of-MMMMM.parquet`` with a
``pyarrow.parquet.ParquetWriter``: rows are buffered only up to one row group, a new shard starts
before the running payload estimate would pass ``max_shard_bytes``, and the ``datasets`` features
travel in the schema metadata so ``load_dataset`` decodes ``Image`` columns. Image cells are
``{"bytes": ..., "path": name}`` with the bytes embedded, never a path to a local file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

DEFAULT_MAX_SHARD_BYTES = 500 * 1000 * 1000
ROWS_PER_GROUP = 100
"""Row-group size for image datasets (what ``datasets`` uses), so readers can stream a shard."""

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def parse_size(text: str | int) -> int:
    """Parse ``"500MB"``, ``"1.5GB"``, ``"64KiB"`` or a plain byte count into bytes (> 0)."""
    if isinstance(text, int):
        value = text
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", str(text))
        if not m or m.group(2).upper() not in _UNITS:
            raise ValueError(f"cannot read size {text!r}; use e.g. 500MB, 1GB, 64KiB or a byte count")
        value = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if value <= 0:
        raise ValueError(f"size must be positive, got {text!r}")
    return value


def image_cell(data: bytes, name: str) -> dict[str, Any]:
    """The arrow storage of a ``datasets.Image`` with embedded bytes (``path`` is only a file name)."""
    return {"bytes": data, "path": os.path.basename(name)}


class ShardedParquetWriter:
    """Stream rows (already in arrow storage form) into size-bounded parquet shards of one split.

    ``add(row, nbytes)`` takes the row and an estimate of its payload (image bytes + text); call
    :meth:`close` to finish and get the final shard paths. A split with no rows still gets one
    empty shard, so its config loads as an empty dataset instead of failing.
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        split: str,
        features,
        max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
        rows_per_group: int = ROWS_PER_GROUP,
    ):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.split = split
        self.features = features
        self.schema = features.arrow_schema
        self.max_shard_bytes = int(max_shard_bytes)
        self.rows_per_group = rows_per_group
        self.rows = 0
        self._paths: list[Path] = []
        self._writer = None
        self._shard_bytes = 0
        self._buffer: list[dict] = []
        self._buffer_bytes = 0

    def add(self, row: dict[str, Any], nbytes: int) -> None:
        """Append one row; ``nbytes`` is its payload size estimate used for the shard bound."""
        pending = self._shard_bytes + self._buffer_bytes
        if (self._writer is not None or self._buffer) and pending + nbytes > self.max_shard_bytes:
            self._flush()
            self._close_shard()
        self._buffer.append(row)
        self._buffer_bytes += nbytes
        self.rows += 1
        if len(self._buffer) >= self.rows_per_group:
            self._flush()

    def _open_shard(self) -> None:
        import pyarrow.parquet as pq

        path = self.folder / f"{self.split}-{len(self._paths):05d}.parquet.partial"
        self._paths.append(path)
        self._writer = pq.ParquetWriter(path, self.schema)
        self._shard_bytes = 0

    def _flush(self) -> None:
        import pyarrow as pa

        if not self._buffer:
            return
        if self._writer is None:
            self._open_shard()
        table = pa.Table.from_pylist(self._buffer, schema=self.schema)
        self._writer.write_table(table, row_group_size=len(self._buffer))
        self._shard_bytes += self._buffer_bytes
        self._buffer = []
        self._buffer_bytes = 0

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._shard_bytes = 0

    def close(self) -> list[Path]:
        """Flush, close, and rename shards to ``<split>-NNNNN-of-MMMMM.parquet``; return their paths."""
        self._flush()
        if not self._paths:
            self._open_shard()
        self._close_shard()
        total = len(self._paths)
        final = []
        for i, path in enumerate(self._paths):
            target = self.folder / f"{self.split}-{i:05d}-of-{total:05d}.parquet"
            os.replace(path, target)
            final.append(target)
        self._paths = []
        return final

    def abort(self) -> None:
        """Close and delete whatever was written (used when a build fails)."""
        self._buffer = []
        self._close_shard()
        for path in self._paths:
            path.unlink(missing_ok=True)
        self._paths = []


def shard_stats(paths: list[Path]) -> tuple[int, int, int]:
    """``(rows, uncompressed bytes, file bytes)`` of parquet shards, from their footers."""
    import pyarrow.parquet as pq

    rows = nbytes = size = 0
    for path in paths:
        meta = pq.ParquetFile(path).metadata
        rows += meta.num_rows
        nbytes += sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        size += Path(path).stat().st_size
    return rows, nbytes, size


def dataset_info_yaml(features, splits: dict[str, dict[str, list[Path]]]) -> list[dict]:
    """The card's ``dataset_info`` entries (features, per-split rows and bytes) for ``{config: {split: shards}}``.

    ``load_dataset`` checks the split row counts against these on load, and the sizes make its
    cache key change when a folder is rebuilt in place.
    """
    from datasets import DatasetInfo, SplitDict, SplitInfo

    out = []
    for config, by_split in splits.items():
        split_dict = SplitDict()
        download = total = 0
        for split, paths in sorted(by_split.items()):
            rows, nbytes, size = shard_stats(paths)
            split_dict.add(SplitInfo(name=split, num_bytes=nbytes, num_examples=rows))
            download += size
            total += nbytes
        info = DatasetInfo(features=features, splits=split_dict, download_size=download, dataset_size=total)
        out.append({"config_name": config, **info._to_yaml_dict()})
    return out
