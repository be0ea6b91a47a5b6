"""Recorded traffic (``demand.trace``, ``tokcost simulate --trace``): a CSV of requests read with the bounded read
every file gets, every malformed row reported at once as ``file:line:col: field: message``.

The file has a header row. ``timestamp`` is required: seconds (a number; seconds since a midnight, so that
``timestamp // 3600 % 24`` is the hour of the day) or an ISO 8601 time (its own hour of the day). Optional
columns give each request's size: ``prompt_tokens``, ``answer_tokens`` (positive whole numbers) and ``frames``.
Other columns are ignored. What tokcost derives from it is :func:`derive` (docs/methodology.md, "Recorded
traffic")."""

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
    rows = list(csv.reader(io.StringIO(text, newline="")))
    problems: list[Problem] = []
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InputError([Problem(name, 1, 1, "timestamp", "empty trace: a header row with a timestamp column")])
    header = [h.strip() for h in rows[0]]
    if "timestamp" not in header:
        raise InputError([Problem(name, 1, 1, "timestamp", f"no timestamp column (columns: {', '.join(header)})")])
    where = {h: header.index(h) for h in ("timestamp", *SIZE_COLUMNS) if h in header}
    starts = _column_starts(text)
    times: list[float] = []
    sizes: dict[str, list[float]] = {h: [] for h in SIZE_COLUMNS if h in where}
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue  # a blank line
        cols = starts.get(number, [1])
        if len(row) != len(header):
            problems.append(Problem(name, number, 1, "(row)", f"{len(row)} fields where the header has {len(header)}"))
            continue
        t = _timestamp(row[where["timestamp"]].strip())
        if isinstance(t, str):
            problems.append(Problem(name, number, _col(cols, where["timestamp"]), "timestamp", t))
        else:
            times.append(t)
        for h in sizes:
            value = _size(row[where[h]].strip(), SIZE_LIMITS[h])
            if isinstance(value, str):
                problems.append(Problem(name, number, _col(cols, where[h]), h, value))
            else:
                sizes[h].append(value)
    if not problems and not times:
        problems.append(Problem(name, 2, 1, "timestamp", "no requests: the trace has a header and no rows"))
    if problems:
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            problems = problems[:MAX_PROBLEMS] + [Problem(name, 0, 0, "(file)", f"and {more} more problems")]
        raise InputError(problems)
    order = sorted(range(len(times)), key=times.__getitem__)
    first = times[order[0]]
    hour0 = math.floor(first / 3600.0)
    return Trace(
        file=name,
        times_s=[times[i] - hour0 * 3600.0 for i in order],
        first_hour_of_day=hour0 % 24,
        sizes={h: [v[i] for i in order] for h, v in sizes.items()},
    )


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


def _timestamp(cell: str) -> float | str:
    """Seconds from a number or an ISO 8601 time, or the problem with it."""
    if not cell:
        return "empty timestamp"
    try:
        value = float(cell)
    except ValueError:
        try:
            when = dt.datetime.fromisoformat(cell.replace("Z", "+00:00"))
        except ValueError:
            return f"{cell[:40]!r} is neither seconds nor an ISO 8601 time"
        midnight = when.replace(hour=0, minute=0, second=0, microsecond=0)
        days = (when.date() - dt.date(1970, 1, 1)).days
        return days * 86400.0 + (when - midnight).total_seconds()
    if not math.isfinite(value) or value < 0:
        return f"{cell[:40]!r}: seconds must be a finite number >= 0"
    return value


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
