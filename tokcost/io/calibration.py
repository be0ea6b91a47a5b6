"""Read and write calibration files (:mod:`tokcost.records.calibration`), and the measured device as hardware."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tokcost.io.parse import load_model
from tokcost.records.base import Fraction, Range
from tokcost.records.calibration import CalibrationFile, Device, Fit
from tokcost.records.presets import DenseRates, HardwareEfficiency, HardwarePreset

if TYPE_CHECKING:
    from tokcost.io.catalog import Catalog


@dataclass(frozen=True)
class Calibration:
    """A loaded calibration: the file's records and where it was read from."""

    data: CalibrationFile
    path: str

    def fit_for(self, hw_id: str) -> Fit | None:
        """The fitted factors when ``hw_id`` is the calibrated device, else ``None``
        (:func:`tokcost.engine.profiles.efficiency` applies them)."""
        return self.data.fit_for(hw_id)

    def unused_note(self, hardware_ids) -> str | None:
        """A sentence saying the calibration does not apply, when none of ``hardware_ids`` is its device (a
        calibration scales the engines only on the device it measured)."""
        ids = list(dict.fromkeys(hardware_ids))
        if not ids or any(self.fit_for(h) is not None for h in ids):
            return None
        d = self.data.device
        return (
            f"the calibration {self.path} was measured on {d.name} ({d.preset or d.id}), not on "
            f"{', '.join(ids)}: it is not applied, and the engine profiles' own factors are used"
        )

    def hardware_preset(self, catalog: Catalog) -> HardwarePreset:
        """The measured device as hardware: the known preset when ``device.preset`` is set, else a preset of
        vendor ``measured`` whose rates are the measured ceilings."""
        d = self.data.device
        if d.preset is not None:
            return catalog.hardware(d.preset)
        return measured_preset(d, self.path)


def measured_preset(d: Device, path: str) -> HardwarePreset:
    tf = d.matmul_tflops
    one = Range[Fraction](low=1.0, high=1.0)
    cite = f"measured by tokcost bench, calibration file {path}"
    return HardwarePreset(
        id=d.id,
        name=f"{d.name} (measured)",
        vendor="measured",
        dense_tflops=DenseRates(bf16=tf, fp16=tf, fp32=tf),
        memory_gb=d.memory_gb,
        bandwidth_tbps=d.copy_gbps / 1000.0,
        tdp_w=1.0,
        efficiency=HardwareEfficiency(matmul=one, bandwidth=one, training_mfu=Range[Fraction](low=0.3, high=0.5)),
        sources={
            "dense_tflops": f"{cite}: {d.dtype} square matmul ceiling (used for every precision)",
            "memory_gb": cite,
            "bandwidth_tbps": f"{cite}: device copy ceiling (bytes read + written)",
            "tdp_w": "not measured: placeholder (tokcost uses tdp_w for display only)",
            "efficiency": "the rates are measured ceilings, so the hardware fractions are 1; the fitted "
            "factors of the calibration replace the engine's",
            "efficiency.training_mfu": "assumption: typical planning range 0.30-0.50 (facts/hardware.md)",
        },
        notes="built from a tokcost bench calibration",
    )


def load_calibration(path: str | Path) -> Calibration:
    """Load and validate a calibration YAML; raises InputError with file:line:col for every problem."""
    data, _ = load_model(CalibrationFile, path)
    return Calibration(data=data, path=str(path))


def dump_calibration(data: CalibrationFile) -> str:
    import yaml

    header = (
        "# tokcost calibration, written by `tokcost bench`. Fitted factors are fractions of the reference\n"
        "# rates in fit (datasheet of device.preset, or the measured ceilings). Use: tokcost estimate\n"
        "# --calibration FILE (without --hardware it prices the measured device).\n"
    )
    body = yaml.safe_dump(data.model_dump(mode="json"), sort_keys=False, width=120, allow_unicode=True)
    return header + body
