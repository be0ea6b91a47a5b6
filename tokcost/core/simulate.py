"""Discrete-event simulation of a serving fleet (issue 30): what ``tokcost simulate`` runs, and what the tests
check the queueing approximations of :mod:`tokcost.core.capacity` and :mod:`tokcost.core.queueing` against.

A small heapq event loop over seeded numpy arrays, not SimPy: the two disciplines are a few dozen lines each as
plain loops, the static one needs no event queue beyond a heap of replica free times, the continuous one jumps
over runs of identical decode steps (a generator-per-request SimPy process would pay an event per step: a day of
a continuous-batching spec is millions of steps), and the command then needs no run-time dependency. SimPy stays
the independent reference the tests check the static simulation against.

The disciplines (docs/methodology.md, "Simulating a fleet"):

* **Static batching** (Triton's dynamic batcher): a batch is sealed when ``batch`` requests wait or its first
  has waited ``timeout_s``; sealed batches go first come, first served to the first free replica; a batch of n
  requests takes the service time at n (interpolated in log2 n over the priced batches), times the largest
  relative size among its requests (a batch is padded to its largest request).
* **Continuous batching** (vLLM's scheduler): each replica runs steps; a step advances every running sequence by
  one token and, under a budget of ``token_budget`` tokens a step, prefills chunks of the prompts admitted (in
  order); a prompt's last chunk also yields its first token. A step with n decoding sequences and k prompt tokens
  takes ``decode_step_s[n] + k x prefill_token_s``. A replica admits queued requests (first come, first served,
  one queue for the fleet) at its step boundaries while it holds fewer than ``max_seqs``.
* **Replicas by hour**: the fleet size can change at each hour (autoscaling); a replica scaled away finishes
  what it holds and takes nothing new; one added starts idle at the hour.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

HOUR_S = 3600.0


@dataclass(frozen=True)
class StaticServer:
    """A static-batching replica: ``service_s[i]`` is the service of a batch of ``batches[i]`` requests (other
    sizes interpolated in log2 of the size between the priced batches)."""

    batch: int
    timeout_s: float
    batches: np.ndarray  # the priced batch sizes, increasing
    service_s: np.ndarray


@dataclass(frozen=True)
class ContinuousServer:
    """A continuous-batching replica (vLLM-style, chunked prefill)."""

    max_seqs: int  # sequences a replica holds at once (vLLM's max_num_seqs, capped by its KV-cache memory)
    token_budget: int  # tokens a step may process (vLLM's max_num_batched_tokens)
    decode_step_s: np.ndarray  # (max_seqs + 1,) seconds of a step with n decoding sequences; [0]: a prefill-only
    prefill_token_s: float  # marginal seconds per prompt token in a step
    prompt_tokens: float  # a request's prompt (prefill) tokens unless the traffic says otherwise
    decode_steps: float  # a request's output forwards unless the traffic says otherwise


@dataclass
class Traffic:
    """Requests to replay: arrival times (s, increasing from 0) and optional per-request sizes."""

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray | None = None  # continuous batching: prefill tokens per request
    decode_steps: np.ndarray | None = None  # continuous batching: output forwards per request
    size: np.ndarray | None = None  # static batching: work relative to the spec's request
    hours: int = field(default=0)  # the hours the run covers (0: as many as the arrivals span)

    def __post_init__(self):
        if not self.hours:
            last = float(self.arrival_s[-1]) if len(self.arrival_s) else 0.0
            self.hours = int(last // HOUR_S) + 1  # the clock hours up to the last arrival's, its own included


def renewal_arrivals(rates: np.ndarray, scv: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times over ``len(rates)`` hours, hour h at ``rates[h]`` requests/s, as a renewal process whose
    inter-arrival times are Gamma with squared coefficient of variation ``scv`` (shape 1 / scv: 1 is Poisson,
    above 1 burstier), restarted at each hour."""
    out = []
    for h, rate in enumerate(np.asarray(rates, dtype=float)):
        if rate <= 0:
            continue
        mean_n = rate * HOUR_S
        n = int(mean_n + 8.0 * math.sqrt(mean_n * max(scv, 1.0)) + 16)  # enough to pass the hour's end
        gaps = rng.gamma(1.0 / scv, scv / rate, n)
        t = np.cumsum(gaps)
        while t[-1] < HOUR_S:  # very rarely short: draw more
            t = np.concatenate([t, t[-1] + np.cumsum(rng.gamma(1.0 / scv, scv / rate, n))])
        out.append(h * HOUR_S + t[t < HOUR_S])
    return np.concatenate(out) if out else np.zeros(0)


