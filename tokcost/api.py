"""tokcost as a Python library: the functions the CLI is a thin layer over.

Keyword arguments are named like the CLI's flags (``--tokens-per-forward`` is ``tokens_per_forward``), take the
same ranges, and return the records whose ``model_dump(mode="json")`` is what ``--format json`` prints. Every
problem with the input, in a file or in an argument, raises :class:`tokcost.InputError`, whose ``problems`` carry
``file:line:col`` positions (``(arguments)`` and the argument's name for arguments).

The heavy parts (numpy, the presets) load on first call, so ``import tokcost`` stays cheap.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, validate_call

from tokcost.errors import ARGUMENTS, InputError, Problem

# the records the checked functions return: their annotations are resolved when the module loads
from tokcost.records.estimate import Batch, EstimateRequest, EstimateResult, Frames, Gpus, Steps
from tokcost.records.spec import Precision, VaePrecision
from tokcost.records.sweep import SweepResult
from tokcost.records.tokens import TokensResult
from tokcost.records.training import TrainComparison, TrainResult
from tokcost.text import quoted

if TYPE_CHECKING:
    from tokcost.io.catalog import Catalog
    from tokcost.records.gate import DiffResult, GateResult
    from tokcost.records.results import AnalysisResult
    from tokcost.records.simulation import SimulationResult
    from tokcost.records.spec import Spec
    from tokcost.records.validation import ValidationResult

PathArg = str | os.PathLike
Presets = Sequence[PathArg] | None
# a count (tokens, GPUs, pixels): bounded far above any real one, so that no argument overflows a float later
Count = Annotated[int, Field(ge=1, le=1_000_000_000)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
AtLeastOne = Annotated[float, Field(ge=1, allow_inf_nan=False)]
# a sweep's sizes in pixels
SweepSide = Annotated[int, Field(ge=16, le=16384)]
# --price ID=USD: your price per GPU-hour for a hardware id, which wins over the spec and the catalogue
Prices = Mapping[str, float] | None  # checked by price_overrides, with the hardware ids


def _arguments(fn):
    """Check keyword arguments against their declared types and ranges (pydantic's ``validate_call``, built on
    first use so that importing tokcost stays cheap); every problem becomes one :class:`InputError` naming the
    argument."""

    @functools.cache
    def checked():
        return validate_call(fn)

    @functools.wraps(fn)
    def call(**kwargs):
        try:
            result = checked()(**kwargs)
        except ValidationError as err:
            raise InputError([_problem(e) for e in err.errors(include_url=False)]) from None
        _finite_result(result)
        return result

    return call


def _finite_result(result: Any) -> None:
    """A result record whose numbers overflowed (``train(tokens=1e300)``: infinite FLOPs and dollars) is bad
    input, not a result: InputError naming the first field that is not finite. Sweep columns (NaN where a column
    does not apply) are not records and are not checked."""
    import math

    from pydantic import BaseModel

    if not isinstance(result, BaseModel):
        return
    stack: list[tuple[str, Any]] = [("", result.model_dump())]
    while stack:
        where, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(
                [Problem(ARGUMENTS, 0, 0, "", f"the inputs are beyond what tokcost can price: {where} is {value}")]
            )
        if isinstance(value, dict):
            stack += [(f"{where}.{k}" if where else str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(f"{where}[{i}]", v) for i, v in enumerate(value)]


def _problem(error: Mapping[str, Any]) -> Problem:
    """A pydantic error as a problem with the argument it concerns; a list item's error quotes the item."""
    param, *within = error["loc"]
    message = f"{quoted(error['input'])}: {error['msg']}" if within else error["msg"]
    return Problem(ARGUMENTS, 0, 0, str(param), message)


def _path(value: Any, argument: str) -> str:
    """``value`` as a path, or an :class:`InputError` naming ``argument``: not a str or os.PathLike (None, a
    number), empty, holding a NUL or a newline (YAML text passed where a file name goes), or too long to be one."""
    if not isinstance(value, (str, os.PathLike)):
        raise InputError([Problem(ARGUMENTS, 0, 0, argument, f"expected a file path, got {type(value).__name__}")])
    text = os.fspath(value)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if not text or "\0" in text or "\n" in text or len(text) > 4096:
        what = (
            "YAML text, not a file path (pass a mapping, or write it to a file)" if "\n" in text else "not a file path"
        )
        raise InputError([Problem(ARGUMENTS, 0, 0, argument, f"{quoted(text)} is {what}")])
    return text


