"""A sweep as Apache Parquet, for pandas, polars and DuckDB users loading millions of rows (optional extra:
``pip install 'tokcost[parquet]'``, which brings pyarrow; nothing imports it until a Parquet file is written).

One row group per chunk of priced rows, written with :class:`pyarrow.parquet.ParquetWriter` as the chunks come, so
memory stays flat at any size. The columns and their types follow :data:`~tokcost.records.sweep.COLUMN_KINDS`:
labels are dictionary-encoded strings (a pandas categorical), whole numbers int64, floats float64, fits a boolean;
a value that does not apply (CSV's empty field, JSON's null) is null."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from tokcost.errors import UsageError
from tokcost.records.sweep import COLUMN_KINDS, COLUMNS, SweepResult
from tokcost.render.bulk import label_codes

NEEDS_PYARROW = "--format parquet needs pyarrow: pip install 'tokcost[parquet]'"


def pyarrow_modules():
    """(pyarrow, pyarrow.parquet), or a usage error that says how to install them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise UsageError(NEEDS_PYARROW) from exc
    return pyarrow, pyarrow.parquet


def parquet_pieces(chunks: Iterable[dict]) -> Iterator[bytes]:
    """The bytes of one Parquet file holding every chunk of rows (a row group each), as the writer produces them."""
    pa, pq = pyarrow_modules()
    sink = _Pieces()
    schema = pa.schema([(c, _arrow_type(pa, COLUMN_KINDS[c])) for c in COLUMNS])
    with pq.ParquetWriter(sink, schema) as writer:
        for columns in chunks:
            writer.write_table(
                pa.Table.from_arrays([_arrow(pa, columns[c], COLUMN_KINDS[c]) for c in COLUMNS], schema=schema)
            )
            yield from sink.drain()
    yield from sink.drain()


def format_parquet(result: SweepResult) -> bytes:
    """An in-memory sweep as the bytes of a Parquet file."""
    return b"".join(parquet_pieces([result.columns]))


def _arrow_type(pa, kind: str):
    return {
        "text": pa.dictionary(pa.int32(), pa.string()),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
    }[kind]


def _arrow(pa, values: np.ndarray, kind: str):
    if kind == "text":
        codes, labels = label_codes(np.asarray(values))
        return pa.DictionaryArray.from_arrays(codes.astype(np.int32), pa.array(labels, type=pa.string()))
    if kind == "bool":
        return pa.array(np.asarray(values, dtype=bool))
    a = np.asarray(values, dtype=float)
    missing = np.isnan(a)
    if kind == "int":
        return pa.array(np.where(missing, 0, a).astype(np.int64), mask=missing)
    return pa.array(a, mask=missing)


class _Pieces:
    """A write-only file for ParquetWriter that hands its bytes on instead of keeping them."""

    def __init__(self) -> None:
        self.pieces: list[bytes] = []
        self.written = 0
        self.closed = False

    def write(self, data) -> int:
        piece = bytes(data)
        self.pieces.append(piece)
        self.written += len(piece)
        return len(piece)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> Iterator[bytes]:
        pieces, self.pieces = self.pieces, []
        yield from pieces
