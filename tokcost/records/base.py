"""What every input record shares: the strict base, numbers that refuse a boolean, and the one low-high range.

Records are plain pydantic models. Two choices are tokcost's own:

- :class:`Strict` (every input record) forbids unknown keys (a misspelt field is an error, reported with a
  suggestion by :mod:`tokcost.io.parse`) and is frozen (a loaded spec or preset is never changed in place).
- A number field refuses a boolean. YAML 1.1 reads ``yes``, ``on`` and ``true`` as booleans and pydantic would
  take them as 1 for a number; :data:`NOT_BOOL` refuses them with ``must be a number, not true``. Otherwise
  numbers stay lax, as users write them in YAML: ``1e6`` (a string to YAML 1.1) is a float and ``1024.0`` is an
  int. pydantic's ``strict=True`` would refuse both, so it is not used.

:data:`NOT_BOOL` goes last in an ``Annotated``, after the constraints: ``Annotated[int, Field(ge=1), NOT_BOOL]``.
Constraints placed after it (``Annotated[Int, Field(ge=1)]``, or ``Field(ge=1)`` on an ``Int | None`` field) are
checked by a generic validator instead of the number's own (NaN then passes ``allow_inf_nan=False`` as a
comparison error, and the JSON Schema shows ``ge`` instead of ``minimum``); tests/test_schema.py checks every
record for that.

The record modules that ``tokcost analyze`` imports leave out ``from __future__ import annotations``: pydantic
evaluates every string annotation when it builds a model (a ``compile`` each, some 600 on that path), while a plain
annotation is already the type. A method returning its own class names it in quotes.
"""

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator


def refuse_bool(value: Any) -> Any:
    """A boolean where a number is expected is an error, not 1 or 0."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    return value


NOT_BOOL = BeforeValidator(refuse_bool)

Int = Annotated[int, NOT_BOOL]
Float = Annotated[float, NOT_BOOL]
Finite = Annotated[float, Field(allow_inf_nan=False), NOT_BOOL]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False), NOT_BOOL]
# The smallest positive number a preset, calibration or spec quantity may hold: far below any real one (a
# fraction, TB/s, TFLOP/s, GB, billions of parameters, requests a day), far enough above the smallest double
# (5e-324) that nothing derived from it (a latency, a cost) overflows to inf or turns NaN.
SMALLEST = 1e-6


def _not_tiny(value: float) -> float:
    if 0 < value < SMALLEST:
        raise ValueError(f"{value:g} is too small to compute with (the smallest value taken is {SMALLEST:g})")
    return value


NOT_TINY = AfterValidator(_not_tiny)
# The attention kernels a diffusion or MAR estimate prices (one home for the list): sdpa (PyTorch's
# scaled_dot_product_attention through its FlashAttention-2 backend, as PyTorch 2.0-2.10 ran it), fa2, fa3
# (FlashAttention-3, Hopper), cudnn (SDPA's cuDNN fused-attention backend, which PyTorch 2.11 and later pick first
# on Hopper and Blackwell), each at its hardware figure (efficiency.attention, attention_fa3, attention_cudnn); and
# math, unfused attention (matmul, softmax, matmul with the scores in memory: tokcost.engine.physics.
# unfused_attention_s), as code that does not call SDPA runs it.
AttentionKernel = Literal["sdpa", "fa2", "fa3", "cudnn", "math"]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False), NOT_BOOL, NOT_TINY]

# A preset's numbers (records/presets.py, and the family sections of records/families/ that it imports). Upper
# bounds far above any real chip or model (the largest preset number is under 300,000): they keep absurd user
# values (10**30) from overflowing the engine's float arithmetic into inf/NaN.
MAX_PRESET_INT = 10**12
MAX_PRESET_FLOAT = 1e12
PosFloat = Annotated[float, Field(gt=0, le=MAX_PRESET_FLOAT, allow_inf_nan=False), NOT_BOOL, NOT_TINY]
PosInt = Annotated[int, Field(gt=0, le=MAX_PRESET_INT), NOT_BOOL]
Count = Annotated[int, Field(ge=0), NOT_BOOL]


class Strict(BaseModel):
    """Base of every input record (specs, presets, engine profiles, calibrations, measurements)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


N = TypeVar("N", bound=float)


class Range(Strict, Generic[N]):
    """A low-high range; ``central`` defaults to the midpoint. ``Range[Fraction]``: an efficiency factor in
    (0, 1]; ``Range[NonNegative]``: seconds or a count of passes."""

    low: N = Field(description="Low end.")
    high: N = Field(description="High end.")
    central: N | None = Field(default=None, description="Central value (default: the midpoint of low and high).")

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        return "Range"  # as error messages name it ("... or instance of Range"), whatever its number type

    @model_validator(mode="after")
    def _ordered(self):
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        if self.central is not None and not self.low <= self.central <= self.high:
            raise ValueError("central must lie between low and high")
        return self

    @property
    def mid(self) -> float:
        return self.central if self.central is not None else (self.low + self.high) / 2