def _paths(presets: Any, argument: str = "presets") -> list[str]:
    """Preset folders: a list of paths. A single str is refused, as the checked functions' ``Sequence`` refuses
    it, rather than read letter by letter as folders."""
    if presets is None:
        return []
    if isinstance(presets, (str, bytes, os.PathLike)) or not isinstance(presets, (list, tuple)):
        got = type(presets).__name__
        raise InputError([Problem(ARGUMENTS, 0, 0, argument, f"expected a list of folders, got {got} (one: [path])")])
    return [_path(p, argument) for p in presets]


def catalog(presets: Presets = None) -> Catalog:
    """The built-in presets plus user preset folders (``presets``, a list of paths, then ``$TOKCOST_PRESETS``)."""
    from tokcost.io.catalog import Catalog

    return Catalog.default(_paths(presets))


def price_overrides(prices: Mapping[str, float] | None, cat: Catalog) -> dict[str, float]:
    """``prices`` checked: every problem (an unknown hardware id, a price that is not a positive finite number of
    dollars) raises one :class:`InputError` naming ``price``."""
    import math

    from tokcost.records.prices import MAX_USD_PER_GPU_HOUR

    if prices is not None and not isinstance(prices, Mapping):
        raise InputError(
            [
                Problem(
                    ARGUMENTS, 0, 0, "price", f"expected a mapping of hardware id to USD, got {type(prices).__name__}"
                )
            ]
        )
    problems = []
    named: dict[str, str] = {}  # preset id -> the key that priced it: h100-sxm and H100-SXM are one chip
    for hw, usd in (prices or {}).items():
        if not isinstance(hw, str):
            problems.append(Problem(ARGUMENTS, 0, 0, "price", f"a hardware id is text, not {quoted(hw)}"))
            continue
        if not cat.has("hardware", hw):
            problems.append(Problem(ARGUMENTS, 0, 0, "price", cat.unknown_message("hardware", hw)))
            continue
        same = named.setdefault(cat.resolve("hardware", hw) or hw, hw)
        if same != hw:
            problems.append(Problem(ARGUMENTS, 0, 0, "price", f"{hw} and {same} name the same hardware: price it once"))
        elif isinstance(usd, bool) or not isinstance(usd, (int, float)) or not math.isfinite(usd):
            problems.append(Problem(ARGUMENTS, 0, 0, "price", f"{hw}={quoted(usd)}: the price must be a finite number"))
        elif not 0 < usd <= MAX_USD_PER_GPU_HOUR:
            problems.append(
                Problem(
                    ARGUMENTS,
                    0,
                    0,
                    "price",
                    f"{hw}={usd:g}: the price must be above 0 and at most {MAX_USD_PER_GPU_HOUR:g} USD per GPU-hour",
                )
            )
    if problems:
        raise InputError(problems)
    return {cat.resolve("hardware", hw) or hw: float(usd) for hw, usd in (prices or {}).items()}


def _lookup(cat: Catalog, kind: str, ids: Sequence[str], argument: str) -> tuple[list, list[Problem]]:
    """The presets ``ids`` name (each once), and a problem naming ``argument`` for each unknown id."""
    import dataclasses

    found, problems = [], []
    for preset_id in dict.fromkeys(ids):
        try:
            preset = cat.get(kind, preset_id)
        except InputError as exc:
            problems += [dataclasses.replace(p, field=argument) if p.file == ARGUMENTS else p for p in exc.problems]
            continue
        if preset not in found:
            found.append(preset)
    return found, problems


def _calibration(path: PathArg | None, cat: Catalog):
    from tokcost.io.specs import load_calibration_file

    return load_calibration_file(None if path is None else _path(path, "calibration"), cat)


def load_spec(path: PathArg, *, presets: Presets = None) -> Spec:
    """Read and check one product spec; every problem raises :class:`InputError` with its position."""
    from tokcost.io.specs import load_specs

    ((_, spec, _),) = load_specs([_path(path, "path")], catalog(presets))
    return spec


