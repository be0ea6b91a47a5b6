"""Print the compile gain by architecture (docs/methodology.md, "Compiled vs eager"): eager latency / compiled
latency at default settings for every model preset, median (range) per architecture on A100 SXM, H100 SXM and
RTX 4090, and the share of it that fused element-wise work gives (compiled priced once more moving the model's
eager ``elementwise_passes``: what is left of the gain then is host time). ``python scripts/compile_gain_table.py``."""

from __future__ import annotations

import statistics

from tokcost.engine.estimate import Config, estimate_arrays
from tokcost.errors import UsageError
from tokcost.io.catalog import Catalog
from tokcost.io.engines import load_engines
from tokcost.io.kernel_tables import hardware_kernels

HARDWARE = ("a100-80gb-sxm", "h100-sxm", "rtx-4090")
ARCHITECTURES = {
    "UNet": ("unet",),
    "DiT (DiT, MMDiT, linear DiT)": ("dit", "mmdit", "linear-dit"),
    "AR decoder": ("ar",),
}


def main() -> None:
    cat = Catalog.default()
    engines = load_engines()
    unfused = dict(engines) | {"compiled": engines["compiled"].model_copy(update={"elementwise": "eager"})}

    def latency(model, hw, engine, profiles) -> float | None:
        cfg = Config(
            model=cat.model(model),
            hardware=cat.hardware(hw),
            profiles=profiles,
            engine=engine,
            kernels=hardware_kernels,
        )
        try:
            return float(estimate_arrays(cfg).latency_s)
        except UsageError:
            return None

    print("| architecture | " + " | ".join(HARDWARE) + " |")
    print("|---|" + "---|" * len(HARDWARE))
    for label, kinds in ARCHITECTURES.items():
        models = [
            m for m in cat.ids("models") if (cat.model(m).denoiser.kind if cat.model(m).denoiser else "ar") in kinds
        ]
        cells = []
        for hw in HARDWARE:
            gains, fused = [], []
            for m in models:
                e, c, u = (
                    latency(m, hw, eng, p)
                    for eng, p in (("eager", engines), ("compiled", engines), ("compiled", unfused))
                )
                if e is not None and c is not None and u is not None:
                    gains.append(e / c)
                    fused.append(u / c)
            cells.append(
                f"{statistics.median(gains):.2f}x ({min(gains):.2f}-{max(gains):.2f}); fusion {statistics.median(fused):.2f}x"
            )
        print(f"| {label} ({len(models)} models) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
