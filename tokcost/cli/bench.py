"""`tokcost bench`: measure a real decoder and the device ceilings, fit the cost model, write a calibration.

torch is imported inside the command body only (``tokcost --help`` never imports it)."""

from enum import Enum

import typer

from tokcost.cli.common import Presets, ProgressBar, emit, format_option, guard, load_catalog, output_option
from tokcost.render import registry
from tokcost.text import escape_line

INSTALL_HINT = "torch is not installed: install with pip install 'tokcost[bench]'"


class BenchEngine(str, Enum):
    custom = "custom"
    transformers = "transformers"


def _ints(value: str | None, flag: str):
    from tokcost.errors import UsageError

    if value is None:
        return None
    try:
        out = tuple(int(x) for x in value.split(",") if x.strip())
    except ValueError:
        raise UsageError(f"{flag} takes comma-separated positive integers, e.g. 1,2,4 (got {value!r})") from None
    if not out or min(out) < 1 or len(set(out)) != len(out):
        raise UsageError(f"{flag} takes distinct comma-separated positive integers (got {value!r})")
    return out


BenchFormat = format_option("bench")
BenchOutput = output_option("Write the calibration YAML to FILE (atomically).")


def bench(
    model: str = typer.Option("emu3-gen", "--model", help="AR model preset whose shapes the decoder takes."),
    layers: int | None = typer.Option(
        None,
        "--layers",
        min=1,
        help="Build only N layers (default: all on GPU, 1 on CPU); the full "
        "depth is extrapolated from the per-layer time.",
    ),
    batches: str | None = typer.Option(
        None, "--batches", help="Batch sizes (images), comma-separated (default CPU 1,2; GPU 1,4,16,64)."
    ),
    contexts: str | None = typer.Option(
        None, "--contexts", help="Context lengths in tokens, comma-separated (default CPU 32,128; GPU 128,512,2048)."
    ),
    repeats: int | None = typer.Option(
        None,
        "--repeats",
        min=1,
        max=1000,
        help="Timed decode steps per point; the median is reported (default CPU 3, GPU 10).",
    ),
    head_repeats: int | None = typer.Option(
        None,
        "--head-repeats",
        min=1,
        max=1000,
        help="Of those, steps that also time the output head and sampler (default CPU 1, GPU all).",
    ),
    gpu: bool = typer.Option(False, "--gpu", help="Run on CUDA (exit 2 when there is none)."),
    dtype: str = typer.Option("bf16", "--dtype", help="Weights, activations and KV cache: bf16 | fp16 | fp32."),
    engine: BenchEngine = typer.Option(
        BenchEngine.custom,
        "--engine",
        help="custom, or transformers to also time LlamaForCausalLM.generate on the same shapes (needs transformers).",
    ),
    new_tokens: int | None = typer.Option(
        None, "--new-tokens", min=1, max=4096, help="transformers engine: max_new_tokens timed (default CPU 4, GPU 16)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the random weights, prompts and sampler."),
    threads: int | None = typer.Option(
        None,
        "--threads",
        min=1,
        max=4096,
        help="CPU threads torch uses (default: torch's, one per core). Fewer "
        "than the cores steadies a machine that other work shares.",
    ),
    fmt: BenchFormat = "table",
    output: BenchOutput = None,
    presets: Presets = None,
):
    """Measure a Llama-style decoder and the copy/matmul ceilings here; fit and write a calibration."""

    def run():
        import importlib.util

        from tokcost.errors import UsageError

        if importlib.util.find_spec("torch") is None:
            raise UsageError(INSTALL_HINT)
        if engine == BenchEngine.transformers and importlib.util.find_spec("transformers") is None:
            raise UsageError("--engine transformers needs transformers: pip install transformers")
        opts_b, opts_c = _ints(batches, "--batches"), _ints(contexts, "--contexts")
        cat = load_catalog(presets)
        if not cat.has("models", model):
            raise UsageError(cat.unknown_message("models", model), param="model")
        from tokcost.bench.run import BenchOptions, run_bench

        opts = BenchOptions(
            model=model,
            layers=layers,
            batches=opts_b,
            contexts=opts_c,
            repeats=repeats,
            head_repeats=head_repeats,
            gpu=gpu,
            dtype=dtype,
            engine=engine.value,
            new_tokens=new_tokens,
            seed=seed,
            threads=threads,
            output=str(output) if output else None,
        )
        progress = ProgressBar()
        try:
            result, cal = run_bench(opts, cat, progress)
        finally:
            progress.stop()
        if output is not None:
            from tokcost.io.calibration import device_problems, dump_calibration
            from tokcost.io.located import Located

            emit(dump_calibration(cal), output)
            for p in device_problems(cal, Located(data=None, file=str(output)), cat):  # what reading it will refuse
                typer.echo(
                    escape_line(f"warning: {output} will be refused when read: {p.field}: {p.message}"), err=True
                )
        emit(registry.render("bench", fmt, result), None)
        for warning in result.get("warnings", []):
            typer.echo(escape_line(f"warning: {warning}"), err=True)

    guard(run)