def analyze(
    specs: PathArg | Spec | Mapping[str, Any] | Sequence[PathArg | Spec | Mapping[str, Any]],
    *,
    calibration: PathArg | None = None,
    presets: Presets = None,
    prices: Prices = None,
) -> AnalysisResult:
    """Recommend a backend and hardware for each spec: paths (files, folders of ``*.yaml``, globs), ``Spec``
    records or plain mappings, alone or in a list. Every spec is checked before any is priced. ``prices`` maps
    hardware ids to your USD per GPU-hour, over the specs' ``pricing:`` and the catalogue."""
    from tokcost.core.analyze import analyze_loaded
    from tokcost.io.specs import expand_paths, load_specs, spec_from_data

    items = list(specs) if isinstance(specs, (list, tuple)) else [specs]
    cat = catalog(presets)
    overrides = price_overrides(prices, cat)
    cal = _calibration(calibration, cat)  # its problems are reported before the specs'
    loaded, problems = [], []
    paths = [_path(s, "specs") for s in items if isinstance(s, (str, os.PathLike))]
    try:
        if paths:
            loaded += load_specs(expand_paths(paths), cat)
    except InputError as exc:
        problems += exc.problems
    for i, item in enumerate(s for s in items if not isinstance(s, (str, os.PathLike))):
        try:
            loaded.append(spec_from_data(item, f"(spec {i + 1})", cat))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return analyze_loaded(loaded, cat, cal, overrides)


def simulate(
    spec: PathArg,
    *,
    trace: PathArg | None = None,
    hours: float | None = None,
    seed: int = 0,
    candidate: str | None = None,
    calibration: PathArg | None = None,
    presets: Presets = None,
    prices: Prices = None,
) -> SimulationResult:
    """A discrete-event check of a spec's recommended fleet (or ``candidate``, ``"MODEL/HARDWARE/ENGINE"``):
    its replicas, fixed or autoscaled over the day, serving the spec's demand (Poisson or bursty) or the requests
    of a trace (``trace``, else the spec's ``demand.trace``) for ``hours`` hours (default a day, or the trace's
    length), static or continuous batching as its engine does, with a seeded random stream. The result says
    whether the budget's percentile is met (``met``)."""
    import math

    from tokcost.core.simulate import simulate_spec
    from tokcost.io.specs import load_specs
    from tokcost.io.trace import load_trace

    problems = []
    if hours is not None and (isinstance(hours, bool) or not (isinstance(hours, (int, float)) and 0 < hours <= 8760)):
        problems.append(Problem(ARGUMENTS, 0, 0, "hours", f"{quoted(hours)}: hours must be above 0 and at most 8,760"))
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        problems.append(Problem(ARGUMENTS, 0, 0, "seed", f"{quoted(seed)}: the seed is a whole number >= 0"))
    if candidate is not None and (not isinstance(candidate, str) or candidate.count("/") != 2):
        problems.append(Problem(ARGUMENTS, 0, 0, "candidate", f"{quoted(candidate)}: give MODEL/HARDWARE/ENGINE"))
    if problems:
        raise InputError(problems)
    cat = catalog(presets)
    overrides = price_overrides(prices, cat)
    cal = _calibration(calibration, cat)
    ((file, loaded, _),) = load_specs([_path(spec, "spec")], cat)
    # the fleet is the one the spec plans; the trace is the traffic it is checked against
    recorded = load_trace(_path(trace, "trace")) if trace is not None else None
    hours = None if hours is None else float(math.ceil(hours))
    return simulate_spec(loaded, file, cat, cal, overrides, candidate, recorded, hours, seed)


