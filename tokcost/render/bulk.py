"""Text of numpy columns in bulk: every column of a chunk of rows becomes a byte matrix (one row of text per row,
padded with zero bytes) in a few numpy operations, the matrices are laid side by side with their separators, and
the zero bytes are squeezed out once. No per-row Python: the formatting alone runs at 1.5-3 million rows a second.

The strings are exactly those Python writes itself, so the bulk output is byte for byte the row-by-row one:

* text, whole numbers and booleans have few distinct values: each is formatted once (by Python) and gathered;
  adjacent columns in long runs (a sweep's slow axes: model, chip, size, batch, and memory per block of steps)
  become one table, each run's text written once (by Python) and copied run by run;
* literal text (separators, JSON keys) is written once per slice and broadcast to every row;
* floats are written to 6 significant digits, either as ``"%.6g" % x`` (:data:`G6`) or as ``repr`` of ``x``
  rounded to 6 significant digits (:data:`REPR6`, the JSON form). Each value's 6 digits come from integer
  arithmetic; its layout (sign, exponent, how many digits survive the trailing-zero strip) has few forms, and each
  form is taken from Python's own formatting of one stand-in value with the same layout, whose digits are then
  replaced by the row's. Values whose rounding floating point cannot settle (within 1e-6 of a tie), and
  magnitudes outside 1e-17..1e27, are formatted one by one by Python instead.

A zero byte marks padding, so text holding a NUL character is refused (a sweep's labels never do).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

G6 = "g6"  # "%.6g" % x
REPR6 = "repr6"  # repr(x rounded to 6 significant digits): what json.dumps writes for the rounded float

_POW10 = 10.0 ** np.arange(0, 23)  # exact in binary floating point up to 1e22
_E_MIN, _E_MAX = -17, 27  # decimal exponents whose scaling by _POW10 is one correctly rounded operation
_KEYS = (_E_MAX - _E_MIN + 1) * 16  # (exponent, sign, kept digits) -> key; then the special values
_NAN, _POS_ZERO, _NEG_ZERO, _POS_INF, _NEG_INF, _ONE_BY_ONE = range(_KEYS, _KEYS + 6)


@dataclass(frozen=True)
class TextStyle:
    """How one output format writes each kind of value (see :func:`lines`)."""

    text: Callable[[str], str]  # a label, quoted or escaped as the format needs
    missing: str  # NaN: a value that does not apply
    floats: str  # G6 | REPR6
    booleans: tuple[str, str]  # (false, true)


def round_sig(a: np.ndarray, digits: int = 6) -> np.ndarray:
    """Round to ``digits`` significant digits (the estimates carry a +-30% band; 17 digits would be noise)."""
    return _rounding(a, digits)[0]


def _rounding(a: np.ndarray, digits: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(``round_sig(a)``, the whole number of its ``digits`` digits, its decimal exponent as estimated)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        exp = np.where(a == 0, 0, np.floor(np.log10(np.abs(np.where(a == 0, 1, a)))))
        scale = 10.0 ** (digits - 1 - exp)
        whole = np.round(a * scale)
        return np.where(np.isfinite(a), whole / scale, a), whole, exp


# ------------------------------------------------------------------------------------------- columns

SLICE_ROWS = 32768  # rows whose columns are formatted at a time (a few MB of arrays: flat in memory)
_MERGE_LIMIT = 4_096  # adjacent table columns merge while their distinct combinations stay this few
_PART_ZEROS = 2_048  # a part of a slice costs about as much fixed work as squeezing this many zero bytes
# A block of text is laid out and squeezed at most this large: the allocator then hands the same memory out again
# (a JSON Lines slice of 5 MB took fresh pages every time: 160,000 page faults, a tenth of the CPU time)
_BLOCK_BYTES = 1 << 19
_MAX_PARTS = 512  # a slice whose tables change length more often than this is laid out whole


@dataclass(frozen=True)
class Field:
    """One column of output: its values, their kind (text | int | float | bool), and the literal text written
    before and after each value (a separator, a JSON key)."""

    values: np.ndarray
    kind: str
    before: str = ""
    after: str = ""


def lines(fields: Sequence[Field], style: TextStyle) -> Iterator[bytearray]:
    """The rows' UTF-8 text, a few pieces per slice of SLICE_ROWS rows: for each row, every field's ``before + value
    + after`` in order."""
    rows = len(fields[0].values) if fields else 0
    for start in range(0, rows, SLICE_ROWS):
        yield from _lines(fields, style, slice(start, min(rows, start + SLICE_ROWS)))


def _lines(fields: Sequence[Field], style: TextStyle, rows: slice) -> Iterator[bytearray]:
    # the row's pieces: literal text (the same every row: separators, JSON keys), a float column laid out by
    # float_matrix, or (codes, strings) of columns with few distinct values (literal text next to it joins it)
    pieces: list = []
    group: list[tuple[Field, np.ndarray]] = []  # adjacent columns whose values change together, in long runs
    change = np.zeros(0, dtype=bool)  # the rows where a value of the group changes
    n = 0
    for f in fields:
        a = np.asarray(f.values)[rows]
        n = len(a)
        mine = _changes(a, f.kind)
        if group:
            joint = change | mine
            if np.count_nonzero(joint) * 16 <= n:
                group.append((f, a))
                change = joint
                continue
            _add_table(pieces, _run_table(group, change, style))
            group = []
        if n and np.count_nonzero(mine) * 16 <= n:  # long runs (a sweep's slow axes): a group of its own
            group, change = [(f, a)], mine
        elif f.kind == "float":
            _add_literal(pieces, f.before)
            pieces.append(a)
            _add_literal(pieces, f.after)
        else:  # short runs, few values (a sweep's fastest axis): each distinct value written once
            codes, table = _codes(a, f.kind, style)
            _add_table(pieces, (codes, [f.before + t + f.after for t in table]))
    if group:
        _add_table(pieces, _run_table(group, change, style))
    # every other padded piece right-aligned: its padding then adjoins the previous one's
    # ("text", one-row matrix: the same every row) | ("table", table, codes, right) | ("float", matrix, extents, right)
    mats: list = []
    for p in pieces:
        right = len(mats) % 2 == 1
        if isinstance(p, str):
            mats.append(("text", _table([p])))
        elif isinstance(p, tuple):
            mats.append(("table", _table(p[1], right), p[0], right))
        else:
            mats.append(("float", *_floats(p, style, right), right))
    fixed = sum(m[1].shape[1] for m in mats if m[0] != "table")
    for part, widths in _parts(mats, n):
        step = max(1, _BLOCK_BYTES // (fixed + sum(widths)))
        for start in range(part.start, part.stop, step):
            yield _block(mats, slice(start, min(part.stop, start + step)), widths)


def _parts(mats: list, n: int) -> list[tuple[slice, list[int]]]:
    """The slice's rows cut where a table's text changes length (a sweep's slow axes: sizes and batches with more
    digits), each part with the width each table needs in it: the padding to squeeze out shrinks to what the floats
    need. Parts merge while that adds fewer than _PART_ZEROS zero bytes (a part costs some fixed work). A table
    whose length changes every few rows (a fast axis) does not cut: it keeps its full width."""
    tables = [m for m in mats if m[0] == "table"]
    full = [m[1].shape[1] for m in tables]
    lengths: dict[int, np.ndarray] = {}  # table number -> each row's text length, for the tables that cut
    cut = np.zeros(n, dtype=bool)
    for t, m in enumerate(tables):
        length = np.count_nonzero(m[1], axis=1).astype(np.int32)[m[2]]
        changed = length[1:] != length[:-1]
        if np.count_nonzero(changed) * 256 <= n:  # seldom enough that parts stay long (each costs fixed work)
            lengths[t] = length
            cut[1:] |= changed
    starts = np.flatnonzero(cut)
    if not lengths or len(starts) > _MAX_PARTS:  # one part: every table at its full width
        return [(slice(0, n), full)]
    bounds = [0, *starts.tolist(), n]
    firsts = {t: length[bounds[:-1]].tolist() for t, length in lengths.items()}  # constant within a part

    def widths(k: int) -> list[int]:
        return [firsts[t][k] if t in firsts else w for t, w in enumerate(full)]

    parts = []
    begin, width, size = 0, widths(0), bounds[1]
    for k in range(1, len(bounds) - 1):
        w = widths(k)
        rows = bounds[k + 1] - bounds[k]
        wider = [max(a, b) for a, b in zip(width, w)]
        added = (sum(wider) - sum(width)) * size + (sum(wider) - sum(w)) * rows
        if added <= _PART_ZEROS:
            width, size = wider, size + rows
        else:
            parts.append((slice(begin, bounds[k]), width))
            begin, width, size = bounds[k], w, rows
    parts.append((slice(begin, n), width))
    return parts


def _block(mats: list, rows: slice, table_widths: list[int]) -> bytearray:
    """The text of ``rows``: every piece laid side by side in one zero-padded byte matrix, the zero bytes then
    squeezed out. The matrix lives in a bytearray, squeezed with no copy to bytes first."""
    widths = iter(table_widths)
    spans = [
        next(widths) if m[0] == "table" else int(m[2][rows].max()) if m[0] == "float" else m[1].shape[1] for m in mats
    ]
    count = rows.stop - rows.start
    buffer = bytearray(count * sum(spans))
    block = np.frombuffer(buffer, dtype=np.uint8).reshape(count, sum(spans))
    end = 0
    for m, width in zip(mats, spans):
        out = block[:, end : end + width]
        end += width
        if m[0] == "table":
            _, table, codes, right = m
            # the table's strings as wide as this part's longest: padding cut from the side it is on
            _gather(table[:, table.shape[1] - width :] if right else table[:, :width], codes[rows], out=out)
        elif m[0] == "text":
            out[...] = m[1]
        else:  # floats as wide as these rows' longest
            _, floats, _, right = m
            out[...] = floats[rows, floats.shape[1] - width :] if right else floats[rows, :width]
    sample = block[:1024]  # the rows' shapes repeat: a sample tells how dense the padding is
    sparse = (sample.size - np.count_nonzero(sample)) * 36 < sample.size
    del block, sample, out  # no view of the buffer left behind
    # squeeze out the padding: replace() costs ~14 ns a zero byte (a search and a copy each), translate() ~0.4 ns a
    # byte: replace is faster while fewer than ~1 byte in 36 is padding. Same bytes either way.
    return buffer.replace(b"\0", b"") if sparse else buffer.translate(None, b"\0")


def _gather(table: np.ndarray, codes: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = table[codes[i]]``: run by run where the codes come in long runs (a sweep's slow axes: a broadcast
    copy each, no temporary matrix), else in one gather."""
    starts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    if len(starts) * 64 > len(codes):  # straight into out (mode "clip" takes no temporary; every code is in range)
        np.take(table, codes, axis=0, out=out, mode="clip")
        return
    bounds = [0, *starts.tolist(), len(codes)]
    for start, stop, code in zip(bounds, bounds[1:], codes[bounds[:-1]].tolist()):
        out[start:stop] = table[code]


