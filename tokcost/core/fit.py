"""Fit the engine parameters to the validation set, and cross-validate the fit (numpy only).

What is fitted (:data:`PARAMS`): the engine factors that no datasheet or microbenchmark gives —
``host_per_layer_s``, ``fixed_per_step_s``, ``request_fixed_s`` (diffusion pipeline overhead per request),
``act_scale`` (the element-wise time measured runs show over what each model's counted element-wise passes take at the
chip's rate: one value for eager and compiled, whose passes are counted apart from the model code by
scripts/count_elementwise_passes.py), ``gpu_per_layer_s`` (the
kernel gaps that add to each layer's GPU time, one value for eager, compiled and today's vLLM), the
``fixed_per_step_s`` of each vLLM release, eager's ``host_per_collective_s`` (the host time of each collective a
multi-GPU replica calls, one by one under eager code), vLLM V0's ``eager_host_per_layer_s`` (the host time of a decoder layer in the steps its graphs leave eager: the
prefill and decode steps past 8192 tokens of context), vLLM 0.4's ``host_per_layer_s`` (today's vLLM replays one CUDA graph
per decode step, so its per-layer host cost is a stated few microseconds, as compiled's), and today's vLLM's
``mbu`` (its inter-token latencies read the weights and the KV cache at that rate) and ``host_per_sequence_s`` (the CPU
work its engine does for each running sequence at each step: the slope of its step time against the batch). Hardware
parameters (peak, bandwidth, matmul/attention/bandwidth efficiencies) are sourced, never fitted. The eager and
compiled ``mfu`` (the share of the hardware's measured GEMM rate the stack reaches) is not fitted either: every
leave-one-source-out refit over the 251 runs put it at 0.996-1.0, the top of its range, so it is fixed at 1 in
engines.yaml (a stack does not beat the GEMM ceiling the hardware preset measures). Nor is compiled decode's ``mbu``:
over the 868 runs of 2026-12-07 the whole-set fit and every leave-one-source-out refit put it at 1.0, the top of its
range, so it too is fixed at 1 (CUDA-graph decode streams the weights at the hardware's stream ceiling).

Objective: the mean |ln(predicted / measured)| over the fitting entries of one engine. Entries of one engine
depend only on that engine's parameters, so each engine is fitted on its own entries. The search is a
deterministic coordinate descent: each parameter in turn is set to the best value of a fixed grid (the other
parameters held), evaluated in one vectorised call per entry; two coarse sweeps over the whole range, then
sweeps over finer grids around the current values until nothing moves.

Cross-validation holds out three ways (:data:`tokcost.core.validate.HELD_OUT_BY`): by source (the publication,
:func:`tokcost.core.validate.source_group`), by GPU (the hardware preset; a multi-GPU run counts for its chip) and
by engine profile. For every group of each kind, the parameters are refitted on the entries outside it and the
group's entries are predicted with them. Each entry therefore gets one held-out prediction per kind.

A fold can leave a parameter no fitting entry: every parameter of a left-out engine that no other engine shares
(leave-one-engine-out), or a vLLM release whose only source or GPU is left out. Such a parameter cannot be
fitted in that fold, and keeping the whole-set value would leak the left-out entries into their own prediction,
so it takes a stated prior (:data:`PRIORS`) from an engine the fold does fit: a vLLM release's host terms are
eager's divided by the ~4.5x end-to-end speed-up reported for a vLLM-class server over reference code
(baaivision/Emu3.5 README: 4-5x), and eager's are vLLM's times the same 4.5 (its per-layer term vLLM 0.4's, the
only release that has one). Where the prior's own engine has
no entry in the fold either, the parameter takes the middle of its search range (:func:`initial_values`). None of these is a fit. The folds of all three kinds are fitted in lockstep
(:func:`fit_subsets`): each trial grid is priced once for every fold, each fold keeping its own values, which are
exactly those of fitting it alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from tokcost.core import validate as V
from tokcost.io.measurements import load_thresholds
from tokcost.records.validation import DEFINITIONS, ValidationResult

if TYPE_CHECKING:
    from tokcost.engine.estimate import Config
    from tokcost.records.engines import EngineProfile
    from tokcost.records.measurements import Entry

# (engines sharing the value, field, low, high, log-spaced grid?) - the search range of each fitted parameter.
# The diffusion pipeline around a compiled denoiser (sampler loop, text encoders, VAE, post-processing) runs
# eager in the measured stacks (diffusers compiles the denoiser only), so those parameters are shared.
# torch.compile leaves the GEMMs and the attention kernels as they are (inductor calls cuBLAS and SDPA's flash kernel
# unless max-autotune is asked for), and a kernel's ramp-up and tail is GPU time whoever launched it, so the per-layer
# kernel gaps are shared too (and the matmul efficiency, fixed in engines.yaml): what compiling removes is host time and element-wise
# passes, never GPU speed (compiled <= eager for the same work, tests/test_engine.py). Today's vLLM replays CUDA graphs
# of the same kinds of kernels, so it shares the kernel gaps too (its own entries then read the weights at the stream
# ceiling, as compiled decode does; without the gap their mbu absorbed it).
PARAMS: list[tuple[tuple[str, ...], str, float, float, bool]] = [
    (("eager", "compiled", "vllm", "vllm-0.7", "vllm-0.11"), "gpu_per_layer_s", 1e-7, 3e-4, True),
    (("eager",), "host_per_layer_s", 5e-5, 4e-3, True),
    (("eager",), "fixed_per_step_s", 1e-4, 2e-2, True),
    (("eager",), "host_per_collective_s", 1e-6, 3e-3, True),
    (("eager", "compiled"), "denoise_step_s", 1e-4, 5e-2, True),
    (("eager", "compiled"), "request_fixed_s", 0.0, 0.6, False),
    (("eager", "compiled"), "vae_efficiency", 0.05, 1.0, True),
    (("eager", "compiled"), "act_scale", 0.1, 5.0, True),
    (("vllm", "vllm-0.7", "vllm-0.11"), "mbu", 0.5, 1.0, False),
    (("vllm", "vllm-0.11"), "fixed_per_step_s", 1e-5, 1e-2, True),
    (("vllm", "vllm-0.7", "vllm-0.11"), "host_per_sequence_s", 0.0, 2e-4, False),
    (("vllm-0.7",), "fixed_per_step_s", 1e-5, 1e-2, True),
    (("vllm-0.4",), "host_per_layer_s", 1e-6, 2e-3, True),
    (("vllm-0.4",), "fixed_per_step_s", 1e-5, 1e-2, True),
    (("vllm-0.4", "vllm-0.7"), "eager_host_per_layer_s", 1e-5, 2e-3, True),
]
GROUPS = (
    ("eager", "compiled", "vllm", "vllm-0.7", "vllm-0.11", "vllm-0.4"),
)  # engines fitted together (they share parameters)
VLLM_PRIOR = 4.5  # vLLM-class server vs reference code, end to end (Emu3.5 README: 4-5x)
# A parameter with no fitting entry in a fold (see the module docstring): the parameter whose fold value it takes,
# times a factor. Without the source parameter's entries either, it takes the middle of its search range.
# Today's vLLM has no per-layer host term to pass (it replays one CUDA graph per decode step: engines.yaml), so
# eager's per-layer host cost takes vLLM 0.4's, whose LlamaGen serving runs launched per layer.
PRIORS: dict[tuple[tuple[str, ...], str], tuple[tuple[tuple[str, ...], str], float]] = {
    (("vllm", "vllm-0.11"), "fixed_per_step_s"): ((("eager",), "fixed_per_step_s"), 1 / VLLM_PRIOR),
    (("vllm-0.4",), "host_per_layer_s"): ((("eager",), "host_per_layer_s"), 1 / VLLM_PRIOR),
    (("vllm-0.4",), "fixed_per_step_s"): ((("eager",), "fixed_per_step_s"), 1 / VLLM_PRIOR),
    (("eager",), "host_per_layer_s"): ((("vllm-0.4",), "host_per_layer_s"), VLLM_PRIOR),
    (("eager",), "fixed_per_step_s"): ((("vllm", "vllm-0.11"), "fixed_per_step_s"), VLLM_PRIOR),
    (("vllm-0.7",), "fixed_per_step_s"): ((("vllm", "vllm-0.11"), "fixed_per_step_s"), 1.0),
    # vLLM V0's eager decoder layer makes 11 operator calls (engines.yaml decode_graphs), at eager code's cost per
    # launch (eager's host_per_layer_s is per 63: tokcost.engine.physics.REFERENCE_LAUNCHES)
    (("vllm-0.4", "vllm-0.7"), "eager_host_per_layer_s"): ((("eager",), "host_per_layer_s"), 11 / 63),
}
COARSE = 41  # points in a coarse grid (over the whole range)
FINE = 41  # points in a fine grid (around the current value)
COARSE_SWEEPS = 2
FINE_WIDTHS = (0.5, 0.15, 0.04)  # a fine grid spans the value x (1 -/+ width) (log) or +/- width x the range
FINE_SWEEPS = 4  # at most, per width: fewer when a sweep moves nothing
# how close a refit must come to engines.fitted.yaml to count as reproducing it (values are committed to 3 figures)
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
    """The entries the fit learns from: every scored one but training runs and those of a family whose runs do not
    train the engine profiles (:attr:`~tokcost.records.families.FamilySchema.fitted`: scored out of sample)."""
    out = []
    for e in entries:
        row = V.price_entry(e, catalog)
        if not row.scored or e.metric == "gpu_hours":
            continue
        if e.model is not None and not catalog.model(e.model).generation.fitted:
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
    return np.asarray(estimate_arrays(cfg, "central").measure(case.metric), dtype=float)


def _objective(cases: list[_Case], keep: np.ndarray, profiles: dict, shape) -> np.ndarray:
    """Sum of |ln(predicted / measured)| of each fit (row of ``keep``) over its cases, at every trial value:
    ``shape`` = (fits, trial values). Each case is priced once for all the fits. A fit's mean error is this sum
    over its cases; the sweeps pass only the cases the swept parameter moves, whose sum differs from the whole
    mean's by a constant and a positive factor, so it has the same best trial value."""
    if not cases:
        return np.zeros(shape)
    errs = np.stack([np.broadcast_to(np.abs(np.log(_predict(c, profiles) / c.measured)), shape) for c in cases])
    return np.stack([np.sum(errs[keep[i], i], axis=0) for i in range(shape[0])])