def estimate(
    request: EstimateRequest | Mapping[str, Any] | None = None,
    *,
    calibration: PathArg | None = None,
    presets: Presets = None,
    prices: Prices = None,
    **fields: Any,
) -> EstimateResult:
    """Latency, throughput, memory and cost of one configuration on one replica, with its low-high band.

    What to price is an :class:`~tokcost.records.estimate.EstimateRequest` (or a mapping of its fields), or its
    fields as keyword arguments: ``estimate(model="sdxl", hardware="h100-sxm", gpus=2)``. Each field's description
    says what it is and what None means: ``gpus`` GPUs split by ``parallelism`` (tp for AR models, sp / cfg /
    cfg+sp for diffusion, the sequence in rings of ``ring_degree`` GPUs); ``attention`` a diffusion model's attention kernel; ``kv_dtype`` an AR model's KV cache;
    ``host`` the server CPU's single-thread speed relative to the DGX A100's EPYC 7742, which the engines' host
    overheads divide by; ``engine`` a profile of the engine table (None: eager). ``hardware`` None takes the
    calibration's measured device; ``width``/``height``/``steps`` None take the model's own; ``cfg`` None the
    model's own guidance mode. The result lists the defaults it applied (``defaults_applied``) and prices one
    replica busy all the time (``scope``). ``architecture`` is a Llama-style decoder's Hugging Face
    ``config.json``: it replaces ``model``'s decoder (``model`` gives the visual tokenizer and sampling), and a
    decoder that does not fit the replica's memory is refused."""
    from tokcost.core.estimate import estimate_one
    from tokcost.io.architecture import load_architecture

    req = _request(EstimateRequest, request, fields)
    cat = catalog(presets)
    decoder = None if req.architecture is None else load_architecture(_path(req.architecture, "architecture"))
    result = estimate_one(
        cat,
        req,
        calibration=_calibration(calibration, cat),
        prices=price_overrides(prices, cat),
        decoder=decoder,
    )
    _finite_result(result)
    return result


R = TypeVar("R", bound=BaseModel)


def _request(record: type[R], given: Any, fields: Mapping[str, Any]) -> R:
    """The request ``given`` (a ``record``, or a mapping of its fields) or built from keyword arguments, checked
    against the record's types and ranges: every problem becomes one :class:`InputError` naming the field."""
    import difflib

    if given is not None and fields:
        named = ", ".join(fields)
        raise InputError([Problem(ARGUMENTS, 0, 0, "request", f"give a request or its fields ({named}), not both")])
    if isinstance(given, record):
        return given
    data = fields if given is None else given
    if not isinstance(data, Mapping):
        what = f"expected an {record.__name__} record or a mapping of its fields, got {type(data).__name__}"
        raise InputError([Problem(ARGUMENTS, 0, 0, "request", what)])
    try:
        return record.model_validate(dict(data))
    except ValidationError as err:
        problems = []
        for e in err.errors(include_url=False):
            if e["type"] == "extra_forbidden":
                name = str(e["loc"][0])
                close = difflib.get_close_matches(name, list(record.model_fields), n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]}?" if close else ""
                problems.append(Problem(ARGUMENTS, 0, 0, name, f"unexpected keyword argument{hint}"))
            elif e["type"] == "missing":
                problems.append(Problem(ARGUMENTS, 0, 0, str(e["loc"][0]), "missing required argument"))
            else:
                problems.append(_problem(e))
        raise InputError(problems) from None


@_arguments
def train(
    *,
    model: str,
    hardware: str,
    tokens: AtLeastOne | None = None,
    samples: AtLeastOne | None = None,
    gpus: Count = 1,
    mfu: Annotated[float, Field(ge=0.01, le=1.0, allow_inf_nan=False)] | None = None,
    context: Count | None = None,
    width: Annotated[int, Field(ge=16, le=1_000_000)] | None = None,
    height: Annotated[int, Field(ge=16, le=1_000_000)] | None = None,
    frames: Count | None = None,
    presets: Presets = None,
    prices: Prices = None,
) -> TrainResult:
    """Training compute, GPU-hours, wall-clock days and cost: ``tokens`` for AR models, ``samples`` (images or
    clips seen) for diffusion (default: the model's published training run, where its preset has one: SD 1.5).
    ``mfu`` None takes the hardware's training MFU."""
    from tokcost.core.estimate import train_one
    from tokcost.errors import UsageError

    if tokens is not None and samples is not None:
        raise UsageError("give one of tokens (AR) or samples (diffusion), not both", param="tokens")
    cat = catalog(presets)
    return train_one(
        cat,
        model=model,
        hardware=hardware,
        prices=price_overrides(prices, cat),
        tokens=tokens,
        samples=samples,
        gpus=gpus,
        mfu=mfu,
        context=context,
        width=width,
        height=height,
        frames=frames,
    )


