"""Where tokcost's own data lives: one root, ``tokcost/data/``, the same in a checkout and in an installed wheel.
This module is the one place that knows the layout.

Hand-written (each number with its source):

- ``hardware/<id>.yaml`` and ``models/<id>.yaml``: the built-in presets (``hardware/measured/``: calibrations
  measured with ``scripts/gpu_bench.sh``, not presets);
- ``prices/prices.yaml``: the dated GPU rental price catalogue;
- ``validation/measurements.yaml``: the published measurements ``tokcost validate`` prices;
- ``validation_thresholds.yaml``: the gate of ``tokcost validate``;
- ``engines.yaml``: the engine registry (hand-written parts: what each engine is, its assumptions, the sources).

Generated, under ``generated/`` (never edited by hand; each file names the script that writes it, in a header or,
for binary tables, in the folder's NOTICE and its own provenance fields):

- ``generated/engines.fitted.yaml``: the engines' fitted parameters, written by scripts/fit_engines.py;
- ``generated/error_bands.yaml``: written by scripts/write_validation_docs.py;
- ``generated/kernels/<chip>.npz``: written by scripts/condense_kernel_tables.py;
- ``generated/elementwise_passes.yaml``: each denoiser's element-wise traffic and each counted model's eager
  kernel launches per layer, written by scripts/count_elementwise_passes.py.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PACKAGE_DIR / "data"
PRESETS_DIR = DATA_DIR  # holds hardware/ and models/, as a user's --presets folder does
MEASURED_DIR = DATA_DIR / "hardware" / "measured"  # calibrations from scripts/gpu_bench.sh (not presets)
PRICES_FILE = DATA_DIR / "prices" / "prices.yaml"
MEASUREMENTS_FILE = DATA_DIR / "validation" / "measurements.yaml"
THRESHOLDS_FILE = DATA_DIR / "validation_thresholds.yaml"
ENGINES_FILE = DATA_DIR / "engines.yaml"

GENERATED_DIR = DATA_DIR / "generated"
ERROR_BANDS_FILE = GENERATED_DIR / "error_bands.yaml"
ENGINES_FITTED_FILE = GENERATED_DIR / "engines.fitted.yaml"
KERNELS_DIR = GENERATED_DIR / "kernels"
ELEMENTWISE_FILE = GENERATED_DIR / "elementwise_passes.yaml"