def _changes(a: np.ndarray, kind: str) -> np.ndarray:
    """Whether each row starts a run of equal values (the first row does). Numbers compare by bit pattern: NaN is
    one value, -0.0 and 0.0 are two (they are written differently)."""
    change = np.empty(len(a), dtype=bool)
    change[:1] = True
    if a.ndim == 1 and a.strides == (0,):  # one value broadcast to every row (a sweep chunk's model, chip, engine)
        change[1:] = False
        return change
    v = a if kind == "text" else np.ascontiguousarray(a, dtype=float).view(np.int64)
    np.not_equal(v[1:], v[:-1], out=change[1:])
    return change


def _run_table(group: list[tuple[Field, np.ndarray]], change: np.ndarray, style: TextStyle) -> tuple:
    """(codes, strings) of adjacent columns by their joint runs: each run's values written once, as the by-value
    tables write them."""
    starts = np.flatnonzero(change)
    codes = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(change))))
    columns = []
    for f, a in group:
        firsts = a[starts]
        if f.kind == "text":
            texts = _each_once(firsts.tolist(), lambda v: style.text(str(v)))
        elif f.kind == "int":
            whole = np.asarray(firsts, dtype=float).tolist()
            texts = _each_once(whole, lambda v: style.missing if v != v else str(int(v)))
        elif f.kind == "bool":
            texts = [style.booleans[int(v)] for v in firsts.astype(bool).tolist()]
        elif f.kind == "float":
            x = np.asarray(firsts, dtype=float)
            texts = [_one(v, style) for v in (round_sig(x) if style.floats == REPR6 else x).tolist()]
        else:
            raise ValueError(f"unknown column kind {f.kind!r}")
        columns.append([f.before + t + f.after for t in texts])
    return codes, ["".join(row) for row in zip(*columns)]


