"""`tokcost tokens`, `tokcost estimate` and `tokcost train`: one configuration at a time."""

import typer

from tokcost.cli import request_options as opt
from tokcost.cli.common import Calibration, Presets, PriceOption, emit, finite, format_option, guard, parse_prices
from tokcost.render import registry
from tokcost.text import escape_line

TokensFormat = format_option("tokens")
EstimateFormat = format_option("estimate")
TrainFormat = format_option("train")


def tokens(
    model: str | None = typer.Option(None, "--model", help="Model preset id (uses its tokenizer or VAE)."),
    width: int = typer.Option(..., "--width", min=1, help="Width in pixels."),
    height: int = typer.Option(..., "--height", min=1, help="Height in pixels."),
    frames: int | None = typer.Option(None, "--frames", min=1, help="Video frames."),
    fps: float | None = typer.Option(
        None,
        "--fps",
        callback=finite,
        min=0.001,
        help="Frames per second of the clip, with --frames (reports its length in seconds).",
    ),
    spatial_factor: int | None = typer.Option(
        None, "--spatial-factor", min=1, help="Model-free: pixels per token side."
    ),
    temporal_factor: int = typer.Option(1, "--temporal-factor", min=1, help="Model-free: frames per latent frame."),
    temporal_rule: str = typer.Option(
        "causal", "--temporal-rule", help="Model-free: causal (1+(F-1)/t) or chunked (F/t)."
    ),
    pad: bool = typer.Option(False, "--pad", help="Round sizes up to what the tokenizer takes instead of failing."),
    fmt: TokensFormat = "table",
    presets: Presets = None,
):
    """Exact token counts for an image or clip: with --model, or model-free with --spatial-factor."""

    def run():
        from tokcost import api

        result = api.tokens(
            model=model,
            width=width,
            height=height,
            frames=frames,
            fps=fps,
            spatial_factor=spatial_factor,
            temporal_factor=temporal_factor,
            temporal_rule=temporal_rule,
            pad=pad,
            presets=presets,
        )
        emit(registry.render("tokens", fmt, result), None)

    guard(run)


def estimate(
    model: opt.Model,
    hardware: opt.Hardware = None,
    width: opt.Width = None,
    height: opt.Height = None,
    frames: opt.Frames = None,
    fps: opt.Fps = None,
    steps: opt.Steps = None,
    batch: opt.Batch = 1,
    cfg: opt.Cfg = None,
    engine: opt.Engine = None,
    precision: opt.Precision = "bf16",
    vae_precision: opt.VaePrecision = None,
    tokens_per_forward: opt.TokensPerForward = 1.0,
    draft_tokens: opt.DraftTokens = None,
    prompt_tokens: opt.PromptTokens = None,
    answer_tokens: opt.AnswerTokens = None,
    gpus: opt.Gpus = 1,
    parallelism: opt.Parallelism = None,
    ring_degree: opt.RingDegree = None,
    attention: opt.Attention = None,
    autocast: opt.Autocast = False,
    kv_dtype: opt.KvDtype = "bf16",
    host: opt.Host = None,
    architecture: opt.Architecture = None,
    calibration: Calibration = None,
    fmt: EstimateFormat = "table",
    presets: Presets = None,
    price: PriceOption = None,
):
    """Latency, throughput, memory and cost of one configuration, with the low-high band."""
    given = locals()
    # the request's fields, as typed: the API checks them (tokcost.records.estimate.EstimateRequest)
    request = {name: given[name] for name in opt.ESTIMATE_FIELDS}

    def run():
        from tokcost import api

        result = api.estimate(calibration=calibration, presets=presets, prices=parse_prices(price), **request)
        emit(registry.render("estimate", fmt, result), None)
        for warning in result.warnings:
            typer.echo(escape_line(f"warning: {warning}"), err=True)

    guard(run)


def train(
    model: list[str] = typer.Option(
        ...,
        "--model",
        help="Model preset id; repeat it or give a comma list (emu3-gen,sd3-medium) to compare models in one table "
        "(AR on --tokens, diffusion on --samples; a diffusion model that publishes no sample count is priced at the "
        "count that matches the first model's compute).",
    ),
    hardware: str = typer.Option(..., "--hardware", help="Hardware preset id."),
    tokens_: float | None = typer.Option(None, "--tokens", callback=finite, min=1, help="AR: training tokens D."),
    samples: float | None = typer.Option(
        None, "--samples", callback=finite, min=1, help="Diffusion: training samples (images or clips seen)."
    ),
    gpus: int = typer.Option(
        1, "--gpus", min=1, help="GPUs training together (wall-clock days = GPU-hours / GPUs / 24)."
    ),
    mfu: float | None = typer.Option(
        None,
        "--mfu",
        callback=finite,
        min=0.01,
        max=1.0,
        help="Model FLOPs utilisation while training (default: the hardware's training_mfu central); GPU-hours "
        "also allow 10% of a run for interruptions and restarts.",
    ),
    context: int | None = typer.Option(
        None, "--context", min=1, help="AR: training context length (default: the model's)."
    ),
    width: int | None = typer.Option(None, "--width", min=16, help="Diffusion: training resolution (default native)."),
    height: int | None = typer.Option(
        None, "--height", min=16, help="Diffusion: training resolution (default native)."
    ),
    frames: int | None = typer.Option(None, "--frames", min=1, help="Video diffusion: frames per sample."),
    fmt: TrainFormat = "table",
    presets: Presets = None,
    price: PriceOption = None,
):
    """Training compute: FLOPs, GPU-hours, wall-clock days and cost; several --model flags compare them."""

    def run():
        from tokcost import api
        from tokcost.errors import UsageError

        models = list(dict.fromkeys(m.strip() for item in model for m in item.split(",") if m.strip()))
        if not models:
            raise UsageError("give a model id (tokcost models list)", param="model")
        train = api.train if len(models) == 1 else api.compare_training
        result = train(
            **({"model": models[0]} if len(models) == 1 else {"models": models}),
            hardware=hardware,
            tokens=tokens_,
            samples=samples,
            gpus=gpus,
            mfu=mfu,
            context=context,
            width=width,
            height=height,
            frames=frames,
            presets=presets,
            prices=parse_prices(price),
        )
        emit(registry.render("train", fmt, result), None)

    guard(run)
