"""Read and write calibration files (:mod:`tokcost.records.calibration`), and the measured device as hardware."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tokcost.errors import InputError, Problem
from tokcost.io.located import Located, dotted
from tokcost.io.parse import load_model
from tokcost.records.base import Fraction, Range
from tokcost.records.calibration import KNOWN_GPUS, CalibrationFile, Device, Fit
from tokcost.records.presets import DenseRates, HardwareEfficiency, HardwarePreset
from tokcost.text import quoted

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


def load_calibration(path: str | Path, catalog: Catalog | None = None) -> Calibration:
    """Load and validate a calibration YAML; raises InputError with file:line:col for every problem. With the
    ``catalog``, the device is also checked against the hardware preset it claims (:func:`device_problems`)."""
    data, doc = load_model(CalibrationFile, path)
    if catalog is not None:
        problems = device_problems(data, doc, catalog)
        if problems:
            raise InputError(problems)
    return Calibration(data=data, path=str(path))


MATCH = 0.02  # a datasheet reference is the preset's own figure, as `tokcost bench` copies it: within 2%
CEILING_ABOVE_DATASHEET = 1.05  # a measured ceiling may read a few percent above the datasheet (boost clocks)
MEMORY_RANGE = (0.85, 1.1)  # torch reports GiB of usable memory; the datasheet decimal GB of the part


def device_problems(cal: CalibrationFile, doc: Located, catalog: Catalog) -> list[Problem]:
    """A calibration whose device does not match the preset it claims would be applied to the wrong chip (and flip
    a recommendation): the preset must exist, be the one ``tokcost bench`` maps the device's name to, hold the
    measured memory and ceilings, and (for a datasheet fit) be the reference the factors are fractions of, which
    a chip cannot exceed (mfu, mbu <= 1); a fit to measured ceilings may not give rates above the datasheet's
    either (a factor above 1 of a ceiling measured low is fine)."""
    out: list[Problem] = []

    def add(path: tuple, msg: str) -> None:
        out.append(Problem(doc.file, *doc.where(path), dotted(path), msg))

    d, fit = cal.device, cal.fit
    expected = KNOWN_GPUS.get(d.name) if d.kind == "cuda" else None
    if d.preset is None:
        if catalog.has("hardware", d.id):  # its fit would be applied to that preset's chip
            add(
                ("device", "id"),
                f"{quoted(d.id)} is a hardware preset's id: a measured device that is not that chip takes an id of "
                "its own (tokcost bench writes measured-...), or names the chip it is as preset",
            )
        if expected is not None:
            add(
                ("device", "preset"),
                f"device {quoted(d.name)} is the hardware preset {expected}; set preset: {expected}",
            )
        if fit.reference == "datasheet":
            add(("fit", "reference"), "a datasheet fit needs device.preset (the datasheet it is a fraction of)")
        return out
    if not catalog.has("hardware", d.preset):
        add(("device", "preset"), catalog.unknown_message("hardware", d.preset))
        return out
    if d.kind == "cpu":
        add(("device", "preset"), f"a CPU measurement is not the hardware preset {d.preset}")
        return out
    hw = catalog.hardware(d.preset)
    if expected is not None and expected != hw.id:
        add(("device", "preset"), f"device {quoted(d.name)} is {expected}, not {hw.id}")
    peak = _datasheet_peak(hw, d.dtype)
    bandwidth = hw.bandwidth_tbps * 1000
    if d.matmul_tflops > peak * CEILING_ABOVE_DATASHEET:
        add(("device", "matmul_tflops"), f"{d.matmul_tflops:g} TFLOP/s is above {hw.id}'s {d.dtype} peak, {peak:g}")
    if d.copy_gbps > bandwidth * CEILING_ABOVE_DATASHEET:
        add(("device", "copy_gbps"), f"{d.copy_gbps:g} GB/s is above {hw.id}'s bandwidth, {bandwidth:g}")
    low, high = MEMORY_RANGE
    if not low * hw.memory_gb <= d.memory_gb <= high * hw.memory_gb:
        add(("device", "memory_gb"), f"{d.memory_gb:g} GB does not match {hw.id}'s {hw.memory_gb:g} GB")
    if fit.reference == "datasheet":
        for field, value, sheet in (
            ("peak_tflops", fit.peak_tflops, peak),
            ("bandwidth_gbps", fit.bandwidth_gbps, bandwidth),
        ):
            if abs(value - sheet) > MATCH * sheet:
                add(("fit", field), f"{value:g} is not {hw.id}'s datasheet figure, {sheet:g}")
        for field, value in (("mfu", fit.mfu), ("mbu", fit.mbu)):
            if value > 1:
                add(("fit", field), f"{value:g} is above 1: faster than {hw.id}'s datasheet allows")
    else:  # fractions of measured ceilings: the rates they give may not beat the chip either
        for field, rate, sheet, unit in (
            ("mfu", fit.peak_tflops * fit.mfu, peak, "TFLOP/s"),
            ("mbu", fit.bandwidth_gbps * fit.mbu, bandwidth, "GB/s"),
        ):
            if rate > sheet * CEILING_ABOVE_DATASHEET:
                add(("fit", field), f"gives {rate:,.4g} {unit}, above {hw.id}'s datasheet {sheet:,.4g} {unit}")
    return out


def _datasheet_peak(hw: HardwarePreset, dtype: str) -> float:
    """The preset's dense TFLOP/s at the calibration's dtype (fp32: its fp32 rate, else the bf16 one)."""
    rate = getattr(hw.dense_tflops, dtype, None)
    return rate if rate is not None else hw.dense_tflops.bf16


def dump_calibration(data: CalibrationFile) -> str:
    import yaml

    header = (
        "# tokcost calibration, written by `tokcost bench`. Fitted factors are fractions of the reference\n"
        "# rates in fit (datasheet of device.preset, or the measured ceilings). Use: tokcost estimate\n"
        "# --calibration FILE (without --hardware it prices the measured device).\n"
    )
    body = yaml.safe_dump(data.model_dump(mode="json"), sort_keys=False, width=120, allow_unicode=True)
    return header + body
