"""Fit the engine parameters to the validation set, and cross-validate the fit (numpy only).

What is fitted (:data:`PARAMS`): the engine factors that no datasheet or microbenchmark gives — eager and
compiled ``mfu`` (fraction of the hardware's best-GEMM rate the stack reaches), ``host_per_layer_s``,
``fixed_per_step_s``, ``request_fixed_s`` (diffusion pipeline overhead per request) and ``act_passes``
(element-wise activation traffic per block), compiled decode's ``mbu`` and ``gpu_per_layer_s`` (the kernel gaps
that add to each layer's weight read), the ``host_per_layer_s`` / ``fixed_per_step_s`` of each vLLM release, and
today's vLLM's ``mbu`` (its inter-token latencies read the weights and the KV cache at that rate). Hardware
parameters (peak, bandwidth, matmul/attention/bandwidth efficiencies) are sourced, never fitted.

Objective: the mean |ln(predicted / measured)| over the fitting entries of one engine. Entries of one engine
depend only on that engine's parameters, so each engine is fitted on its own entries. The search is a
deterministic coordinate descent: each parameter in turn is set to the best value of a fixed grid (the other
parameters held), evaluated in one vectorised call per entry; two coarse sweeps over the whole range, then
sweeps over finer grids around the current values until nothing moves.

Cross-validation is leave-one-source-out (:func:`tokcost.core.validate.source_group`): for every source, the
parameters are refitted on the entries of all other sources and the held-out source's entries are predicted
with them. Each entry therefore gets one held-out prediction. Where a fold leaves an engine no fitting entry
(vLLM 0.4: one source in the set), its held-out prediction uses :data:`VLLM_PRIOR`: the fold's eager overheads
divided by the ~4.5x end-to-end speed-up reported for a vLLM-class server over reference code (baaivision/Emu3.5
README: 4-5x), not a fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tokcost.core import validate as V
from tokcost.io.measurements import load_thresholds
from tokcost.records.validation import ValidationResult

if TYPE_CHECKING:
    from tokcost.engine.estimate import Config
    from tokcost.records.engines import EngineProfile
    from tokcost.records.measurements import Entry

# (engines sharing the value, field, low, high, log-spaced grid?) - the search range of each fitted parameter.
# The diffusion pipeline around a compiled denoiser (sampler loop, text encoders, VAE, post-processing) runs
# eager in the measured stacks (diffusers compiles the denoiser only), so those parameters are shared.
PARAMS: list[tuple[tuple[str, ...], str, float, float, bool]] = [
    (("eager",), "mfu", 0.15, 1.0, False),
    (("eager",), "host_per_layer_s", 5e-5, 4e-3, True),
    (("eager",), "fixed_per_step_s", 1e-4, 2e-2, True),
    (("eager",), "act_passes", 0.0, 400.0, False),
    (("eager", "compiled"), "denoise_step_s", 1e-4, 5e-2, True),
    (("eager", "compiled"), "request_fixed_s", 0.0, 0.6, False),
    (("eager", "compiled"), "vae_efficiency", 0.05, 1.0, True),
    (("compiled",), "mfu", 0.15, 1.0, False),
    (("compiled",), "act_passes", 0.0, 400.0, False),
    (("compiled",), "mbu", 0.5, 1.0, False),
    (("compiled",), "gpu_per_layer_s", 1e-7, 3e-4, True),
    (("vllm",), "mbu", 0.5, 1.0, False),
    (("vllm",), "host_per_layer_s", 1e-6, 2e-3, True),
    (("vllm",), "fixed_per_step_s", 1e-5, 1e-2, True),
    (("vllm-0.4",), "host_per_layer_s", 1e-6, 2e-3, True),
    (("vllm-0.4",), "fixed_per_step_s", 1e-5, 1e-2, True),
]
GROUPS = (("eager", "compiled"), ("vllm",), ("vllm-0.4",))  # engines fitted together (they share parameters)
SERVERS = ("vllm", "vllm-0.4")  # the vLLM releases: without entries in a fold they take VLLM_PRIOR
VLLM_PRIOR = 4.5  # vLLM-class server vs reference code, end to end (Emu3.5 README: 4-5x)
COARSE = 41
FINE = 41
# how close a refit must come to engines.yaml to count as reproducing it (values are committed to 3 figures)
COMMITTED_REL_TOL = 0.02


class _Val:
    """Stands in for a Range: ``mid`` (and the ends) return the value under trial."""

    def __init__(self, v):
        self.low = self.high = self.central = self.mid = v


def profiles_with(values: dict, base: Mapping[str, EngineProfile] | None = None) -> dict[str, EngineProfile]:
    """Engine profiles with the given ``{(engines, field): value}`` substituted (values may be numpy arrays)."""
    from tokcost.io.engines import load_engines

    base = base or load_engines()
    out = {}
    for name, prof in base.items():
        upd = {f: _Val(v) for (es, f), v in values.items() if name in es}
        out[name] = prof.model_copy(update=upd) if upd else prof
    return out


def _grid(lo: float, hi: float, log: bool, n: int) -> np.ndarray:
    if log:
        return np.geomspace(lo, hi, n)
    return np.linspace(lo, hi, n)


@dataclass
class _Case:
    entry: Entry
    config: Config | None  # Config priced with the committed profiles (each trial swaps in its own)
    measured: float
    metric: str
    text_decode: Callable | None = None  # a tokens_per_s / itl_s entry: profiles -> prediction (no image-model Config)


def _cases(entries, catalog) -> list[_Case]:
    out = []
    for e in entries:
        row = V.price_entry(e, catalog)
        if not row.scored or e.metric == "gpu_hours":
            continue
        if e.metric in V.TEXT_DECODE_METRICS:
            out.append(_Case(e, None, e.measured, e.metric, V.text_decode_prediction(e, catalog)))
        else:
            out.append(_Case(e, V.build_config(e, catalog), e.measured, e.metric))
    return out


def _predict(case: _Case, profiles: dict) -> np.ndarray:
    from dataclasses import replace

    from tokcost.engine.estimate import estimate_arrays

    if case.text_decode is not None:
        return np.asarray(case.text_decode(profiles), dtype=float)
    if case.config is None:  # not reached: _cases gives every other case its Config
        raise ValueError(f"{case.entry.id} has no Config to price")
    cfg = replace(case.config, profiles=profiles)
    return np.asarray(estimate_arrays(cfg, "central")[case.metric], dtype=float)


def _objective(cases: list[_Case], profiles: dict, shape) -> np.ndarray:
    errs = [np.broadcast_to(np.abs(np.log(_predict(c, profiles) / c.measured)), shape) for c in cases]
    return np.mean(errs, axis=0)


def _fit_group(group: tuple, cases: list[_Case], start: dict, values_all: dict, coarse: bool = True) -> dict:
    """Coordinate descent for one engine group's parameters over its own cases; returns {(engines, field): v}."""
    keys = [(e, f, lo, hi, log) for e, f, lo, hi, log in PARAMS if set(e) <= set(group)]
    values = {(e, f): start[(e, f)] for e, f, *_ in keys}
    if not cases:
        return values

    def sweep(make_grid) -> bool:
        moved = False
        for e, f, lo, hi, log in keys:
            grid = make_grid(values[(e, f)], lo, hi, log)
            obj = _objective(cases, profiles_with({**values_all, **values, (e, f): grid}), grid.shape)
            best = float(grid[int(np.argmin(obj))])
            if not np.isclose(best, values[(e, f)], rtol=1e-9, atol=1e-15):
                values[(e, f)] = best
                moved = True
        return moved

    for _ in range(2 if coarse else 0):
        sweep(lambda v, lo, hi, log: _grid(lo, hi, log, COARSE))
    for width in (0.5, 0.15, 0.04):
        for _ in range(4):

            def fine(v, lo, hi, log, w=width):
                if log:
                    return np.geomspace(max(lo, v * (1 - w)), min(hi, v * (1 + w)), FINE)
                span = (hi - lo) * w
                return np.linspace(max(lo, v - span), min(hi, v + span), FINE)

            if not sweep(fine):
                break
    return values


