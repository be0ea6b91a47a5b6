"""Where tokcost's own data lives: presets and measurements in a wheel (``tokcost/_presets``) or in a source
checkout (beside the package), and the data files shipped inside the package."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PACKAGE_DIR / "data"
ENGINES_FILE = DATA_DIR / "engines.yaml"
THRESHOLDS_FILE = DATA_DIR / "validation_thresholds.yaml"
ERROR_BANDS_FILE = DATA_DIR / "error_bands.yaml"


def builtin_root() -> Path:
    """The folder holding ``hardware/``, ``models/`` and ``validation/``: inside the wheel, else the checkout."""
    packaged = PACKAGE_DIR / "_presets"
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent


MEASUREMENTS_FILE = builtin_root() / "validation" / "measurements.yaml"
