"""Recorded traffic (``demand.trace``, ``tokcost simulate --trace``): a CSV of requests read with the bounded read
every file gets, every malformed row reported at once as ``file:line:col: field: message``.

The file has a header row. ``timestamp`` is required: seconds (a number; seconds since a midnight, so that
``timestamp // 3600 % 24`` is the hour of the day) or an ISO 8601 time, one form for the whole file. An ISO time
with a UTC offset is the instant it names; the hour of the day is the earliest request's own, as written, and the
hours after it follow on from it. Optional columns give each request's size: ``prompt_tokens``, ``answer_tokens``
(positive whole numbers) and ``frames``. Other columns are ignored. A trace spans at most :data:`MAX_TRACE_HOURS`
clock hours. What tokcost derives from it is :func:`derive` (docs/methodology.md, "Recorded traffic")."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
from dataclasses import dataclass

from tokcost.errors import InputError, Problem
from tokcost.io.reading import read_bounded

MAX_TRACE_BYTES = 256 * 2**20  # ~10 million requests of a timestamp and two sizes
MAX_PROBLEMS = 50  # a file that is wrong everywhere: the first 50 problems, then a count
SIZE_COLUMNS = ("prompt_tokens", "answer_tokens", "frames")
SIZE_LIMITS = {"prompt_tokens": 131_072, "answer_tokens": 32_768, "frames": 10_000}  # as the spec's fields
MIN_GAPS_FOR_BURSTINESS = 100
# A year of clock hours, a leap year's: the longest horizon a capacity plan reads its day from (simulate --hours
# allows a year), and a bound on the per-hour counts derive and simulate build from a trace's span.
MAX_TRACE_HOURS = 366 * 24
MAX_SECONDS = 1e12  # a numeric timestamp beyond ~31,700 years is not a time (and loses sub-second precision)


@dataclass(frozen=True)
class Trace:
    """The requests of a trace, sorted by time: seconds from the start of the first request's hour, with the
    hour of the day that hour is, and the size columns present."""

    file: str
    times_s: list[float]
    first_hour_of_day: int
    sizes: dict[str, list[float]]


def load_trace(path: str | os.PathLike, shown: str | None = None) -> Trace:
    """The trace at ``path`` (``shown``: the name problems carry); every problem raises one InputError."""
    name = shown or str(path)
    try:
        raw = read_bounded(os.fspath(path), MAX_TRACE_BYTES)
    except OSError as exc:
        raise InputError([Problem(name, 0, 0, "(file)", exc.strerror or str(exc))]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(name, 0, 0, "(file)", f"not UTF-8 text (byte {exc.start})")]) from None
    records = _records(text, name)
    problems: list[Problem] = []
    if not records or not any(cell.strip() for cell in records[0][1]):
        raise InputError([Problem(name, 1, 1, "timestamp", "empty trace: a header row with a timestamp column")])
    header = [h.strip() for h in records[0][1]]
    if "timestamp" not in header:
        raise InputError([Problem(name, 1, 1, "timestamp", f"no timestamp column (columns: {', '.join(header)})")])
    starts = _column_starts(text)
    for h in ("timestamp", *SIZE_COLUMNS):
        if header.count(h) > 1:
            second = header.index(h, header.index(h) + 1)
            problems.append(Problem(name, 1, _col(starts.get(1, [1]), second), h, "a second column of that name"))
    where = {h: header.index(h) for h in ("timestamp", *SIZE_COLUMNS) if h in header}
    times: list[float] = []
    offsets: list[float] = []
    lines: list[int] = []
    forms: dict[bool, int] = {}  # ISO or not: the first line of each form
    sizes: dict[str, list[float]] = {h: [] for h in SIZE_COLUMNS if h in where}
    for number, row in records[1:]:
        if not row or all(not c.strip() for c in row):
            continue  # a blank line
        cols = starts.get(number, [1])
        if len(row) != len(header):
            problems.append(Problem(name, number, 1, "(row)", f"{len(row)} fields where the header has {len(header)}"))
            continue
        cell = row[where["timestamp"]].strip()
        t = _timestamp(cell)
        if isinstance(t, str):
            problems.append(Problem(name, number, _col(cols, where["timestamp"]), "timestamp", t))
        else:
            seconds, offset, iso = t
            forms.setdefault(iso, number)
            if len(forms) == 2 and forms[iso] == number:
                other = "seconds" if iso else "ISO 8601 times"
                problems.append(
                    Problem(
                        name,
                        number,
                        _col(cols, where["timestamp"]),
                        "timestamp",
                        f"{cell[:40]!r}: the file's timestamps before line {number} are {other}; use one form",
                    )
                )
            times.append(seconds)
            offsets.append(offset)
            lines.append(number)
        for h in sizes:
            value = _size(row[where[h]].strip(), SIZE_LIMITS[h])
            if isinstance(value, str):
                problems.append(Problem(name, number, _col(cols, where[h]), h, value))
            else:
                sizes[h].append(value)
    if not problems and not times:
        problems.append(Problem(name, 2, 1, "timestamp", "no requests: the trace has a header and no rows"))
    if not problems:
        order = sorted(range(len(times)), key=times.__getitem__)
        first, last = order[0], order[-1]
        # bucket by the earliest request's wall clock: its offset shifts every instant alike
        local = [t + offsets[first] for t in times]
        hour0 = math.floor(local[first] / 3600.0)
        hours = math.floor(local[last] / 3600.0) - hour0
        if hours + 1 > MAX_TRACE_HOURS:
            problems.append(
                Problem(
                    name,
                    lines[last],
                    _col(starts.get(lines[last], [1]), where["timestamp"]),
                    "timestamp",
                    f"the trace spans {hours + 1:,} clock hours from line {lines[first]}'s request to this one, more "
                    f"than {MAX_TRACE_HOURS:,} (366 days): give at most a year of requests",
                )
            )
    if problems:
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            problems = problems[:MAX_PROBLEMS] + [Problem(name, 0, 0, "(file)", f"and {more} more problems")]
        raise InputError(problems)
    return Trace(
        file=name,
        times_s=[local[i] - hour0 * 3600.0 for i in order],
        first_hour_of_day=hour0 % 24,
        sizes={h: [v[i] for i in order] for h, v in sizes.items()},
    )


def _records(text: str, name: str) -> list[tuple[int, list[str]]]:
    """The CSV records of ``text`` with the line each starts on (a quoted field may span lines). strict: a stray
    or unterminated quote is an error, not a field that swallows the rest of the file."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            out.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InputError([Problem(name, max(line, 1), 1, "(row)", f"not readable as CSV: {exc}")]) from None
    return out