def committed_values() -> dict:
    """The central values now in tokcost/data/engines.yaml for every fitted parameter."""
    from tokcost.engine.profiles import Efficiency
    from tokcost.io.engines import load_engines

    prof = load_engines()
    out = {}
    for e, f, *_ in PARAMS:
        r = getattr(prof[e[0]], f)
        # an optional term left out of engines.yaml prices as the Efficiency default
        out[(e, f)] = getattr(Efficiency, f) if r is None else float(r.mid)
    return out


def initial_values() -> dict:
    """Where the search starts: the middle of each range (geometric for log grids). Fixed, so that the fit over
    the whole set does not depend on what engines.yaml holds now."""
    return {(e, f): (float(np.sqrt(lo * hi)) if log else (lo + hi) / 2) for e, f, lo, hi, log in PARAMS}


def fit(cases: list[_Case], start: dict | None = None) -> dict:
    """Fit every engine group on ``cases``. Without ``start``: from :func:`initial_values`, coarse grids over
    the whole ranges first. With ``start`` (a cross-validation fold, warm-started from the whole-set fit): the
    finer local grids only. A vLLM release without cases gets the prior :data:`VLLM_PRIOR`."""
    coarse = start is None
    start = dict(start or initial_values())
    values = dict(start)
    for group in GROUPS:
        mine = [c for c in cases if c.entry.engine in group]
        values.update(_fit_group(group, mine, start, values, coarse))
    for server in SERVERS:
        if not any(c.entry.engine == server for c in cases):
            for f in ("host_per_layer_s", "fixed_per_step_s"):
                values[((server,), f)] = values[(("eager",), f)] / VLLM_PRIOR
    return values


