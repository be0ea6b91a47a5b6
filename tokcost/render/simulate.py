"""Formatters of ``tokcost simulate``'s result (:class:`tokcost.records.simulation.SimulationResult`)."""

from __future__ import annotations

from tokcost.records.simulation import SimulationResult
from tokcost.text import counted, escape_line, markdown_text


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _lines(r: SimulationResult) -> list[str]:
    q = f"p{r.latency_percentile:g}"
    verdict = "meets" if r.met else "MISSES"
    traffic = {
        "poisson": "Poisson arrivals",
        "bursty": f"bursty arrivals (burstiness {r.burstiness:.3g})",
        "trace": f"the requests of {r.trace}",
    }[r.traffic]
    batching = (
        f"continuous batching, at most {r.batch} sequences a replica, {r.max_num_batched_tokens:,} tokens a step"
        if r.batching == "continuous"
        else f"static batches of {r.batch}, timeout {_s(r.batch_timeout_s)} s"
    )
    lo, hi = min(r.replicas_hourly), max(r.replicas_hourly)
    fleet = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return [
        f"{r.name}: {r.model} / {r.hardware} / {r.engine} ({batching}; {fleet} replica{'s' if hi != 1 else ''} of "
        f"{r.gpus_per_replica} GPU{'s' if r.gpus_per_replica != 1 else ''}, {r.scaling} fleet)",
        f"{counted(r.requests, 'request')} over {counted(r.hours, 'hour')} of {traffic}, seed {r.seed}",
        f"{q} {_s(r.objective_s)} s {verdict} the {r.budget_s:g} s budget (the planner's {q} at peak: "
        f"{_s(r.predicted_objective_s)} s); p50 {_s(r.p50_s)} s, p95 {_s(r.p95_s)} s, p99 {_s(r.p99_s)} s; "
        f"{r.over_budget_share:.2%} of requests over budget",
        *_trace_lines(r),
    ]


def _trace_lines(r: SimulationResult) -> list[str]:
    out = []
    if r.replay is not None:
        out.append(
            f"replays {counted(r.replay.requests, 'request')} of {r.replay.file} over {counted(r.replay.hours, 'hour')}"
        )
    described = {
        "prompt_tokens": "prompt_tokens per request from the trace",
        "answer_tokens": "answer_tokens per request from the trace",
        "frames": "frames per request from the trace (a batch runs at its largest request)",
    }
    out += [described[k] for k in r.sizes_used]
    if r.sizes_ignored:
        out.append(f"size columns not used for this candidate: {', '.join(r.sizes_ignored)}")
    return out


def format_table(r: SimulationResult) -> str:
    head = "hour  of day  replicas  requests     p50     p95     p99  over budget"
    rows = [
        f"{h.hour:>4}  {h.hour_of_day:>6}  {h.replicas:>8}  {h.requests:>8}  {_s(h.p50_s):>6}  {_s(h.p95_s):>6}  "
        f"{_s(h.p99_s):>6}  {h.over_budget_share:>11.2%}"
        for h in r.by_hour
    ]
    lines = [escape_line(line) for line in _lines(r)]  # the spec's name and the trace's file are user text
    return "\n".join([*lines, "", "Latency by hour of arrival (seconds)", head, *rows]) + "\n"


def format_markdown(r: SimulationResult) -> str:
    rows = [
        f"| {h.hour} | {h.hour_of_day} | {h.replicas} | {h.requests:,} | {_s(h.p50_s)} | {_s(h.p95_s)} | "
        f"{_s(h.p99_s)} | {h.over_budget_share:.2%} |"
        for h in r.by_hour
    ]
    return (
        "\n".join(
            [
                f"### Simulation: {markdown_text(r.name)}",
                "",
                *[f"- {markdown_text(line)}" for line in _lines(r)],
                "",
                "| hour | of day | replicas | requests | p50 (s) | p95 (s) | p99 (s) | over budget |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|",
                *rows,
            ]
        )
        + "\n"
    )