def _fit_group(group: tuple, cases: list[_Case], keep: np.ndarray, values: dict, coarse: bool, tick) -> None:
    """Coordinate descent for one engine group's parameters, for every fit at once: row i of ``keep`` marks the
    cases of fit i (each has some), ``values`` holds each parameter's value in every fit (arrays, one per fit)
    and is updated in place. A sweep that moves nothing leaves the values as they were, so a fit that has
    settled repeats it unchanged while the others go on: each fit ends where it would alone."""
    keys = [(e, f, lo, hi, log) for e, f, lo, hi, log in PARAMS if set(e) <= set(group)]
    n_fits = keep.shape[0]
    # the cases each parameter moves: pricing the others at every trial value would add the same to each
    moved_by = {(e, f): [j for j, c in enumerate(cases) if _depends((e, f), c)] for e, f, *_ in keys}
    # a parameter no case of a fit depends on stays put in that fit (its objective is flat; fit_subsets sets it)
    identified = {key: keep[:, own].any(axis=1) for key, own in moved_by.items()}

    def sweep(make_grid) -> bool:
        moved = False
        for e, f, lo, hi, log in keys:
            grid = np.stack([make_grid(v, lo, hi, log) for v in values[(e, f)]])  # fits x trial values
            trial = {k: v[:, None] for k, v in values.items()} | {(e, f): grid}
            own = moved_by[(e, f)]
            obj = _objective([cases[j] for j in own], keep[:, own], profiles_with(trial), grid.shape)
            best = grid[np.arange(n_fits), np.argmin(obj, axis=1)]
            move = ~np.isclose(best, values[(e, f)], rtol=1e-9, atol=1e-15) & identified[(e, f)]
            values[(e, f)] = np.where(move, best, values[(e, f)])
            moved = moved or bool(move.any())
        tick()
        return moved

    for _ in range(COARSE_SWEEPS if coarse else 0):
        sweep(lambda v, lo, hi, log: _grid(lo, hi, log, COARSE))
    for width in FINE_WIDTHS:
        for sweep_no in range(FINE_SWEEPS):

            def fine(v, lo, hi, log, w=width):
                if log:
                    return np.geomspace(max(lo, v * (1 - w)), min(hi, v * (1 + w)), FINE)
                span = (hi - lo) * w
                return np.linspace(max(lo, v - span), min(hi, v + span), FINE)

            if not sweep(fine):
                tick(FINE_SWEEPS - 1 - sweep_no)  # the sweeps left at this width are skipped
                break