@dataclass
class FitReport:
    values: dict  # {(engine, field): value} fitted on every scored entry
    folds: dict  # source -> {(engine, field): value} fitted without that source
    in_sample: list  # validation Rows priced with ``values``
    held_out: list  # validation Rows, each priced with the fold that left its source out

    def ranges(self) -> dict:
        """Per parameter: min and max over the leave-one-source-out refits (the band's ends)."""
        out = {}
        for k, v in self.values.items():
            xs = [f[k] for f in self.folds.values()] + [v]
            out[k] = (min(xs), max(xs))
        return out


def cross_validate(entries, catalog, refit: bool = True, held_out: bool = True, progress=None) -> FitReport:
    """In-sample and leave-one-source-out errors.

    ``refit``: fit the whole set from :func:`initial_values` (``tokcost validate --fit``); otherwise take the
    values committed in engines.yaml. The values are rounded to 3 significant figures (what engines.yaml holds)
    before pricing. ``held_out``: for every source, refit warm-started from those values on the other sources'
    entries and predict the left-out source's entries. ``progress(done, total)``, when given, is called after
    each step (the whole-set pricing, then each left-out source)."""
    cases = _cases(entries, catalog)
    groups = sorted({V.source_group(c.entry) for c in cases}) if held_out else []
    tick = progress or (lambda done, total: None)
    raw = fit(cases) if refit else committed_values()
    full = {k: sig(v) for k, v in raw.items()}
    in_sample = [V.price_entry(e, catalog, profiles_with(full)) for e in entries]
    tick(1, 1 + len(groups))
    by_id = {r.id: r for r in in_sample}
    folds: dict = {}
    held: dict = {}
    if held_out:
        for step, g in enumerate(groups, start=2):
            train = [c for c in cases if V.source_group(c.entry) != g]
            vals = fit(train, start=full)
            folds[g] = vals
            prof = profiles_with(vals)
            for c in cases:
                if V.source_group(c.entry) == g:
                    held[c.entry.id] = V.price_entry(c.entry, catalog, prof)
            tick(step, 1 + len(groups))
    rows = [held.get(e.id, by_id[e.id]) if by_id[e.id].scored else by_id[e.id] for e in entries] if held_out else []
    return FitReport(full, folds, in_sample, rows)


def param_name(key) -> str:
    engines_, f = key
    return f"{'+'.join(engines_)}.{f}"


def sig(x: float, digits: int = 3) -> float:
    """``x`` rounded to ``digits`` significant figures (how the fitted values are committed)."""
    if x == 0 or not np.isfinite(x):
        return float(x)
    return float(f"{x:.{digits}g}")


def validation_result(entries, catalog, refit: bool = False, held_out: bool = True, progress=None) -> ValidationResult:
    """The ``tokcost validate`` result: every entry priced with the committed engine profiles (or a refit),
    cross-validated, summarised and gated; ``tokcost.render.validate`` formats it."""
    rep = cross_validate(entries, catalog, refit=refit, held_out=held_out, progress=progress)
    th = load_thresholds()
    ins = V.summary_by_family(rep.in_sample)
    held = V.summary_by_family(rep.held_out) if held_out else None
    fails = V.gate(ins, th, "in-sample")
    if not any(r.scored for r in rep.in_sample):  # a gate over nothing would pass
        fails.insert(0, "no entry could be scored (each lacks a model or hardware preset): nothing was validated")
    if held is not None and th.held_out:
        fails += V.gate(held, th, "held-out")
    committed = committed_values()
    ranges = rep.ranges() if held_out else {}
    params = []
    for key, value in rep.values.items():
        lo, hi = ranges.get(key, (None, None))
        c = committed[key]
        params.append(
            {
                "name": param_name(key),
                "value": value,
                "committed": c,
                "matches_committed": math.isclose(value, c, rel_tol=COMMITTED_REL_TOL, abs_tol=1e-12),
                "held_out_low": sig(lo) if lo is not None else None,
                "held_out_high": sig(hi) if hi is not None else None,
            }
        )
    held_by_id = {r.id: r for r in rep.held_out}
    rows = []
    for r in rep.in_sample:
        d = r.to_dict()
        h = held_by_id.get(r.id)
        if r.scored and h is not None and h.scored:
            d.update(held_out_predicted=h.predicted, held_out_ratio=h.ratio)
        rows.append(d)
    return ValidationResult(
        **{
            "refit": refit,
            "definitions": {
                "ratio": "predicted / measured",
                "rel_err": "|predicted - measured| / measured (headline: its median)",
                "log_err": "|ln(predicted / measured)| (the fit minimises its mean)",
                "worst_factor": "max over entries of max(ratio, 1/ratio)",
                "held_out": "leave-one-source-out: each source's entries predicted by parameters refitted "
                "on all other sources",
            },
            "thresholds": th.model_dump(),
            "summary": {"in_sample": ins, "held_out": held},
            "bands": V.error_bands(rep.held_out) if held_out else {},
            "parameters": params,
            "entries": rows,
            "failures": fails,
            "passed": not fails,
        }
    )
