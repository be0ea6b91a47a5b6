"""The result of ``tokcost validate``: every published measurement priced, the error summaries and the gate."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
DEFINITIONS = {  # what each error measure of a validation result means (written into every result)
    "ratio": "predicted / measured",
    "rel_err": "|predicted - measured| / measured (headline: its median)",
    "log_err": "|ln(predicted / measured)| (the fit minimises its mean)",
    "worst_factor": "max over entries of max(ratio, 1/ratio)",
    "held_out": "leave-one-source-out: each source's entries predicted by parameters refitted on all other sources",
}


class ValidationResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = SCHEMA_VERSION
    refit: bool = Field(description="Parameters refitted over the whole set (true) or the committed ones (false).")
    definitions: dict[str, str] = Field(description="What each error measure means.")
    thresholds: dict[str, Any] = Field(description="The gate: median and worst error allowed per family.")
    summary: dict[str, Any] = Field(description="Error summaries per family: in_sample and held_out (or null).")
    parameters: list[dict[str, Any]] = Field(description="Engine parameters: value, committed, held-out range.")
    bands: dict[str, Any] = Field(
        default={},
        description="Calibrated bands per family from the held-out errors: low/high (ln of measured / predicted "
        "latency, split-conformal 80% band), n, coverage (leave-one-source-out), width (high / low).",
    )
    entries: list[dict[str, Any]] = Field(description="Every measurement: measured, predicted, ratio, errors.")
    failures: list[str] = Field(description="Gate failures, in sentences (empty when passed).")
    scored: int = Field(description="Entries priced and compared (none scored fails the gate: nothing was validated).")
    passed: bool = Field(description="Every family within its thresholds (exit code 0; else 1).")
