"""Run the benchmark end to end: device, ceilings, grid, fit, optional transformers comparison; return the
JSON-ready result and the calibration. No printing here: progress goes through the ``progress`` callbacks."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import re
from dataclasses import dataclass, field

import torch

from tokcost.bench.calibrate import Arch, build_targets, fit_efficiency, predict, split_of
from tokcost.bench.ceilings import measure_ceilings
from tokcost.bench.decoder import DTYPES, Decoder, Shape
from tokcost.bench.grid import GridOptions, is_oom, run_grid
from tokcost.engine import physics
from tokcost.engine.estimate import host_speed, l2_figures
from tokcost.engine.profiles import efficiency
from tokcost.errors import UsageError
from tokcost.io.calibration import measured_preset
from tokcost.io.elementwise import load_elementwise
from tokcost.io.engines import load_engines
from tokcost.records.calibration import KNOWN_GPUS, Benchmark, CalibrationFile, Device, Fit, Point, Software
from tokcost.version import __version__

CPU_DEFAULTS = {"batches": (1, 2), "contexts": (32, 128), "repeats": 3, "head_repeats": 1, "prefill_repeats": 1}
GPU_DEFAULTS = {
    "batches": (1, 4, 16, 64),
    "contexts": (128, 512, 2048),
    "repeats": 10,
    "head_repeats": 10,
    "prefill_repeats": 3,
}
FIT_METHOD = (
    "least squares on relative error over the fit split (checkerboard of batch x context cells); "
    "grid + refinement search of mfu, mbu, host_per_layer_s with closed-form fixed_per_step_s "
    "(tokcost/bench/calibrate.py)"
)


@dataclass
class BenchOptions:
    model: str = "emu3-gen"
    layers: int | None = None
    batches: tuple[int, ...] | None = None
    contexts: tuple[int, ...] | None = None
    repeats: int | None = None
    head_repeats: int | None = None
    gpu: bool = False
    dtype: str = "bf16"
    engine: str = "custom"
    new_tokens: int | None = None
    seed: int = 0
    threads: int | None = None
    output: str | None = None
    notes: list[str] = field(default_factory=list)


class NullProgress:
    def start(self, total: int, description: str) -> None:
        pass

    def advance(self) -> None:
        pass


def choose_device(gpu: bool) -> torch.device:
    if not gpu:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UsageError(
            "needs a CUDA device, and torch sees none (torch.cuda.is_available() is False; "
            f"torch {torch.__version__} built for CUDA {torch.version.cuda or 'none'})",
            param="gpu",
        )
    return torch.device("cuda")


def _slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-.")
    return ("measured-" + (s or "device"))[:64].rstrip("-.")


def device_info(device: torch.device, ceil, dtype: str) -> Device:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        name, mem = props.name, props.total_memory / 1e9
        preset = KNOWN_GPUS.get(name)
        threads = None
    else:
        name, mem, preset, threads = _cpu_name(), _host_memory_gb(), None, torch.get_num_threads()
    return Device(
        kind=device.type,
        name=name,
        id=_slug(name),
        preset=preset,
        memory_gb=round(mem, 3),
        copy_gbps=ceil.copy_gbps,
        matmul_tflops=ceil.matmul_tflops,
        dtype=dtype,
        threads=threads,
    )


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return "CPU " + line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "CPU " + (platform.processor() or platform.machine() or "unknown")


def _host_memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return 1.0


def _resolve(opts: BenchOptions, gpu: bool, catalog):
    d = GPU_DEFAULTS if gpu else CPU_DEFAULTS
    model = catalog.model(opts.model)
    if not model.generation.bench_decoder:
        raise UsageError(f"{model.id} is a {model.family} model; tokcost bench measures AR decoders", param="model")
    arch = model.architecture
    layers = opts.layers if opts.layers is not None else (arch.layers if gpu else 1)
    if layers > arch.layers:
        raise UsageError(f"{layers} exceeds {model.id}'s {arch.layers} layers", param="layers")
    if layers != arch.layers and opts.layers is None:
        opts.notes.append(f"cpu: running 1 of {arch.layers} layers (set --layers); the full depth is extrapolated")
    s = model.sampling
    grid = GridOptions(
        batches=tuple(opts.batches or d["batches"]),
        contexts=tuple(opts.contexts or d["contexts"]),
        repeats=opts.repeats or d["repeats"],
        head_repeats=min(opts.head_repeats or d["head_repeats"], opts.repeats or d["repeats"]),
        prefill_repeats=d["prefill_repeats"],
        warmup=1,
        cfg_scale=s.cfg_scale if s.cfg_scale is not None else 1.0,
        temperature=s.temperature if s.temperature is not None else 1.0,
        top_k=s.top_k or arch.vocab,
        seed=opts.seed,
    )
    shape = Shape(
        layers=layers,
        hidden=arch.hidden,
        heads=arch.heads,
        kv_heads=arch.kv_heads,
        head_dim=arch.head_dim,
        ffn=arch.ffn,
        vocab=arch.vocab,
    )
    return model, shape, grid


CACHE_SHARE = (
    0.8  # of the device's memory the largest grid point's KV cache may take (weights and buffers need the rest)
)


def _check_cache_fits(shape: Shape, grid: GridOptions, dtype: str, device: torch.device) -> None:
    """Refuse a grid whose largest point's KV cache (keys and values, every layer, 2 x batch sequences for CFG, the
    longest context) cannot fit the device: an absurd --batches or --contexts is exit 2, not an allocator crash."""
    b, ctx = max(grid.batches), max(grid.contexts) + 1
    need = 2 * shape.layers * 2 * b * shape.kv_heads * ctx * shape.head_dim * torch.finfo(DTYPES[dtype]).bits / 8
    if device.type == "cuda":
        have = torch.cuda.get_device_properties(device).total_memory
    else:
        have = _host_memory_gb() * 1e9
    if need > CACHE_SHARE * have:
        # blame the contexts when one sequence at the longest of them does not fit, else the batches
        param = "contexts" if need / b > CACHE_SHARE * have else "batches"
        raise UsageError(
            f"batch {b:,} at context {ctx - 1:,} needs a {need / 1e9:,.1f} GB KV cache; this device has "
            f"{have / 1e9:,.1f} GB: use smaller --batches or --contexts",
            param=param,
        )


def _reference(dev: Device, dtype: str, catalog):
    """Rates the fitted fractions refer to: the preset's datasheet for a known GPU, else the measured ceilings."""
    if dev.preset is not None and catalog.has("hardware", dev.preset):
        hw = catalog.hardware(dev.preset)
        return "datasheet", hw, physics.peak_flops(hw, dtype), hw.bandwidth_tbps * 1e12  # dtype: bf16 | fp16 | fp32
    return "measured", measured_preset(dev, "(this run)"), dev.matmul_tflops * 1e12, dev.copy_gbps * 1e9