# The diffusion pipeline's terms: the sampler's time per denoising step, and around the loop the request's fixed
# cost and the VAE decode, which a steps/s figure (the denoising loop alone) leaves out.
_DENOISING_STEP = "denoise_step_s"
_AROUND_THE_LOOP = ("request_fixed_s", "vae_efficiency")
_ELEMENTWISE = "act_scale"  # prices a denoiser's element-wise passes and an AR decoder's prefill passes
_PER_COLLECTIVE = "host_per_collective_s"  # the host's cost of each collective a multi-GPU replica calls


def _depends(key: tuple, case: _Case) -> bool:
    """Whether ``case``'s prediction depends on the parameter ``key`` = (engines, field) (tests/test_validate.py
    checks every "no" by pricing the case at both ends of the parameter's range)."""
    engines, field = key
    if case.entry.engine not in engines:
        return False
    denoiser = case.config.model.denoiser if case.config is not None else None
    if field == _DENOISING_STEP or field in _AROUND_THE_LOOP:
        return denoiser is not None and (field == _DENOISING_STEP or case.entry.metric != "steps_per_s")
    if field == _ELEMENTWISE:
        decoder = case.config.model.architecture if case.config is not None else case.entry.architecture
        return denoiser is not None or decoder is not None
    if field == _PER_COLLECTIVE:  # only a multi-GPU replica calls collectives
        return (case.entry.conditions.gpus or 1) > 1
    return True


