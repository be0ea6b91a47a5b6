"""`tokcost tokens`, `tokcost estimate` and `tokcost train`: one configuration at a time."""

from __future__ import annotations

import typer

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
    model: str = typer.Option(..., "--model", help="Model preset id."),
    hardware: str | None = typer.Option(
        None, "--hardware", help="Hardware preset id (default: the calibration's measured device)."
    ),
    width: int | None = typer.Option(
        None, "--width", min=16, max=8192, help="Width in pixels (default: the model's native)."
    ),
    height: int | None = typer.Option(None, "--height", min=16, max=8192, help="Height in pixels (default: native)."),
    frames: int | None = typer.Option(None, "--frames", min=1, max=10000, help="Video frames."),
    fps: float | None = typer.Option(
        None, "--fps", callback=finite, min=0.001, help="Frames per second (informational)."
    ),
    steps: int | None = typer.Option(None, "--steps", min=1, max=1000, help="Diffusion steps (default: the model's)."),
    batch: int = typer.Option(1, "--batch", min=1, max=65536, help="Items generated together (by the replica)."),
    cfg: str | None = typer.Option(None, "--cfg", help="batched | unbatched | off (default: the model's own mode)."),
    engine: str | None = typer.Option(
        None,
        "--engine",
        help="eager | compiled | vllm | vllm-0.4 (vllm: today's vLLM; vllm-0.4: the 2024 release; both AR models "
        "only). Default: eager, and the result says so (analyze prices every engine).",
    ),
    precision: str = typer.Option(
        "bf16", "--precision", help="Weight precision: bf16 | fp16 | fp8 | int8 (W8A8) | int8-wo | int4 (weight-only)."
    ),
    tokens_per_forward: float = typer.Option(
        1.0,
        "--tokens-per-forward",
        callback=finite,
        min=1.0,
        max=65_536,
        help="AR: tokens accepted per forward (speculative/parallel decoding).",
    ),
    draft_tokens: float | None = typer.Option(
        None,
        "--draft-tokens",
        callback=finite,
        min=1.0,
        max=65_536,
        help="AR: positions each forward computes to verify a draft (its cost; default: --tokens-per-forward).",
    ),
    prompt_tokens: int | None = typer.Option(
        None, "--prompt-tokens", min=1, help="AR prompt tokens (perception: the question)."
    ),
    answer_tokens: int | None = typer.Option(
        None, "--answer-tokens", min=1, help="Perception: tokens in the answer (default 128)."
    ),
    gpus: int = typer.Option(
        1,
        "--gpus",
        min=1,
        max=1024,
        help="GPUs in one replica, within one server's scale-up domain (the hardware preset's scale_up.gpus).",
    ),
    parallelism: str | None = typer.Option(
        None,
        "--parallelism",
        help="How the replica splits a forward: tp (AR) | sp | cfg | cfg+sp (diffusion). Default: tp for AR; for "
        "diffusion cfg first when guidance is batched and --gpus is even, the rest sp.",
    ),
    attention: str | None = typer.Option(
        None,
        "--attention",
        help="Diffusion attention kernel: sdpa (PyTorch's, FlashAttention-2 inside) | fa2 | fa3 (Hopper GPUs). "
        "Default: the engine's, sdpa.",
    ),
    kv_dtype: str = typer.Option(
        "bf16", "--kv-dtype", help="AR KV cache: bf16 | fp8 (vLLM's kv_cache_dtype fp8: half the cache and its reads)."
    ),
    host: float | None = typer.Option(
        None,
        "--host",
        min=0.1,
        max=10.0,
        help="Single-thread speed of the server's CPU relative to the DGX A100's EPYC 7742 (the DGX H100's Xeon "
        "8480C: 1.23): eager kernel launches, the serving engine's per-step work and the diffusion loop run on it. "
        "Default: the hardware preset's typical server, else 1.",
    ),
    architecture: str | None = typer.Option(
        None,
        "--architecture",
        help="A Llama-style decoder's Hugging Face config.json: replaces --model's decoder (--model gives the visual "
        "tokenizer and sampling); refused when it does not fit the replica's memory.",
    ),
    calibration: Calibration = None,
    fmt: EstimateFormat = "table",
    presets: Presets = None,
    price: PriceOption = None,
):
    """Latency, throughput, memory and cost of one configuration, with the low-high band."""

    def run():
        from tokcost import api

        result = api.estimate(
            model=model,
            hardware=hardware,
            width=width,
            height=height,
            frames=frames,
            fps=fps,
            steps=steps,
            batch=batch,
            cfg=cfg,
            engine=engine,
            precision=precision,
            tokens_per_forward=tokens_per_forward,
            draft_tokens=draft_tokens,
            prompt_tokens=prompt_tokens,
            answer_tokens=answer_tokens,
            gpus=gpus,
            parallelism=parallelism,
            attention=attention,
            kv_dtype=kv_dtype,
            host=host,
            calibration=calibration,
            presets=presets,
            prices=parse_prices(price),
            architecture=architecture,
        )
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
        help="Model FLOPs utilisation (default: the hardware's training_mfu central).",
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

        models = [m.strip() for item in model for m in item.split(",") if m.strip()]
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