def _archs(shape: Shape, layers_full: int) -> dict[str, Arch]:
    base = dict(heads=shape.heads, kv_heads=shape.kv_heads, head_dim=shape.head_dim, hidden=shape.hidden, ffn=shape.ffn)
    return {
        "run": Arch(
            layers=shape.layers, matmul_params_b=(shape.layers * shape.layer_params + shape.head_params) / 1e9, **base
        ),
        "full": Arch(
            layers=layers_full, matmul_params_b=(layers_full * shape.layer_params + shape.head_params) / 1e9, **base
        ),
        "prefill": Arch(layers=shape.layers, matmul_params_b=shape.layers * shape.layer_params / 1e9, **base),
    }


def _work(p: dict, archs: dict[str, Arch], wbytes: float) -> tuple[float, float]:
    """FLOPs and bytes of one measured point, by the cost model's own accounting (docs/methodology.md)."""
    n, t = p["n_seq"], p["context"]
    if p["kind"] == "prefill":
        a = archs["prefill"]
        N = a.matmul_params_b * 1e9
        return (
            2 * N * n * t + 2 * a.layers * a.heads * a.head_dim * n * t * t,
            N * wbytes + n * t * physics.kv_bytes_per_token(a, wbytes),
        )
    a = archs["run"]
    N = a.matmul_params_b * 1e9
    flops = 2 * N * n + 4 * a.layers * a.heads * a.head_dim * n * t
    bytes_ = N * wbytes + n * t * physics.kv_bytes_per_token(a, wbytes)
    return p["passes"] * flops, p["passes"] * bytes_