def _each_once(values: list, text: Callable) -> list[str]:
    """``[text(v) for v in values]``, each distinct value written once (not for floats: 0.0 == -0.0)."""
    done: dict = {}
    return [done[v] if v in done else done.setdefault(v, text(v)) for v in values]


def _add_table(pieces: list, part: tuple) -> None:
    """A table after the pieces so far: a literal before it joins its strings; it merges with a table before it
    while their distinct combinations stay few."""
    codes, strings = part
    if pieces and isinstance(pieces[-1], str):
        before = pieces.pop()
        strings = [before + s for s in strings]
    if pieces and isinstance(pieces[-1], tuple):
        merged = _merge(pieces[-1], (codes, strings))
        if merged is not None:
            pieces[-1] = merged
            return
    pieces.append((codes, strings))


def _add_literal(pieces: list, text: str) -> None:
    """Literal text after the pieces so far: it joins the strings of a table or the literal before it."""
    if not text:
        return
    if pieces and isinstance(pieces[-1], tuple):
        codes, strings = pieces[-1]
        pieces[-1] = (codes, [s + text for s in strings])
    elif pieces and isinstance(pieces[-1], str):
        pieces[-1] += text
    else:
        pieces.append(text)


def _codes(a: np.ndarray, kind: str, style: TextStyle) -> tuple[np.ndarray, list[str]]:
    if kind == "text":
        return _text_codes(a, style.text)
    if kind == "int":
        return _int_codes(a, style.missing)
    if kind == "bool":
        return a.astype(bool).view(np.uint8), list(style.booleans)
    raise ValueError(f"unknown column kind {kind!r}")