def _seal(arrivals: np.ndarray, batch: int, timeout: float) -> tuple[list[float], list[int]]:
    """(seal time of each batch, index of each batch's first request; one past the last at the end)."""
    seals: list[float] = []
    starts = [0]
    i, n = 0, len(arrivals)
    while i < n:
        last = min(i + batch, n) - 1
        if arrivals[last] <= arrivals[i] + timeout and last == i + batch - 1:
            seal, nxt = float(arrivals[last]), last + 1
        else:
            seal = float(arrivals[i] + timeout)
            nxt = int(np.searchsorted(arrivals, seal, side="right"))
            nxt = min(max(nxt, i + 1), i + batch)
        seals.append(seal)
        starts.append(nxt)
        i = nxt
    return seals, starts


def _capacity(replicas: np.ndarray, t: float) -> int:
    return int(replicas[min(int(t // HOUR_S), len(replicas) - 1)])


def simulate_static(traffic: Traffic, server: StaticServer, replicas: np.ndarray) -> np.ndarray:
    """Each request's end-to-end latency (s) under static batching on ``replicas[h]`` replicas in hour h."""
    arrivals = traffic.arrival_s
    done = np.full(len(arrivals), np.nan)
    if not len(arrivals):
        return done
    seals, starts = _seal(arrivals, server.batch, server.timeout_s)
    bounds = np.asarray(starts)
    counts = np.diff(bounds)
    # each batch's service, priced at once: interpolated at its size, scaled by its largest request (padding)
    service = np.interp(np.log2(np.maximum(counts, 1)), np.log2(server.batches), server.service_s)
    if traffic.size is not None:
        service = service * np.maximum.reduceat(traffic.size, bounds[:-1])
    free: list[float] = []  # the free times of the replicas in service (a heap)
    ends: list[float] = []
    hour = -1
    for seal, work in zip(seals, service.tolist(), strict=True):
        while hour < int(seal // HOUR_S):  # the hours up to this batch's: scale the fleet at each start
            hour += 1
            target = int(replicas[min(hour, len(replicas) - 1)])
            while len(free) > target:  # the replica free soonest goes (an idle one if any)
                heapq.heappop(free)
            while len(free) < target:
                heapq.heappush(free, hour * HOUR_S)
        if not free:  # no replica this hour (scaled to zero): the batch waits for the next hour with one
            later = next((h for h in range(hour + 1, len(replicas)) if replicas[h] > 0), None)
            if later is None:
                break
            free = [later * HOUR_S] * int(replicas[later])
            hour = later
        end = max(seal, heapq.heappop(free)) + work
        heapq.heappush(free, end)
        ends.append(end)
    served = bounds[len(ends)]
    done[:served] = np.repeat(ends, counts[: len(ends)])
    return done - arrivals


class _Replica:
    __slots__ = ("active", "busy", "t0", "tau", "k", "version", "steps", "finish", "prefill", "held", "chunk")

    def __init__(self):
        self.active, self.busy = True, False
        self.t0 = self.tau = 0.0
        self.k = self.version = self.steps = self.held = 0
        self.finish: list[tuple[int, int]] = []  # (step at which it finishes, request) of decoding sequences
        self.prefill: deque[list[int]] = deque()  # [request, prompt tokens left] in admission order
        self.chunk: list[tuple[list[int], int]] = []  # the prefill chunks of the step under way


def simulate_continuous(traffic: Traffic, server: ContinuousServer, replicas: np.ndarray) -> np.ndarray:
    """Each request's end-to-end latency (s) under continuous batching on ``replicas[h]`` replicas in hour h."""
    arrivals = traffic.arrival_s
    n = len(arrivals)
    done = np.full(n, np.nan)
    prompt = (
        np.maximum(np.rint(traffic.prompt_tokens), 1).astype(int).tolist()
        if traffic.prompt_tokens is not None
        else [max(round(server.prompt_tokens), 1)] * n
    )
    steps = (
        np.maximum(np.rint(traffic.decode_steps), 1).astype(int).tolist()
        if traffic.decode_steps is not None
        else [max(round(server.decode_steps), 1)] * n
    )
    d = server.decode_step_s.tolist()
    per_token, budget, cap = server.prefill_token_s, server.token_budget, server.max_seqs
    queue: deque[int] = deque()
    reps: list[_Replica] = []
    events: list[tuple[float, int, int, int]] = []  # (time, order, replica, version)
    order = 0

    def start(r: int, t: float) -> None:
        nonlocal order
        rep = reps[r]
        while rep.active and rep.held < cap and queue:
            rep.prefill.append([queue.popleft(), 0])
            rep.prefill[-1][1] = prompt[rep.prefill[-1][0]]
            rep.held += 1
        decoding = len(rep.finish)
        rep.chunk = []
        if rep.prefill:
            left = max(budget - decoding, 0)
            tokens = 0
            for entry in rep.prefill:
                if left <= 0:
                    break
                take = min(entry[1], left)
                rep.chunk.append((entry, take))
                left -= take
                tokens += take
            rep.k, rep.tau = 1, d[decoding] + per_token * tokens
        elif decoding:
            rep.k, rep.tau = rep.finish[0][0] - rep.steps, d[decoding]
        else:
            rep.busy = False
            return
        rep.busy, rep.t0 = True, t
        rep.version += 1
        order += 1
        heapq.heappush(events, (t + rep.k * rep.tau, order, r, rep.version))

    def finish_run(r: int, t: float) -> None:
        rep = reps[r]
        rep.steps += rep.k
        while rep.finish and rep.finish[0][0] <= rep.steps:
            _, req = heapq.heappop(rep.finish)
            done[req] = t
            rep.held -= 1
        for entry, take in rep.chunk:
            entry[1] -= take
            if entry[1] == 0:  # its last chunk gave its first token
                rep.prefill.remove(entry)
                req = entry[0]
                if steps[req] <= 1:
                    done[req] = t
                    rep.held -= 1
                else:
                    heapq.heappush(rep.finish, (rep.steps + steps[req] - 1, req))
        rep.chunk = []
        start(r, t)

    def wake(t: float) -> None:
        """A request is queued at t: an idle replica starts now, else the busy one with a free slot whose next
        step boundary comes first stops its run of decode steps there to admit it."""
        nonlocal order
        best, when = -1, math.inf
        for r, rep in enumerate(reps):
            if not rep.active or rep.held >= cap:
                continue
            if not rep.busy:
                start(r, t)
                return
            j = math.floor((t - rep.t0) / rep.tau) + 1
            boundary = rep.t0 + min(j, rep.k) * rep.tau
            if boundary < when:
                best, when = r, boundary
        if best >= 0:
            rep = reps[best]
            j = math.floor((t - rep.t0) / rep.tau) + 1
            if j < rep.k:
                rep.k = j
                rep.version += 1
                order += 1
                heapq.heappush(events, (rep.t0 + j * rep.tau, order, best, rep.version))

    def scale(hour: int, t: float) -> None:
        target = int(replicas[min(hour, len(replicas) - 1)])
        active = [r for r, rep in enumerate(reps) if rep.active]
        if len(active) > target:  # the least loaded go: they finish what they hold
            for r in sorted(active, key=lambda r: reps[r].held)[: len(active) - target]:
                reps[r].active = False
        else:
            for r, rep in enumerate(reps):  # bring back draining replicas first
                if len(active) >= target:
                    break
                if not rep.active:
                    rep.active = True
                    active.append(r)
            while len(active) < target:
                reps.append(_Replica())
                active.append(len(reps) - 1)
            for r in active:
                if not reps[r].busy:
                    start(r, t)

    i, hour = 0, -1
    while i < n or events:
        t_arr = float(arrivals[i]) if i < n else math.inf
        t_evt = events[0][0] if events else math.inf
        t_next = min(t_arr, t_evt)
        if int(t_next // HOUR_S) > hour:  # an hour begins before the next event: resize the fleet
            hour += 1
            scale(hour, hour * HOUR_S)
            continue
        if t_evt <= t_arr:
            _, _, r, version = heapq.heappop(events)
            if version == reps[r].version:
                finish_run(r, t_evt)
        else:
            queue.append(i)
            wake(t_arr)
            i += 1
        if i >= n and not events and queue:  # requests left with no replica running (scaled to zero)
            hour += 1
            if hour >= 10 * max(len(replicas), 1):
                break
            scale(hour, hour * HOUR_S)
    return done - arrivals


@dataclass(frozen=True)
class Summary:
    """Latency percentiles and the share over budget, overall and by hour of arrival."""

    quantiles: np.ndarray  # (3,) p50, p95, p99 overall
    at_objective: float  # the budget's percentile overall
    over_budget: float  # share of requests over the budget
    requests: int
    by_hour: list[tuple[int, int, np.ndarray, float]]  # (hour, requests, (3,) quantiles, share over budget)


def summarize(latency: np.ndarray, arrival_s: np.ndarray, budget_s: float, percentile: float) -> Summary:
    """Percentiles of the requests' latencies (a request never served counts as infinitely late)."""
    lat = np.where(np.isnan(latency), np.inf, latency)
    levels = [50.0, 95.0, 99.0]

    def pct(x, q):
        return np.percentile(x, q, method="higher") if len(x) else np.full(np.shape(q), np.nan)

    hours = (arrival_s // HOUR_S).astype(int)
    by_hour = []
    for h in np.unique(hours):
        part = lat[hours == h]
        by_hour.append((int(h), len(part), np.asarray(pct(part, levels)), float(np.mean(part > budget_s))))
    return Summary(
        quantiles=np.asarray(pct(lat, levels)),
        at_objective=float(pct(lat, percentile)) if len(lat) else math.nan,
        over_budget=float(np.mean(lat > budget_s)) if len(lat) else 0.0,
        requests=len(lat),
        by_hour=by_hour,
    )


# ------------------------------------------------------------------------------------------- a spec's fleet


def simulate_spec(
    spec,
    file: str,
    catalog,
    calibration=None,
    overrides=None,
    candidate: str | None = None,
    trace=None,
    hours: float | None = None,
    seed: int = 0,
):
    """``tokcost simulate``: the recommended fleet of ``spec`` (or ``candidate``, ``MODEL/HARDWARE/ENGINE``) under
    its day of demand, or the requests of a trace (``trace``, a loaded :class:`tokcost.io.trace.Trace`; else the
    spec's own ``demand.trace``), for ``hours`` hours (default: a day, or the trace's length), seeded."""
    from tokcost.core.fleet import BATCHES, demand_rates
    from tokcost.core.plan import evaluate_fleets, recommend, spec_prices
    from tokcost.core.queueing import token_budget
    from tokcost.errors import UsageError
    from tokcost.io.engines import load_engines
    from tokcost.records.simulation import HourResult, SimulationResult, TraceReplay
    from tokcost.version import __version__

    prices = spec_prices(spec, catalog, overrides)
    evaluated = evaluate_fleets(spec, catalog, calibration, prices)
    if candidate is None:
        choice = recommend(spec, [c for c, _ in evaluated]).choice
        if choice is None:
            raise UsageError(f"{spec.name}: no fleet is recommended; name one as MODEL/HARDWARE/ENGINE", "candidate")
        picked = next((c, f) for c, f in evaluated if c is choice)
    else:
        parts = candidate.split("/")
        found = [
            (c, f)
            for c, f in evaluated
            if len(parts) == 3 and (c.model, c.hardware, c.engine) == (parts[0], parts[1], parts[2])
        ]
        if not found:
            names = ", ".join(sorted({f"{c.model}/{c.hardware}/{c.engine}" for c, _ in evaluated})[:12])
            raise UsageError(f"{candidate!r} is not a candidate of {spec.name} (candidates: {names}, ...)", "candidate")
        picked = found[0]
    cand, fleet = picked
    if not math.isfinite(fleet.replicas_fixed):
        raise UsageError(f"{candidate}: no fleet of it meets the budget, so there is none to simulate", "candidate")
    continuous = load_engines()[cand.engine].continuous
    row = fleet.row
    hw = catalog.hardware(cand.hardware)
    rng = np.random.default_rng(seed)
    loaded = trace
    if loaded is None and spec.demand.trace_path is not None:
        from tokcost.io.trace import load_trace

        loaded = load_trace(spec.demand.trace_path, shown=spec.demand.trace)
    replay: TraceReplay | None = None
    sizes_used: list[str] = []
    sizes_ignored: list[str] = []
    if loaded is not None:
        times = np.asarray(loaded.times_s, dtype=float)
        span = int(float(times[-1]) // HOUR_S) + 1  # the clock hours the trace covers (floor: exact at any span)
        run_hours = min(span, math.ceil(hours)) if hours is not None else span
        keep = times < run_hours * HOUR_S
        traffic = Traffic(arrival_s=times[keep], hours=run_hours)
        first = loaded.first_hour_of_day
        kind, scv = "trace", float(spec.demand.scv)
        sizes = {k: np.asarray(v, dtype=float)[keep] for k, v in loaded.sizes.items()}
        sizes_used, sizes_ignored = _apply_sizes(traffic, sizes, spec, cand, row, continuous)
        replay = TraceReplay(file=loaded.file, requests=int(keep.sum()), hours=run_hours)
    else:
        run_hours = math.ceil(hours) if hours is not None else 24
        _, hourly = demand_rates(spec)
        first = 0
        scv = float(spec.demand.scv)
        kind = "bursty" if spec.demand.arrivals == "bursty" else "poisson"
        rates = np.array([hourly[h % 24] for h in range(run_hours)])
        traffic = Traffic(arrival_s=renewal_arrivals(rates, scv, rng), hours=run_hours)
    autoscaled = spec.demand.scaling == "autoscaled"
    by_day = fleet.replicas_hourly if autoscaled else np.full(24, fleet.replicas_fixed)
    replicas = np.array([by_day[(first + h) % 24] for h in range(traffic.hours)], dtype=float)
    budget = None
    if continuous:
        n = int(row["batch"][0])
        occupancy = np.log2(np.maximum(np.arange(n + 1), 1.0))
        budget = token_budget(hw.memory_gb, hw.id)
        continuous_server = ContinuousServer(
            max_seqs=n,
            token_budget=budget,
            decode_step_s=np.interp(occupancy, np.log2(BATCHES), row["decode_step"][0]),
            prefill_token_s=float(row["prefill_tok"][0]),
            prompt_tokens=float(row["prompt"][0]),
            decode_steps=float(row["forwards"][0]),
        )
        latency = simulate_continuous(traffic, continuous_server, replicas)
    else:
        static_server = StaticServer(
            batch=int(row["batch"][0]), timeout_s=float(row["timeout"][0]), batches=BATCHES, service_s=row["curve"][0]
        )
        latency = simulate_static(traffic, static_server, replicas)
    b = spec.budget
    s = summarize(latency, traffic.arrival_s, b.latency_s, b.latency_percentile)

    def finite(x) -> float | None:
        return float(x) if x is not None and math.isfinite(x) else None

    return SimulationResult(
        tool_version=__version__,
        name=spec.name,
        file=file,
        model=cand.model,
        hardware=cand.hardware,
        engine=cand.engine,
        gpus_per_replica=cand.gpus_per_replica,
        batching="continuous" if continuous else "static",
        batch=cand.batch,
        batch_timeout_s=None if continuous else fleet.timeout_s,
        max_num_batched_tokens=budget,
        traffic=kind,
        burstiness=scv,
        trace=loaded.file if loaded is not None else None,
        scaling=spec.demand.scaling,
        seed=seed,
        hours=traffic.hours,
        requests=s.requests,
        budget_s=b.latency_s,
        latency_percentile=b.latency_percentile,
        p50_s=finite(s.quantiles[0]),
        p95_s=finite(s.quantiles[1]),
        p99_s=finite(s.quantiles[2]),
        objective_s=finite(s.at_objective),
        predicted_objective_s=cand.latency_objective_s,
        over_budget_share=s.over_budget,
        met=bool(s.at_objective <= b.latency_s),
        replicas_hourly=[int(r) for r in replicas],
        by_hour=[
            HourResult(
                hour=h,
                hour_of_day=(first + h) % 24,
                replicas=int(replicas[min(h, len(replicas) - 1)]),
                requests=count,
                p50_s=finite(q[0]),
                p95_s=finite(q[1]),
                p99_s=finite(q[2]),
                over_budget_share=share,
            )
            for h, count, q, share in s.by_hour
        ],
        replay=replay,
        sizes_used=sizes_used,
        sizes_ignored=sizes_ignored,
    )


def _apply_sizes(traffic: Traffic, sizes: dict, spec, cand, row, continuous: bool) -> tuple[list[str], list[str]]:
    """Per-request sizes of a trace, relative to what the planner priced: continuous batching takes prompt and
    answer tokens (its prefill and decode steps), static batching frames (a batch runs at its largest). Returns the
    size columns used and those this candidate has no use for."""
    p = spec.product
    used = []
    if continuous:
        if "prompt_tokens" in sizes and p.prompt_tokens is not None:
            traffic.prompt_tokens = np.maximum(float(row["prompt"][0]) - p.prompt_tokens + sizes["prompt_tokens"], 1.0)
            used.append("prompt_tokens")
        if "answer_tokens" in sizes and p.answer_tokens is not None:
            traffic.decode_steps = float(row["forwards"][0]) * sizes["answer_tokens"] / p.answer_tokens
            used.append("answer_tokens")
    elif "frames" in sizes and cand.frames:
        traffic.size = sizes["frames"] / cand.frames
        used.append("frames")
    return used, sorted(k for k in sizes if k not in used)
