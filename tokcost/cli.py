"""The command line: parse flags, call the core, render, choose the exit code. Heavy modules are imported inside
the commands that need them so that ``tokcost analyze`` starts fast (no torch, no plotting library).

Exit codes: 0 success; 1 a gate failed (a budget or baseline limit, ``check`` and ``validate``); 2 bad usage or
an invalid spec, preset or calibration (every problem printed as ``file:line:col: field: message``).
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from tokcost import __version__
from tokcost.errors import InputError, TokenGeometryError, UsageError

app = typer.Typer(add_completion=True, no_args_is_help=True, rich_markup_mode=None,
                  help="Plan latency, memory, throughput and cost of image and video generation products on "
                       "autoregressive (Emu3-style) and diffusion backends. Exit codes: 0 ok, 1 a budget or "
                       "gate failed, 2 invalid input or usage.")
hardware_app = typer.Typer(help="Hardware presets (hardware/*.yaml).", no_args_is_help=True)
models_app = typer.Typer(help="Model presets (models/*.yaml).", no_args_is_help=True)
app.add_typer(hardware_app, name="hardware")
app.add_typer(models_app, name="models")

PRESETS_HELP = ("Extra preset directory holding hardware/ and/or models/ subfolders of <id>.yaml files; overrides "
                "built-in presets with the same id. Repeatable. Also read from $TOKCOST_PRESETS (os.pathsep-separated).")
PresetsOpt = typer.Option(None, "--presets", help=PRESETS_HELP)


class Fmt(str, Enum):
    table = "table"
    json = "json"


class AnalyzeFmt(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"
    html = "html"


def _fail(problems_or_msg) -> None:
    if isinstance(problems_or_msg, InputError):
        problems = problems_or_msg.problems
        for p in problems:
            typer.echo(str(p), err=True)
        if os.environ.get("GITHUB_ACTIONS") == "true":  # annotate the pull request at the offending lines too
            from tokcost.render.github import annotation

            for p in problems:
                typer.echo(annotation("error", p.file, p.line, p.col, "tokcost: invalid input", f"{p.field}: {p.message}"))
        n = len(problems)
        typer.echo(f"{n} problem{'s' if n != 1 else ''} found.", err=True)
    else:
        typer.echo(f"error: {problems_or_msg}", err=True)
    raise typer.Exit(2)


def _check_precision(precision: str) -> None:
    from typing import get_args

    from tokcost.records.spec import Precision  # imported here: it loads the preset schema

    choices = get_args(Precision)
    if precision not in choices:
        raise UsageError(f"--precision must be {', '.join(choices[:-1])} or {choices[-1]}")


def _catalog(presets: Optional[List[Path]]):
    from tokcost.io.catalog import Catalog

    return Catalog.default([str(p) for p in presets or []])


def _emit(text: str, output: Optional[Path]) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from tokcost.io.atomic import write_atomic

    try:
        write_atomic(output, text)
    except OSError as exc:
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    typer.echo(f"wrote {output}", err=True)


def _guard(fn):
    """Run a command body; input problems become exit 2 with positions, never a traceback."""
    try:
        return fn()
    except InputError as exc:
        _fail(exc)
    except (UsageError, TokenGeometryError) as exc:
        _fail(str(exc))


def _version(value: bool):
    if value:
        typer.echo(f"tokcost {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")):
    pass


# ----------------------------------------------------------------------------------------------- tokens


@app.command()
def tokens(
    model: Optional[str] = typer.Option(None, "--model", help="Model preset id (uses its tokenizer or VAE)."),
    width: int = typer.Option(..., "--width", min=1, help="Width in pixels."),
    height: int = typer.Option(..., "--height", min=1, help="Height in pixels."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Video frames."),
    fps: Optional[float] = typer.Option(None, "--fps", min=0.001, help="Frames per second (reported; frames = seconds x fps)."),
    spatial_factor: Optional[int] = typer.Option(None, "--spatial-factor", min=1, help="Model-free: pixels per token side."),
    temporal_factor: int = typer.Option(1, "--temporal-factor", min=1, help="Model-free: frames per latent frame."),
    temporal_rule: str = typer.Option("causal", "--temporal-rule", help="Model-free: causal (1+(F-1)/t) or chunked (F/t)."),
    pad: bool = typer.Option(False, "--pad", help="Round sizes up to what the tokenizer takes instead of failing."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format."),
    presets: Optional[List[Path]] = PresetsOpt,
):
    """Exact token counts for an image or clip: with --model, or model-free with --spatial-factor."""

    def run():
        from tokcost.engine.tokens import grid_tokens, model_tokens

        if (model is None) == (spatial_factor is None):
            raise UsageError("give exactly one of --model or --spatial-factor")
        if model is not None:
            m = _catalog(presets).model(model)
            tc = model_tokens(m, width, height, frames, pad=pad)
            data = {"model": m.id, "family": m.family, "width": width, "height": height, "frames": frames, **tc.to_dict()}
        else:
            if temporal_rule not in ("causal", "chunked"):
                raise UsageError("--temporal-rule must be causal or chunked")
            w, h, t, total = grid_tokens(width, height, spatial_factor, frames or 1, temporal_factor, temporal_rule, pad)
            data = {"width": width, "height": height, "frames": frames, "spatial_factor": spatial_factor,
                    "temporal_factor": temporal_factor, "grid_width": int(w), "grid_height": int(h),
                    "latent_frames": int(t), "visual": int(total)}
        if fps is not None:
            data["fps"] = fps
            if frames:
                data["seconds"] = frames / fps
        _print_kv(data, fmt, "tokens")

    _guard(run)


def _print_kv(data: dict, fmt: Fmt, title: str) -> None:
    from tokcost.render import dumps

    if fmt == Fmt.json:
        sys.stdout.write(dumps(data))
        return
    from tokcost.render.simple import kv_table

    sys.stdout.write(kv_table(data, title))


# ----------------------------------------------------------------------------------------------- presets


@hardware_app.command("list")
def hardware_list(fmt: Fmt = typer.Option(Fmt.table, "--format"), presets: Optional[List[Path]] = PresetsOpt):
    """List hardware presets."""

    def run():
        from tokcost.render.simple import preset_list

        items = _catalog(presets).all("hardware")
        sys.stdout.write(preset_list(items, "hardware", fmt.value))

    _guard(run)


@hardware_app.command("show")
def hardware_show(preset_id: str = typer.Argument(..., metavar="ID"), fmt: Fmt = typer.Option(Fmt.table, "--format"),
                  presets: Optional[List[Path]] = PresetsOpt):
    """Show one hardware preset with its sources."""
    _guard(lambda: _show("hardware", preset_id, fmt, presets))


@models_app.command("list")
def models_list(fmt: Fmt = typer.Option(Fmt.table, "--format"), presets: Optional[List[Path]] = PresetsOpt):
    """List model presets."""

    def run():
        from tokcost.render.simple import preset_list

        sys.stdout.write(preset_list(_catalog(presets).all("models"), "models", fmt.value))

    _guard(run)


@models_app.command("show")
def models_show(preset_id: str = typer.Argument(..., metavar="ID"), fmt: Fmt = typer.Option(Fmt.table, "--format"),
                presets: Optional[List[Path]] = PresetsOpt):
    """Show one model preset with its sources."""
    _guard(lambda: _show("models", preset_id, fmt, presets))


def _show(kind: str, preset_id: str, fmt: Fmt, presets) -> None:
    from tokcost.render import dumps
    from tokcost.render.simple import preset_show

    cat = _catalog(presets)
    if not cat.has(kind, preset_id):
        raise UsageError(cat.unknown_message(kind, preset_id))
    preset = cat.get(kind, preset_id)
    if fmt == Fmt.json:
        sys.stdout.write(dumps({**preset.model_dump(mode="json"), "file": str(cat.source_of(kind, preset_id))}))
    else:
        sys.stdout.write(preset_show(preset, str(cat.source_of(kind, preset_id))))


@app.command()
def schema(output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to FILE (atomically).")):
    """Print the JSON Schema of the product spec (committed as docs/spec.schema.json)."""
    from tokcost.render import dumps
    from tokcost.records.spec import spec_json_schema

    _emit(dumps(spec_json_schema()), output)


# ----------------------------------------------------------------------------------------------- estimate


@app.command()
def estimate(
    model: str = typer.Option(..., "--model", help="Model preset id."),
    hardware: Optional[str] = typer.Option(None, "--hardware", help="Hardware preset id (default: the calibration's measured device)."),
    width: Optional[int] = typer.Option(None, "--width", min=16, max=8192, help="Width in pixels (default: the model's native)."),
    height: Optional[int] = typer.Option(None, "--height", min=16, max=8192, help="Height in pixels (default: native)."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, max=10000, help="Video frames."),
    fps: Optional[float] = typer.Option(None, "--fps", min=0.001, help="Frames per second (informational)."),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, max=1000, help="Diffusion steps (default: the model's)."),
    batch: int = typer.Option(1, "--batch", min=1, max=65536, help="Items generated together on one GPU."),
    cfg: Optional[str] = typer.Option(None, "--cfg", help="batched | unbatched | off (default: the model's own mode)."),
    engine: str = typer.Option("eager", "--engine", help="eager | compiled | vllm (vllm: AR models only)."),
    precision: str = typer.Option("bf16", "--precision", help="Weight precision: bf16 | fp16 | fp8 | int8 | int4."),
    tokens_per_forward: float = typer.Option(1.0, "--tokens-per-forward", min=1.0, help="AR: tokens accepted per forward (speculative/parallel decoding)."),
    draft_tokens: Optional[float] = typer.Option(None, "--draft-tokens", min=1.0, help="AR: positions each forward computes to verify a draft (its cost; default: --tokens-per-forward)."),
    prompt_tokens: Optional[int] = typer.Option(None, "--prompt-tokens", min=1, help="AR prompt tokens (perception: the question)."),
    answer_tokens: Optional[int] = typer.Option(None, "--answer-tokens", min=1, help="Perception: tokens in the answer (default 128)."),
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="Calibration YAML from `tokcost bench`."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", help="Output format."),
    presets: Optional[List[Path]] = PresetsOpt,
):
    """Latency, throughput, memory and cost of one configuration, with the low-high band."""

    def run():
        from tokcost.core.estimate import estimate_report

        if cfg is not None and cfg not in ("batched", "unbatched", "off"):
            raise UsageError("--cfg must be batched, unbatched or off")
        _check_precision(precision)
        data = estimate_report(_catalog(presets), model=model, hardware=hardware, width=width, height=height,
                               frames=frames, steps=steps, batch=batch, cfg=cfg, engine=engine, precision=precision,
                               tokens_per_forward=tokens_per_forward, draft_tokens=draft_tokens,
                               prompt_tokens=prompt_tokens,
                               answer_tokens=answer_tokens, calibration=calibration)
        if fps is not None:
            data["fps"] = fps
        _print_kv(data, fmt, "estimate")

    _guard(run)


@app.command()
def train(
    model: str = typer.Option(..., "--model", help="Model preset id."),
    hardware: str = typer.Option(..., "--hardware", help="Hardware preset id."),
    tokens_: Optional[float] = typer.Option(None, "--tokens", min=1, help="AR: training tokens D."),
    samples: Optional[float] = typer.Option(None, "--samples", min=1, help="Diffusion: training samples (images or clips seen)."),
    gpus: int = typer.Option(1, "--gpus", min=1, help="GPUs training together (wall-clock days = GPU-hours / GPUs / 24)."),
    mfu: Optional[float] = typer.Option(None, "--mfu", min=0.01, max=1.0, help="Model FLOPs utilisation (default: the hardware's training_mfu central)."),
    context: Optional[int] = typer.Option(None, "--context", min=1, help="AR: training context length (default: the model's)."),
    width: Optional[int] = typer.Option(None, "--width", min=16, help="Diffusion: training resolution (default native)."),
    height: Optional[int] = typer.Option(None, "--height", min=16, help="Diffusion: training resolution (default native)."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Video diffusion: frames per sample."),
    fmt: Fmt = typer.Option(Fmt.table, "--format"),
    presets: Optional[List[Path]] = PresetsOpt,
):
    """Training compute: FLOPs, GPU-hours, wall-clock days and cost."""

    def run():
        from tokcost.engine.training import training_report

        if (tokens_ is None) == (samples is None):
            raise UsageError("give exactly one of --tokens (AR) or --samples (diffusion)")
        cat = _catalog(presets)
        data = training_report(cat.model(model), cat.hardware(hardware), tokens=tokens_, samples=samples, gpus=gpus,
                               mfu=mfu, context=context, width=width, height=height, frames=frames)
        _print_kv(data, fmt, "training")

    _guard(run)


# ----------------------------------------------------------------------------------------------- analyze / check


@app.command()
def analyze(
    specs: List[str] = typer.Argument(..., metavar="SPEC",
                                      help="Product spec YAML files, directories or globs (one result for all)."),
    fmt: AnalyzeFmt = typer.Option(AnalyzeFmt.table, "--format", help="table | markdown | json | html."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to FILE atomically instead of stdout."),
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="Calibration YAML from `tokcost bench`."),
    presets: Optional[List[Path]] = PresetsOpt,
):
    """Recommend a backend and hardware for each product spec, and explain why. With --format json this is
    the baseline format of `check --baseline` and `diff` (one result holding every spec)."""

    def run():
        from tokcost.core.analyze import analyze_loaded, expand_paths, load_calibration_file, load_specs
        from tokcost.render import render_analysis

        if fmt == AnalyzeFmt.html and output is None:
            raise UsageError("--format html needs --output FILE")
        catalog = _catalog(presets)
        files = expand_paths(specs)
        cal = load_calibration_file(calibration)  # parsed once (the html charts reuse it), before the specs
        result = analyze_loaded(load_specs(files, catalog), catalog, cal)
        # a file gets no colour codes and the full width, whatever the terminal
        color = False if output is not None else None
        width = 100 if output is not None else _width()
        _emit(render_analysis(result, fmt.value, width=width, color=color, catalog=catalog, calibration=cal), output)

    _guard(run)


def _width() -> int:
    try:
        return max(80, min(140, os.get_terminal_size().columns))
    except OSError:
        return 100


def main() -> None:
    app(prog_name="tokcost")


from tokcost.commands import bench as _bench, gate as _gate, sweep as _sweep, validate as _validate  # noqa: E402

for _module in (_bench, _gate, _sweep, _validate):
    _module.register(app)