def _merge(left: tuple, right: tuple) -> tuple | None:
    """Two adjacent table columns as one (their strings joined), if their distinct combinations are few."""
    (lc, lt), (rc, rt) = left, right
    if len(lt) * len(rt) > 1 << 22:
        return None
    combined = lc * len(rt) + rc
    present = np.flatnonzero(np.bincount(combined, minlength=len(lt) * len(rt)))
    if len(present) > _MERGE_LIMIT:
        return None
    lookup = np.zeros(len(lt) * len(rt), dtype=np.intp)
    lookup[present] = np.arange(len(present))
    return lookup[combined], [lt[p // len(rt)] + rt[p % len(rt)] for p in present.tolist()]


def _table(strings: Sequence[str], right: bool = False) -> np.ndarray:
    """(len(strings), w) uint8 of UTF-8 bytes, zero-padded after the text (before it if ``right``: a zero byte
    never occurs inside UTF-8 text)."""
    if any("\0" in s for s in strings):
        raise ValueError("text written in bulk cannot hold a NUL character (a zero byte marks padding)")
    encoded = [s.encode("utf-8") for s in strings] or [b""]
    width = max(1, *map(len, encoded))
    if right:
        encoded = [e.rjust(width, b"\0") for e in encoded]
    return np.array(encoded, dtype=f"S{width}").view(np.uint8).reshape(len(encoded), width)


def label_codes(a: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """(codes, labels) of a label column: ``labels[codes[i]] == a[i]`` (a label may repeat in ``labels``)."""
    return _text_codes(a, str)


def _text_codes(a: np.ndarray, text: Callable[[str], str]) -> tuple[np.ndarray, list[str]]:
    """Codes of a label column by runs of equal values (a sweep's labels come in long runs: one model, chip and
    engine per chunk, one size per block of rows); each run's label is formatted once."""
    if len(a) == 0:
        return np.zeros(0, dtype=np.intp), []
    codes, firsts = _run_codes(a, every=True)
    return codes, [text(str(v)) for v in firsts.tolist()]


def _run_codes(a: np.ndarray, every: bool = False):
    """(codes, each run's value) of ``a`` by runs of equal neighbours; None when the runs are short (fewer than 16
    rows on average) unless ``every``."""
    change = np.empty(len(a), dtype=bool)
    change[0] = True
    np.not_equal(a[1:], a[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    if not every and len(starts) * 16 > len(a):
        return None
    lengths = np.diff(np.append(starts, len(a)))
    return np.repeat(np.arange(len(starts)), lengths), a[starts]


def _int_codes(a: np.ndarray, missing: str) -> tuple[np.ndarray, list[str]]:
    """Codes of a whole-number column (NaN: missing) by value: each distinct number is formatted once."""
    v = np.asarray(a, dtype=float)
    if not len(v):
        return np.zeros(0, dtype=np.intp), []
    nan = np.isnan(v)
    runs = _run_codes(np.where(nan, -np.inf, v))  # NaN: a value of its own
    if runs is not None:  # long runs (a sweep's slow axes): each run's number is formatted once
        codes, firsts = runs
        return codes, [missing if f == -np.inf else str(int(f)) for f in firsts.tolist()]
    whole = np.where(nan, 0.0, v).astype(np.int64)
    lo = int(whole.min())
    span = int(whole.max()) - lo + 1
    if span > 1 << 20:  # too spread out for a table by value: sort instead
        uniq, codes = np.unique(whole, return_inverse=True)
        table = [str(int(u)) for u in uniq.tolist()]
        codes = codes.ravel()
    else:  # a lookup by value: no sort
        present = np.flatnonzero(np.bincount(whole - lo, minlength=span))
        lookup = np.zeros(span, dtype=np.intp)
        lookup[present] = np.arange(len(present))
        codes = lookup[whole - lo]
        table = [str(lo + k) for k in present.tolist()]
    if not nan.any():  # no "missing" entry: it would widen the table (and its padding) for nothing
        return codes, table
    return np.where(nan, len(table), codes), [*table, missing]


# ------------------------------------------------------------------------------------------- floats


def float_matrix(values: np.ndarray, style: TextStyle, right: bool = False) -> np.ndarray:
    """(n, w) uint8: row i holds ``values[i]`` to 6 significant digits (module docstring), zero-padded after the
    text (before it if ``right``)."""
    return _floats(values, style, right)[0]


def _floats(values: np.ndarray, style: TextStyle, right: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`float_matrix`, and how many of each row's columns its layout takes (from the side it is aligned to):
    a block of rows needs only its own longest."""
    x = np.asarray(values, dtype=float)
    if style.floats == REPR6:
        x, whole, exp = _rounding(x)
    mag = np.abs(x)
    normal = np.isfinite(x) & (mag > 0)
    finite_mag = np.where(normal, mag, 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if style.floats == REPR6:  # the rounding's own digits: repr writes them where the rounded value is the
            m, e, settled = _rounded_mantissas(whole, exp, normal)  # double nearest their decimal
            settled &= _scaled(m.astype(float), e - 5) == finite_mag
        else:
            m, e, settled = _mantissas(finite_mag)
    high, low = np.divmod(m, 1000)  # the mantissa's first and last three digits
    kept = np.where(low != 0, 6 - _TRAILING_ZEROS[low], 3 - _TRAILING_ZEROS[high])  # digits left after the strip
    key = (e - _E_MIN) * 16 + np.signbit(x) * 8 + kept
    key[~(normal & settled)] = _ONE_BY_ONE
    if not normal.all():
        key[np.isnan(x)] = _NAN
        key[mag == 0] = np.where(np.signbit(x[mag == 0]), _NEG_ZERO, _POS_ZERO)
        key[np.isinf(x)] = np.where(x[np.isinf(x)] > 0, _POS_INF, _NEG_INF)

    counts = np.bincount(key, minlength=_ONE_BY_ONE + 1)
    shared = {k: _shared_layout(k, style) for k in np.flatnonzero(counts).tolist()}
    if any(k != s for k, s in shared.items()):  # layouts that differ only in kept digits: one stamp
        lookup = np.arange(_ONE_BY_ONE + 1)
        lookup[list(shared)] = list(shared.values())
        key = lookup[key]
        counts = np.bincount(key, minlength=_ONE_BY_ONE + 1)
    present = np.flatnonzero(counts).tolist()
    layouts = {k: _layout(k, style) for k in present if k != _ONE_BY_ONE}
    by_hand = np.flatnonzero(key == _ONE_BY_ONE) if _ONE_BY_ONE in present else np.zeros(0, dtype=np.intp)
    singles = [_one(v, style).encode("utf-8") for v in x[by_hand].tolist()]
    width = max(1, *map(len, layouts.values()), *map(len, singles))
    # the 6 digits' characters, three to a little-endian 32-bit word: bytes 0-2 and 4-6 of a row; 3 and 7 are zero,
    # and so are the trailing zero digits the format strips (a zero byte is squeezed out like padding)
    words = np.empty((x.size, 2), dtype="<u4")
    words[:, 0] = np.where(low != 0, _THREE_DIGITS[high], _THREE_DIGITS_KEPT[high])
    words[:, 1] = _THREE_DIGITS_KEPT[low]
    stamps = {k: _stamp(layout, width, right) for k, layout in layouts.items()}
    out = np.empty((x.size, width), dtype=np.uint8)  # every row is written below
    if stamps:  # every row in the most common layout first (most rows of a column share one)...
        common = max(stamps, key=lambda k: counts[k])
        pick, literal = stamps[common]
        _print(out, words.view(np.uint8).reshape(-1, 8), pick, literal)
        counts[common] = 0
    rest = np.flatnonzero(key != common) if stamps else np.arange(x.size)
    if rest.size:  # ...then the others, sorted by layout (a stable radix sort of small keys): a block each
        order = rest[np.argsort(key[rest].astype(np.int16), kind="stable")]
        digits = words.view(np.uint64).ravel()[order].view(np.uint8).reshape(-1, 8)
        block = np.empty((order.size, width), dtype=np.uint8)  # the rows by hand are written below
        ends = np.cumsum(counts)
        for k, (pick, literal) in stamps.items():
            if counts[k]:
                rows = slice(ends[k] - counts[k], ends[k])
                _print(block[rows], digits[rows], pick, literal)
        out[order] = block
    extent = np.zeros(_ONE_BY_ONE + 1, dtype=np.int16)
    extent[list(layouts)] = [len(layout) for layout in layouts.values()]
    extents = extent[key]
    for i, s in zip(by_hand.tolist(), singles):
        out[i] = 0
        (out[i, width - len(s) :] if right else out[i, : len(s)])[:] = np.frombuffer(s, dtype=np.uint8)
        extents[i] = len(s)
    return out, extents


def _print(out: np.ndarray, digits: np.ndarray, pick: np.ndarray, literal: np.ndarray) -> None:
    """Rows of one layout: its literal characters, then each digit's column from the rows' ``digits`` (the bytes of
    ``words``), a column at a time (cheaper than gathering every column through ``pick``)."""
    out[...] = literal
    for col in np.flatnonzero(pick != 3).tolist():
        out[:, col] = digits[:, pick[col]]


def _stamp(layout: Sequence, width: int, right: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(pick, literal) of a layout: the byte of ``words`` that goes in each column (3: a zero), and the literal
    characters (0 where a digit goes); the layout starts at column 0, or ends at the last one if ``right``."""
    pick = np.full(width, 3, dtype=np.intp)
    literal = np.zeros(width, dtype=np.uint8)
    for col, ch in enumerate(layout, start=width - len(layout) if right else 0):
        if isinstance(ch, int):
            pick[col] = _DIGIT_BYTE[ch]
        else:
            literal[col] = ord(ch)
    return pick, literal


_THREE_DIGITS = np.array([int.from_bytes(f"{i:03d}".encode(), "little") for i in range(1000)], dtype="<u4")
_THREE_DIGITS_KEPT = np.array(
    [int.from_bytes(f"{i:03d}".rstrip("0").encode(), "little") for i in range(1000)], dtype="<u4"
)  # trailing zeros as zero bytes
_DIGIT_BYTE = (0, 1, 2, 4, 5, 6)  # where digit i of a mantissa sits in its row of ``words``
_TRAILING_ZEROS = np.array([len(f"{i:03d}") - len(f"{i:03d}".rstrip("0")) for i in range(1000)], dtype=np.int64)
# 10^p as a multiplier (p >= 0) and a divisor (p < 0), p = -22..22: x * MUL[p] / DIV[p] is x * 10^p rounded once
_MUL = np.concatenate([np.ones(22), _POW10])
_DIV = np.concatenate([_POW10[:0:-1], np.ones(23)])


def _mantissas(mag: np.ndarray):
    """(m, e, settled): ``mag`` ~ m x 10^(e - 5) with m the 6-digit integer nearest, and whether floating point
    settles that rounding (not within 1e-6 of a tie, exponent within the exactly scaled range)."""
    e = np.clip(np.floor(np.log10(mag)), _E_MIN - 1, _E_MAX + 1).astype(np.int64)
    q = _scaled(mag, 5 - e)
    off = (q >= 1e6).astype(np.int64) - (q < 1e5)  # log10 may be one off next to a power of ten
    if off.any():
        e += off
        q = _scaled(mag, 5 - e)
    m = np.rint(q)
    settled = (np.abs(q - np.floor(q) - 0.5) > 1e-6) & (q >= 99_999.5) & (q < 1e6)
    carry = m >= 1e6  # 999999.7 rounds to 1000000: one more digit before the point
    m[carry] = 1e5
    e += carry
    settled &= (e >= _E_MIN) & (e <= _E_MAX)
    return m.astype(np.int64), e, settled


def _rounded_mantissas(whole: np.ndarray, exp: np.ndarray, normal: np.ndarray):
    """(m, e, settled) of values rounded by :func:`_rounding`: m its whole number of 6 digits (1000000, a carry, is
    100000 one exponent up); settled where m has 6 digits (the exponent estimate was right) and e is in range.
    Whether each value is the double nearest m x 10^(e - 5) is for the caller to check."""
    m = np.where(normal, np.abs(whole), 1e5)
    e = np.where(normal, exp, 0).astype(np.int64)
    carry = m == 1e6
    m[carry] = 1e5
    e += carry
    return m.astype(np.int64), e, (m >= 1e5) & (m < 1e6) & (e >= _E_MIN) & (e <= _E_MAX)


def _scaled(mag: np.ndarray, p: np.ndarray) -> np.ndarray:
    """mag x 10^p in one correctly rounded operation (a multiplication or a division by an exact power)."""
    i = np.clip(p, -22, 22) + 22
    return mag * _MUL[i] / _DIV[i]


_STAND_IN = "123456"  # distinct non-zero digits: each one in the formatted stand-in marks where a digit goes


@functools.lru_cache(maxsize=4096)
def _layout(key: int, style: TextStyle) -> tuple:
    """The characters of one layout: an int i is "the row's digit i", a str is itself."""
    specials = {
        _NAN: None,
        _POS_ZERO: 0.0,
        _NEG_ZERO: -0.0,
        _POS_INF: float("inf"),
        _NEG_INF: float("-inf"),
        _ONE_BY_ONE: None,
    }
    if key >= _KEYS:
        v = specials[key]
        return tuple(style.missing if key == _NAN else "" if v is None else _one(v, style))
    e, rest = divmod(key, 16)
    negative, kept = divmod(rest, 8)
    digits = _STAND_IN[:kept].ljust(6, "0")
    text = _one(float(f"{'-' if negative else ''}{digits}e{e + _E_MIN - 5}"), style)
    mantissa, _, exponent = text.partition("e")
    out: list = [int(c) - 1 if c in _STAND_IN else c for c in mantissa]
    if [c for c in out if isinstance(c, int)] != list(range(kept)):
        raise AssertionError(f"unexpected layout {text!r} for key {key}")  # a bug here, never bad input
    return (*out, *("e" + exponent if exponent else ""))


@functools.lru_cache(maxsize=4096)
def _shared_layout(key: int, style: TextStyle) -> int:
    """The key whose layout writes ``key``'s values too: that of all 6 digits kept, when dropping the digits past
    ``key``'s (zero bytes in ``words``) leaves exactly ``key``'s layout (1.2e-05 and 1.23457e-05), else ``key``."""
    if key >= _KEYS:
        return key
    kept = key % 8
    full = key - kept + 6
    dropped = tuple(c for c in _layout(full, style) if not (isinstance(c, int) and c >= kept))
    return full if dropped == _layout(key, style) else key


def _one(v: float, style: TextStyle) -> str:
    """One value as Python writes it (the reference the bulk path reproduces)."""
    if v != v:
        return style.missing
    if style.floats == G6:
        return f"{v:.6g}"  # the same as "%.6g" % v, which the CSV writer used
    if v in (float("inf"), float("-inf")):
        raise ValueError("Out of range float values are not JSON compliant: " + repr(v))
    return repr(v)
