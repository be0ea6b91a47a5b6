"""The result of ``tokcost validate``: every published measurement priced, the error summaries and the gate."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1
# the three ways validation holds entries out (tokcost/core/validate.py HELD_OUT_BY), as the docs name them
HELD_OUT_NAMES = {"source": "source", "hardware": "GPU", "engine": "engine"}
DEFINITIONS = {  # what each error measure of a validation result means (written into every result)
    "ratio": "predicted / measured",
    "rel_err": "|predicted - measured| / measured (headline: its median)",
    "log_err": "|ln(predicted / measured)| (the fit minimises its mean)",
    "worst_factor": "max over entries of max(ratio, 1/ratio)",
    "held_out": "leave-one-source-out: each source's entries predicted by parameters refitted on all other sources",
    "held_out_by": "held out three ways: by source (as held_out), by GPU (each hardware preset's entries, multi-GPU "
    "runs counting for their chip, predicted by a refit without any entry on it) and by engine (each engine "
    "profile's entries predicted by a refit without that engine; parameters only it identifies take a stated "
    "prior, tokcost/core/fit.py PRIORS)",
    "held_out_worst": "per family, the worst of the three held-out summaries (largest median, largest worst factor)",
}


class ValidationResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = SCHEMA_VERSION
    refit: bool = Field(description="Parameters refitted over the whole set (true) or the committed ones (false).")
    definitions: dict[str, str] = Field(description="What each error measure means.")
    thresholds: dict[str, Any] = Field(description="The gate: median and worst error allowed per family.")
    summary: dict[str, Any] = Field(
        description="Error summaries per family: in_sample, held_out (leave-one-source-out) and held_out_worst (the "
        "worst of the three held_out_by summaries per family), the last two null without the held-out run."
    )
    held_out_by: dict[str, Any] | None = Field(
        default=None,
        description="Held-out error summaries per family, three ways: source, hardware and engine (null without "
        "the held-out run).",
    )
    parameters: list[dict[str, Any]] = Field(description="Engine parameters: value, committed, held-out range.")
    bands: dict[str, Any] = Field(
        default={},
        description="Calibrated bands per family from the held-out errors, the widest of the three ways "
        "(held_out_by names it): low/high (ln of measured / predicted latency, split-conformal 80% band), n, "
        "coverage (leave-one-source-out), width (high / low).",
    )
    entries: list[dict[str, Any]] = Field(description="Every measurement: measured, predicted, ratio, errors.")
    failures: list[str] = Field(description="Gate failures, in sentences (empty when passed).")
    scored: int = Field(description="Entries priced and compared (none scored fails the gate: nothing was validated).")
    passed: bool = Field(description="Every family within its thresholds (exit code 0; else 1).")