@_arguments
def compare_training(
    *,
    models: Annotated[Sequence[str], Field(min_length=1)],
    hardware: str,
    tokens: AtLeastOne | None = None,
    samples: AtLeastOne | None = None,
    gpus: Count = 1,
    mfu: Annotated[float, Field(ge=0.01, le=1.0, allow_inf_nan=False)] | None = None,
    context: Count | None = None,
    width: Annotated[int, Field(ge=16, le=1_000_000)] | None = None,
    height: Annotated[int, Field(ge=16, le=1_000_000)] | None = None,
    frames: Count | None = None,
    presets: Presets = None,
    prices: Prices = None,
) -> TrainComparison:
    """:func:`train` for several models on the same hardware, in one table: each AR model trains on ``tokens``,
    each diffusion model on ``samples`` ("Emu3 at 300B tokens or SD3 at 1B images: which costs more?"). A diffusion
    model that publishes no sample count, with ``samples`` not given, is priced at its break-even: the samples at
    which its training compute equals the first other model's (``samples_basis`` break_even)."""
    from tokcost.core.estimate import train_one
    from tokcost.errors import UsageError

    cat = catalog(presets)
    overrides = price_overrides(prices, cat)
    presets_, problems = _lookup(cat, "models", models, "model")
    if problems:
        raise InputError(problems)
    for m in presets_:
        if m.generation.trains_on == "tokens" and tokens is None:
            raise UsageError(f"{m.id} is {m.generation.label}: give the training tokens", param="tokens")

    def run(m, samples_):
        on_tokens = m.generation.trains_on == "tokens"
        return train_one(
            cat,
            model=m.id,
            hardware=hardware,
            prices=overrides,
            tokens=tokens if on_tokens else None,
            samples=None if on_tokens else samples_,
            gpus=gpus,
            mfu=mfu,
            context=context if on_tokens else None,
            width=None if on_tokens else width,
            height=None if on_tokens else height,
            frames=None if on_tokens else frames,
        )

    # a diffusion model with no sample count (none given, none published) is priced at the count that matches the
    # first other model's training compute: the break-even, so the comparison holds for any count in mind
    unknown = {
        m.id
        for m in presets_
        if m.generation.trains_on == "samples" and samples is None and (m.training is None or not m.training.samples)
    }
    runs = {m.id: run(m, samples) for m in presets_ if m.id not in unknown}
    if unknown:
        if not runs:
            raise UsageError(
                f"{', '.join(sorted(unknown))} publish no training sample count and no other model sets a compute to "
                "match: give the training samples",
                param="samples",
            )
        from tokcost.engine.training import break_even_samples

        ref = next(iter(runs.values()))
        for m in presets_:
            if m.id in unknown:
                n = break_even_samples(m, ref.flops, width, height, frames)
                runs[m.id] = run(m, n).model_copy(update={"samples_basis": "break_even", "break_even_with": ref.model})
    return TrainComparison(runs=[runs[m.id] for m in presets_])


@_arguments
def tokens(
    *,
    width: Count,
    height: Count,
    model: str | None = None,
    frames: Count | None = None,
    fps: Positive | None = None,
    spatial_factor: Count | None = None,
    temporal_factor: Count = 1,
    temporal_rule: Literal["causal", "chunked"] = "causal",
    pad: bool = False,
    presets: Presets = None,
) -> TokensResult:
    """Exact token counts of an image or clip: with ``model`` (its tokenizer or VAE), or model-free with
    ``spatial_factor``. ``pad`` rounds sizes up to what the tokenizer takes instead of failing."""
    from tokcost.core.tokens import count_tokens

    preset = catalog(presets).model(model) if model is not None else None
    return count_tokens(
        preset,
        width=width,
        height=height,
        frames=frames,
        fps=fps,
        spatial_factor=spatial_factor,
        temporal_factor=temporal_factor,
        temporal_rule=temporal_rule,
        pad=pad,
    )