def _enrich(points, archs, wbytes, layers_full, ceil):
    for p in points:
        p["split"] = split_of(p["cell"])
        if p.get("skipped"):
            continue
        flops, bytes_ = _work(p, archs, wbytes)
        busy = p["layers_s"] + (p.get("head_s") or 0.0)  # device work: layer stack + head (sampling excluded)
        p.update(flops=flops, bytes=bytes_, achieved_gbps=bytes_ / busy / 1e9, achieved_tflops=flops / busy / 1e12)
        p["copy_fraction"] = p["achieved_gbps"] / ceil.copy_gbps
        if p["kind"] == "decode":
            p["full_step_s"] = layers_full / archs["run"].layers * p["layers_s"] + p["head_s"] + p["sample_s"]


def _predictions(points, targets, archs, P, BW, wbytes, eff, key, passes, l2):
    pred = predict(targets, archs, P, BW, wbytes, eff, passes, l2)
    for which, name in (("run", key), ("prefill", key), ("full", key.replace("_s", "_full_s"))):
        for i, v in zip(targets.point[targets.which == which], pred[targets.which == which]):
            points[int(i)][name] = float(v)


def run_bench(opts: BenchOptions, catalog, progress=None) -> tuple[dict, CalibrationFile | None]:
    progress = progress or NullProgress()
    device = choose_device(opts.gpu)
    if opts.dtype not in DTYPES:
        raise UsageError("must be bf16, fp16 or fp32", param="dtype")
    model, shape, grid = _resolve(opts, device.type == "cuda", catalog)
    _check_cache_fits(shape, grid, opts.dtype, device)
    if opts.threads is not None:
        torch.set_num_threads(opts.threads)
    layers_full = model.architecture.layers
    torch.manual_seed(opts.seed)
    try:
        dec = Decoder(shape, device, opts.dtype, opts.seed)
    except RuntimeError as exc:
        if is_oom(exc):
            raise UsageError(
                f"{shape.layers} layers of {model.id} do not fit in device memory: run fewer", param="layers"
            ) from None
        raise
    progress.start(grid.units, "ceilings")
    ceil = measure_ceilings(device, opts.dtype, grid.repeats)
    progress.start(grid.units, f"bench {model.id} x{shape.layers} layers")
    points = run_grid(dec, grid, progress.advance)
    wbytes = float(torch.finfo(DTYPES[opts.dtype]).bits // 8)
    archs = _archs(shape, layers_full)
    _enrich(points, archs, wbytes, layers_full, ceil)
    dev = device_info(device, ceil, opts.dtype)
    reference, ref_hw, P, BW = _reference(dev, opts.dtype, catalog)
    if reference == "measured":
        dev = dev.model_copy(update={"preset": None})
    targets = build_targets(points, shape.layers, layers_full)
    if len(targets.y) == 0:
        raise UsageError("every grid point failed (out of memory): use smaller batches, contexts or layers")
    # the prefill's element-wise kernels, priced as an estimate prices them: the counted Llama layer (the bench's
    # block is one), at the reference chip's L2 where it is measured
    passes = load_elementwise().decoder_passes()
    l2 = l2_figures(ref_hw)
    fit = fit_efficiency(targets, archs, P, BW, wbytes, passes, l2)
    _predictions(points, targets, archs, P, BW, wbytes, fit.efficiency, "predicted_s", passes, l2)
    assumed = efficiency(load_engines()["eager"], ref_hw, "central", host_speed=host_speed(ref_hw))
    _predictions(points, targets, archs, P, BW, wbytes, assumed, "assumed_s", passes, l2)
    hf = _transformers(opts, dec, shape, device, grid, points) if opts.engine == "transformers" else None
    cal = _calibration(opts, model, shape, grid, dev, reference, P, BW, fit, points)
    result = _result(opts, model, shape, grid, dev, ceil, reference, fit, assumed, points, hf, cal)
    return result, cal


def _transformers(opts, dec, shape, device, grid, points) -> list[dict]:
    from tokcost.bench import hf  # the CLI (commands/bench.py) has already checked that transformers is installed

    dec.free_cache()
    del dec.blocks[:]  # free the custom decoder's weights before building the reference model
    new = opts.new_tokens or (16 if device.type == "cuda" else 4)
    ctx = min(grid.contexts)
    model = hf.build_model(shape, device, opts.dtype, ctx + new + 8, opts.seed)
    rows = []
    for b in sorted(grid.batches):
        custom = next(
            (
                p
                for p in points
                if p["kind"] == "decode"
                and p["cfg"] == "unbatched"
                and p["batch"] == b
                and p["context"] == ctx
                and not p.get("skipped")
            ),
            None,
        )
        try:
            s = hf.time_per_token(model, b, ctx, new, grid.cfg_scale, grid.top_k, grid.temperature, opts.seed)
        except RuntimeError as exc:
            if not is_oom(exc):
                raise
            rows.append({"batch": b, "context": ctx, "skipped": "out of memory"})
            continue
        row = {
            "batch": b,
            "context": ctx,
            "cfg": "unbatched",
            "new_tokens": new,
            "transformers_s_per_token": s,
            "custom_step_s": custom["step_s"] if custom else None,
        }
        row["ratio"] = s / custom["step_s"] if custom else None
        rows.append(row)
    return rows


def _versions() -> Software:
    import sys

    tf = sys.modules.get("transformers")
    return Software(
        tokcost=__version__,
        python=platform.python_version(),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        transformers=getattr(tf, "__version__", None),
    )


POINT_FIELDS = tuple(Point.model_fields)


def _calibration(opts, model, shape, grid, dev, reference, P, BW, fit, points) -> CalibrationFile:
    e = fit.efficiency
    return CalibrationFile(
        version=1,
        created=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        device=dev,
        software=_versions(),
        benchmark=Benchmark(
            model=model.id,
            layers_run=shape.layers,
            layers_full=model.architecture.layers,
            batches=sorted(grid.batches),
            contexts=sorted(grid.contexts),
            repeats=grid.repeats,
            cfg_scale=grid.cfg_scale,
            top_k=grid.top_k,
            temperature=grid.temperature,
        ),
        fit=Fit(
            reference=reference,
            peak_tflops=P / 1e12,
            bandwidth_gbps=BW / 1e9,
            mfu=e.mfu,
            mbu=e.mbu,
            host_per_layer_s=e.host_per_layer_s,
            fixed_per_step_s=e.fixed_per_step_s,
            fit_error=fit.fit_error,
            holdout_error=fit.holdout_error,
            fit_targets=fit.fit_targets,
            holdout_targets=fit.holdout_targets,
            method=FIT_METHOD,
        ),
        points=[Point(**{k: v for k, v in p.items() if k in POINT_FIELDS}) for p in points],
    )


def _result(opts, model, shape, grid, dev, ceil, reference, fit, assumed, points, hf, cal) -> dict:
    return {
        "schema_version": 1,
        "version": 1,  # kept: read by scripts written against the first bench JSON
        "model": model.id,
        "layers_run": shape.layers,
        "layers_full": model.architecture.layers,
        "engine": opts.engine,
        "dtype": opts.dtype,
        "device": dev.model_dump(mode="json"),
        "software": cal.software.model_dump(mode="json"),
        "ceilings": ceil.to_dict(),
        "grid": {
            "batches": sorted(grid.batches),
            "contexts": sorted(grid.contexts),
            "repeats": grid.repeats,
            "head_repeats": grid.head_repeats,
            "cfg_scale": grid.cfg_scale,
            "top_k": grid.top_k,
            "temperature": grid.temperature,
        },
        "fit": cal.fit.model_dump(mode="json", exclude={"holdout_error"}),
        "assumed": {
            "engine": "eager",
            "mfu": assumed.mfu,
            "mbu": assumed.mbu,
            "host_per_layer_s": assumed.host_per_layer_s,
            "fixed_per_step_s": assumed.fixed_per_step_s,
        },
        "holdout_error": fit.holdout_error,
        "points": points,
        "transformers": hf,
        "calibration": opts.output,
        "notes": opts.notes,
        "warnings": fit_warnings(cal.fit),
    }


def fit_warnings(fit) -> list[str]:
    """A fitted fraction above 1 means the device ran faster than the ceiling it is a fraction of: the ceiling was
    measured low (other work shared the device while it ran: on a CPU, other processes on the cores) or, against a
    datasheet, the preset is not this device. The fit still prices the measured steps; say why it looks odd."""
    out = []
    for name, value, ceiling in (("mfu", fit.mfu, "matmul"), ("mbu", fit.mbu, "copy")):
        if value > 1.0:
            out.append(
                f"the fitted {name} is {value:.2f}, above 1: the decoder ran faster than the {ceiling} ceiling it is "
                f"a fraction of ({fit.reference}), so that ceiling was measured low: other work shared the device, or "
                "the probe ran slower kernels than the decoder's (bf16 on a CPU without native bf16 support: try "
                "--dtype fp32); rerun on an idle machine before using this calibration for other shapes"
            )
    return out
