"""The result of ``tokcost validate``: every published measurement priced, the error summaries and the gate."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 2  # 2: gate failures and the reasons an entry is not scored as typed facts, not sentences
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


class Unscored(BaseModel):
    """Why an entry is not scored (worded by :func:`tokcost.render.validate.unscored_words`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal[
        "excluded",  # the data file excludes it (``detail``: its exclude_reason)
        "no_model",  # model null and nothing else to price it from: documentation only
        "no_hardware",  # hardware null (GPU unknown or not in the hardware list): documentation only
        "gpu_hours_outside_training",
        "decode_needs_tokens",  # a text-decode metric without the decoder's architecture or the token counts
        "gpus_outside_multi_gpu",  # more than one GPU outside the multi-gpu family
        "steps_outside_diffusion",  # a steps_per_s figure of a model with no denoising loop
        "loop_without_decode",  # a loop_s figure of a model whose call is no loop before a VAE decode
        "training_tokens_unstated",  # an AR model's training tokens: 6ND cannot be computed
        "training_samples_unstated",  # a diffusion model's training samples (images seen)
        "enforce_eager_outside_bare_decoder",  # conditions.enforce_eager on anything but a bare text decoder's run
        "cannot_price",  # the estimator refused the conditions (``detail``: its error)
    ]
    detail: str | None = None
    metric: str | None = None  # decode_needs_tokens
    gpus: int | None = None  # gpus_outside_multi_gpu


class GateFailure(BaseModel):
    """One threshold a family's errors breach (worded by :func:`tokcost.render.validate.failure_words`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: Literal["in-sample", "held-out"]
    family: str
    measure: Literal["median_rel_err", "worst_factor"]
    value: float
    limit: float
    worst_id: str | None = None  # worst_factor: the entry that is off by the most


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
        description="Calibrated bands per family from the held-out errors, on each side the widest of the three "
        "ways (held_out_by names each side's: {low, high}): low/high (ln of measured / predicted latency, "
        "split-conformal band at level), n, level (the lowest from 0.85 whose leave-one-source-out coverage "
        "reaches 80%; the higher of the two sides'), coverage (leave-one-source-out, the lowest of the three "
        "ways'), width (high / low).",
    )
    entries: list[dict[str, Any]] = Field(description="Every measurement: measured, predicted, ratio, errors.")
    failures: list[GateFailure] = Field(
        description="Gate failures: family, measure, value and limit (empty when passed)."
    )
    scored: int = Field(description="Entries priced and compared (none scored fails the gate: nothing was validated).")
    passed: bool = Field(description="Every family within its thresholds (exit code 0; else 1).")