@_arguments
def sweep(
    *,
    models: Sequence[str],
    hardware: Sequence[str],
    resolutions: Sequence[tuple[SweepSide, SweepSide]],
    frames: Sequence[Frames] | None = None,
    batches: Sequence[Batch] = (1,),
    steps: Sequence[Steps] | None = None,
    engines: Sequence[str] | None = None,
    precision: Precision = "bf16",
    vae_precision: VaePrecision | None = None,
    gpus: Sequence[Gpus] = (1,),
    presets: Presets = None,
    prices: Prices = None,
    on_start=None,
    on_group=None,
) -> SweepResult:
    """Price every combination, one row each, as numpy columns (``result.columns``; ``result.rows`` counts them;
    at most 2,000,000 rows: :func:`sweep_stream` takes any size). ``resolutions`` are ``(width, height)`` pairs;
    combinations a model cannot serve are skipped and listed in ``result.skipped``. For progress bars:
    ``on_start(total_rows)`` is called once the sweep is planned, and ``on_group(n)`` as each chunk of ``n`` rows
    is priced. ``gpus`` are replica sizes (GPUs splitting each forward, :func:`estimate`'s default parallelism);
    a size a model or chip cannot take is skipped (in ``result.skipped``). ``prices`` (hardware id -> USD per GPU-hour) win
    over the default price basis; each chip's price and its provider are in ``result.prices``."""
    from tokcost.core.sweep import run_sweep

    stream = _sweep_plan(
        models, hardware, resolutions, frames, batches, steps, engines, precision, vae_precision, gpus, presets, prices
    )
    result = run_sweep(stream.req, on_group=on_group, on_start=on_start)
    result.prices = stream.prices
    return result


@_arguments
def sweep_stream(
    *,
    models: Sequence[str],
    hardware: Sequence[str],
    resolutions: Sequence[tuple[SweepSide, SweepSide]],
    frames: Sequence[Frames] | None = None,
    batches: Sequence[Batch] = (1,),
    steps: Sequence[Steps] | None = None,
    engines: Sequence[str] | None = None,
    precision: Precision = "bf16",
    vae_precision: VaePrecision | None = None,
    gpus: Sequence[Gpus] = (1,),
    presets: Presets = None,
    prices: Prices = None,
):
    """:func:`sweep` planned but not priced: ``.rows``, ``.prices`` and ``.skipped`` at once, then ``.chunks()`` yields the
    rows as column dicts of at most 250,000 rows each, priced as they are read (memory stays flat at any size, up
    to 20,000,000 configurations). ``tokcost sweep --format csv|jsonl`` writes these chunks as they come."""
    return _sweep_plan(
        models, hardware, resolutions, frames, batches, steps, engines, precision, vae_precision, gpus, presets, prices
    )


def _sweep_plan(
    models, hardware, resolutions, frames, batches, steps, engines, precision, vae_precision, gpus, presets, prices
):
    from tokcost.core.pricing import price_book
    from tokcost.core.sweep import SweepRequest, plan_sweep
    from tokcost.io.prices import load_prices
    from tokcost.records.sweep import SweepPrices

    cat = catalog(presets)
    model_presets, problems = _lookup(cat, "models", models, "models")
    chips, more = _lookup(cat, "hardware", hardware, "hardware")
    if problems or more:
        raise InputError(problems + more)
    book = price_book(chips, load_prices(), overrides=price_overrides(prices, cat))
    req = SweepRequest(
        models=model_presets,
        hardware=chips,
        resolutions=list(dict.fromkeys((w, h) for w, h in resolutions)),
        frames=list(dict.fromkeys(frames)) if frames is not None else None,
        batches=list(dict.fromkeys(batches)),
        steps=list(dict.fromkeys(steps)) if steps is not None else None,
        engines=list(dict.fromkeys(engines)) if engines is not None else None,
        precision=precision,
        vae_precision=vae_precision,
        gpus=list(dict.fromkeys(gpus)),
        prices=book.usd_per_gpu_hour(),
    )
    stream = plan_sweep(req)
    stream.prices = SweepPrices(book.basis, dict(book.quotes), list(book.unpriced.values()))
    return stream