def _has_cases(cases: list[_Case], keep: np.ndarray, key: tuple) -> np.ndarray:
    """Per fit (row of ``keep``): whether it keeps a case that the parameter ``key`` = (engines, field) prices."""
    return np.asarray(keep[:, [_depends(key, c) for c in cases]].any(axis=1))


def committed_values() -> dict:
    """The central values now in tokcost/data/generated/engines.fitted.yaml (scripts/fit_engines.py) for every fitted
    parameter."""
    from tokcost.engine.profiles import Efficiency
    from tokcost.io.engines import load_engines

    prof = load_engines()
    out = {}
    for e, f, *_ in PARAMS:
        r = getattr(prof[e[0]], f)
        # an optional term left out of the profiles prices as the Efficiency default
        out[(e, f)] = getattr(Efficiency, f) if r is None else float(r.mid)
    return out


def initial_values() -> dict:
    """Where the search starts: the middle of each range (geometric for log grids). Fixed, so that the fit over
    the whole set does not depend on what engines.fitted.yaml holds now."""
    return {(e, f): (float(np.sqrt(lo * hi)) if log else (lo + hi) / 2) for e, f, lo, hi, log in PARAMS}


def sweep_count(coarse: bool) -> int:
    """The most sweeps a fit makes (fewer when the fine sweeps settle early): its progress steps."""
    return len(GROUPS) * ((COARSE_SWEEPS if coarse else 0) + len(FINE_WIDTHS) * FINE_SWEEPS)


def fit(cases: list[_Case], start: dict | None = None, progress=None) -> dict:
    """Fit every engine group on ``cases``. Without ``start``: from :func:`initial_values`, coarse grids over
    the whole ranges first. With ``start`` (a cross-validation fold, warm-started from the whole-set fit): the
    finer local grids only. A parameter without cases gets its prior (:data:`PRIORS`). ``progress``: as
    in :func:`fit_subsets`."""
    return fit_subsets(cases, np.ones((1, len(cases)), dtype=bool), start, progress)[0]