def _column_starts(text: str) -> dict[int, list[int]]:
    """1-based column of each comma-separated field of each line (quotes are rare in a trace: a quoted comma
    shifts the reported column, never the values read)."""
    out = {}
    for number, line in enumerate(text.splitlines(), start=1):
        cols, pos = [1], 0
        for ch in line:
            pos += 1
            if ch == ",":
                cols.append(pos + 1)
        out[number] = cols
    return out


def _col(cols: list[int], index: int) -> int:
    return cols[index] if index < len(cols) else cols[-1]


def _timestamp(cell: str) -> tuple[float, float, bool] | str:
    """(seconds, the UTC offset's seconds, whether it is an ISO time) from a number or an ISO 8601 time, or the
    problem with it. The seconds of an ISO time are its instant from 1970-01-01 UTC (a time without an offset is
    taken as UTC, offset 0)."""
    if not cell:
        return "empty timestamp"
    try:
        value = float(cell)
    except ValueError:
        try:
            when = dt.datetime.fromisoformat(cell.replace("Z", "+00:00"))
        except ValueError:
            return f"{cell[:40]!r} is neither seconds nor an ISO 8601 time"
        offset = when.utcoffset() or dt.timedelta(0)
        try:
            instant = when.replace(tzinfo=None) - offset
        except OverflowError:  # year 1 east of UTC, year 9999 west of it
            return f"{cell[:40]!r}: its UTC time is outside years 1 to 9999"
        return (instant - dt.datetime(1970, 1, 1)).total_seconds(), offset.total_seconds(), True
    if not math.isfinite(value) or value < 0 or value > MAX_SECONDS:
        return f"{cell[:40]!r}: seconds must be a number from 0 to {MAX_SECONDS:.0e}"
    return value, 0.0, False


def _size(cell: str, limit: int) -> float | str:
    try:
        value = float(cell)
    except ValueError:
        return f"{cell[:40]!r} is not a number"
    if not math.isfinite(value) or value < 1 or value != int(value) or value > limit:
        return f"{cell[:40]!r}: a whole number from 1 to {limit:,}"
    return value


@dataclass(frozen=True)
class Derived:
    """What a trace says about demand."""

    requests: int
    hours_observed: int
    requests_per_day: float
    hourly: list[float]  # mean requests in each hour of the day over the hours observed (unobserved: the mean)
    peak_per_s: float  # the busiest hour of the day's mean rate
    burstiness: float | None  # squared coefficient of variation of the rate-normalised gaps; None: too few
    unobserved_hours: list[int]
    sizes: dict[str, tuple[float, float]]  # column: (mean, 95th percentile)


def derive(trace: Trace) -> Derived:
    """Requests per day, the hourly curve, the peak rate and the burstiness of a trace. The hourly curve is the
    mean count of each hour of the day over the clock hours the trace covers (an hour of the day it never covers
    gets the mean of the others); the burstiness is the squared coefficient of variation of the gaps between
    consecutive requests of the same clock hour, each gap times its hour's rate (so that the day's swing is not
    counted as burstiness)."""
    times = trace.times_s
    clock = [int(t // 3600.0) for t in times]
    span = clock[-1] + 1
    counts = [0] * span
    for h in clock:
        counts[h] += 1
    by_hour: list[list[int]] = [[] for _ in range(24)]
    for h in range(span):
        by_hour[(trace.first_hour_of_day + h) % 24].append(counts[h])
    seen = [sum(v) / len(v) for v in by_hour if v]
    fill = sum(seen) / len(seen)
    hourly = [sum(v) / len(v) if v else fill for v in by_hour]
    unobserved = [h for h in range(24) if not by_hour[h]]
    gaps = [
        (times[i] - times[i - 1]) * counts[clock[i]] / 3600.0 for i in range(1, len(times)) if clock[i] == clock[i - 1]
    ]
    scv = None
    if len(gaps) >= MIN_GAPS_FOR_BURSTINESS:
        mean = sum(gaps) / len(gaps)
        var = sum((g - mean) ** 2 for g in gaps) / (len(gaps) - 1)
        scv = max(var / mean**2, 0.01) if mean > 0 else None
    sizes: dict[str, tuple[float, float]] = {}
    for column, values in trace.sizes.items():
        ranked = sorted(values)
        sizes[column] = (sum(values) / len(values), ranked[min(len(ranked) - 1, math.ceil(0.95 * len(ranked)) - 1)])
    return Derived(
        requests=len(times),
        hours_observed=span,
        requests_per_day=sum(hourly),
        hourly=hourly,
        peak_per_s=max(hourly) / 3600.0,
        burstiness=scv,
        unobserved_hours=unobserved,
        sizes=sizes,
    )