def validate(
    *,
    measurements: PathArg | None = None,
    fit: bool = False,
    in_sample_only: bool = False,
    cache: bool = True,
    presets: Presets = None,
    progress=None,
) -> ValidationResult:
    """Every published measurement (``measurements``, default the built-in set) priced through :func:`estimate`'s
    code path, with the error summary in-sample and held out three ways (each source, GPU and engine left out in turn;
    ``in_sample_only`` skips them) and
    its gate (``result.passed``). ``fit`` refits the engine parameters over the whole set first. With ``cache`` the
    result is read back from the user's cache when nothing it is computed from changed (the measurements, the
    presets, tokcost's code and data: :mod:`tokcost.io.cache`), and stored after a recomputation.
    ``progress(done, total)`` is called as the cross-validation advances."""
    from tokcost.core.fit import validation_result
    from tokcost.io.cache import validation_cache_key, write_cached
    from tokcost.io.measurements import load_entries
    from tokcost.io.paths import MEASUREMENTS_FILE

    path = Path(_path(measurements, "measurements")) if measurements is not None else MEASUREMENTS_FILE
    cat = catalog(presets)
    entries = load_entries(path, cat)
    held_out = not in_sample_only
    name = f"validate-{'refit' if fit else 'committed'}-{'held-out' if held_out else 'in-sample'}"
    key = validation_cache_key(path, cat, refit=fit, held_out=held_out) if cache else None
    cached = None if key is None else _cached_validation(name, key)
    if cached is not None:
        return cached
    result = validation_result(entries, cat, refit=fit, held_out=held_out, progress=progress)
    if key is not None:
        write_cached(name, key, result.model_dump_json())
    return result


def _cached_validation(name: str, key: str) -> ValidationResult | None:
    """The cached result for these inputs, or None (no cache, other inputs, or a file that does not parse)."""
    from pydantic import ValidationError as RecordError

    from tokcost.io.cache import read_cached
    from tokcost.records.validation import ValidationResult

    text = read_cached(name, key)
    if text is None:
        return None
    try:
        return ValidationResult.model_validate_json(text)
    except RecordError:
        return None


def check(
    specs: PathArg | Sequence[PathArg],
    *,
    baseline: PathArg | None = None,
    max_cost_increase: float | None = None,
    max_latency_increase: float | None = None,
    calibration: PathArg | None = None,
    presets: Presets = None,
    prices: Prices = None,
    progress=None,
) -> GateResult:
    """The CI gate: analyse ``specs`` (files, folders of ``*.yaml``, globs), compare each with its budgets and,
    with ``baseline`` (a saved :func:`analyze` result), with the past result under the ``max_*_increase`` limits in
    percent. ``result.exit_code`` is what ``tokcost check`` exits with (0 pass, 1 a gate failed); every problem
    with the input raises :class:`InputError` before any spec is priced."""
    from tokcost.core.analyze import analyze_loaded
    from tokcost.core.gate import compare
    from tokcost.errors import UsageError
    from tokcost.io.baseline import load_result
    from tokcost.io.specs import expand_paths, load_specs
    from tokcost.records.gate import Limits

    if baseline is None and (max_cost_increase is not None or max_latency_increase is not None):
        raise UsageError("a maximum cost or latency increase needs a baseline to compare with", param="baseline")
    cat = catalog(presets)
    overrides = price_overrides(prices, cat)
    items = [specs] if isinstance(specs, (str, os.PathLike)) or not isinstance(specs, (list, tuple)) else specs
    paths = [_path(p, "specs") for p in items]
    base_path = None if baseline is None else _path(baseline, "baseline")
    cal = _calibration(calibration, cat)  # its problems are reported before the specs'
    loaded = load_specs(expand_paths(paths), cat)  # every spec problem, before any work
    docs = {f: doc for f, _, doc in loaded}
    base = load_result(Path(base_path)) if base_path is not None else None
    result = analyze_loaded(loaded, cat, cal, overrides, progress=progress)
    limits = Limits(max_cost_increase_pct=max_cost_increase, max_latency_increase_pct=max_latency_increase)
    return compare(
        result,
        base,
        limits,
        locate=lambda f, path: docs[f].where(path),
        baseline_name=str(baseline) if baseline is not None else None,
    )


def diff(base: PathArg | AnalysisResult, head: PathArg | AnalysisResult) -> DiffResult:
    """Past, current and delta of two :func:`analyze` results: saved JSON files (``--format json``) or records."""
    from tokcost.core.gate import diff as diff_results
    from tokcost.io.baseline import load_result
    from tokcost.records.results import AnalysisResult

    def result(item: PathArg | AnalysisResult, argument: str) -> AnalysisResult:
        return item if isinstance(item, AnalysisResult) else load_result(Path(_path(item, argument)), argument)

    return diff_results(result(base, "base"), result(head, "head"))