def fit_subsets(cases: list[_Case], keep: np.ndarray, start: dict | None = None, progress=None) -> list[dict]:
    """:func:`fit` on several subsets of ``cases`` at once (row i of the boolean ``keep`` marks the cases of fit
    i; the cross-validation's folds): the same values as one :func:`fit` per subset, with each trial priced once
    for all of them. ``progress(done, total)``, when given, is called after every sweep."""
    coarse = start is None
    start = dict(start or initial_values())
    n_fits = keep.shape[0]
    values = {k: np.full(n_fits, v, dtype=float) for k, v in start.items()}
    total = sweep_count(coarse)
    done = 0

    def tick(n: int = 1) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    for group in GROUPS:
        mine = np.flatnonzero([c.entry.engine in group for c in cases])
        fits = np.flatnonzero(keep[:, mine].any(axis=1))  # a fit without cases of the group keeps its start
        if not fits.size:
            tick(total // len(GROUPS))
            continue
        own = {k: v[fits] for k, v in values.items()}
        _fit_group(group, [cases[j] for j in mine], keep[np.ix_(fits, mine)], own, coarse, tick)
        for k, v in own.items():
            values[k][fits] = v
    fitted = {(e, f): _has_cases(cases, keep, (e, f)) for e, f, *_ in PARAMS}
    middle = initial_values()
    priors = {}
    for key, ok in fitted.items():
        if ok.all():
            continue
        src, factor = PRIORS.get(key, (None, 1.0))
        prior = np.full(n_fits, middle[key])
        if src is not None:
            prior = np.where(fitted[src], values[src] * factor, prior)
        priors[key] = np.where(ok, values[key], prior)
    values |= priors  # set after every prior is taken, so that none is taken from another prior
    return [{k: float(v[i]) for k, v in values.items()} for i in range(n_fits)]


@dataclass
class FitReport:
    values: dict  # {(engine, field): value} fitted on every scored entry
    folds: dict  # source -> {(engine, field): value} fitted without that source
    in_sample: list  # validation Rows priced with ``values``
    held_out_by: dict  # kind (V.HELD_OUT_BY) -> validation Rows, each priced with the fold that left its group out

    @property
    def held_out(self) -> list:
        """The leave-one-source-out Rows (empty without the held-out run)."""
        return self.held_out_by.get("source", [])

    def ranges(self) -> dict:
        """Per parameter: min and max over the leave-one-source-out refits (the band's ends)."""
        out = {}
        for k, v in self.values.items():
            xs = [f[k] for f in self.folds.values()] + [v]
            out[k] = (min(xs), max(xs))
        return out


def cross_validate(entries, catalog, refit: bool = True, held_out: bool = True, progress=None) -> FitReport:
    """In-sample errors, and held-out errors three ways (by source, GPU and engine: :data:`V.HELD_OUT_BY`).

    ``refit``: fit the whole set from :func:`initial_values` (``tokcost validate --fit``); otherwise take the
    values committed in engines.fitted.yaml. The values are rounded to 3 significant figures (what that file holds)
    before pricing. ``held_out``: for every group of every kind, refit warm-started from those values on the
    entries outside the group and predict the group's entries; all the folds are fitted in one lockstep
    :func:`fit_subsets`. ``progress(done, total)``, when given, is called after each step: every sweep of the
    whole-set fit, the whole-set pricing, every sweep of the folds' refits."""
    cases = _cases(entries, catalog)
    labels = {kind: [group(c.entry) for c in cases] for kind, group in V.HELD_OUT_BY.items()} if held_out else {}
    folds_of = [(kind, g) for kind, ls in labels.items() for g in sorted(set(ls))]
    before = sweep_count(coarse=True) if refit else 0  # the steps before the whole-set pricing
    total = before + 1 + (sweep_count(coarse=False) if folds_of else 0)

    def after(offset: int):
        """``progress`` for a part of the run that starts after ``offset`` steps."""
        return None if progress is None else (lambda done, _: progress(offset + done, total))

    raw = fit(cases, progress=after(0)) if refit else committed_values()
    full = {k: sig(v) for k, v in raw.items()}
    in_sample = [V.price_entry(e, catalog, profiles_with(full)) for e in entries]
    if progress is not None:
        progress(before + 1, total)
    by_id = {r.id: r for r in in_sample}
    folds: dict = {}
    held: dict = {kind: {} for kind in labels}
    if folds_of:
        keep = np.array([[x != g for x in labels[kind]] for kind, g in folds_of])
        fitted = fit_subsets(cases, keep, start=full, progress=after(before + 1))
        for (kind, g), vals, kept in zip(folds_of, fitted, keep, strict=True):
            if kind == "source":
                folds[g] = vals
            prof = profiles_with(vals)
            for c, k in zip(cases, kept, strict=True):
                if not k:
                    held[kind][c.entry.id] = V.price_entry(c.entry, catalog, prof)
    rows = {
        kind: [mine.get(e.id, by_id[e.id]) if by_id[e.id].scored else by_id[e.id] for e in entries]
        for kind, mine in held.items()
    }
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
    by = {kind: V.summary_by_family(rows) for kind, rows in rep.held_out_by.items()} if held_out else None
    held = by["source"] if by else None
    fails = V.gate(ins, th, "in-sample")
    scored = sum(1 for r in rep.in_sample if r.scored)
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
    held_by_id = {kind: {r.id: r for r in rows} for kind, rows in rep.held_out_by.items()}
    rows = []
    for r in rep.in_sample:
        d = r.to_dict()
        h = held_by_id.get("source", {}).get(r.id)
        if r.scored and h is not None and h.scored:
            d.update(held_out_predicted=h.predicted, held_out_ratio=h.ratio)
            d["held_out_ratios"] = {kind: mine[r.id].ratio for kind, mine in held_by_id.items()}
        rows.append(d)
    return ValidationResult(
        **{
            "refit": refit,
            "definitions": dict(DEFINITIONS),
            "thresholds": th.model_dump(),
            "summary": {"in_sample": ins, "held_out": held, "held_out_worst": V.worst_of(by) if by else None},
            "held_out_by": by,
            "bands": V.widest_bands({k: V.error_bands(rows) for k, rows in rep.held_out_by.items()}) if by else {},
            "parameters": params,
            "entries": rows,
            "failures": fails,
            "scored": scored,
            "passed": not fails and scored > 0,  # a gate over nothing would pass
        }
    )
