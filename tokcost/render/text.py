"""Number formatting shared by the renderers and the recommendation sentences."""

from __future__ import annotations

import math


def money(x: float | None) -> str:
    """$0.0066, $0.000025, $1.31, $40,179 (three significant digits below $1000)."""
    if x is None:
        return "-"
    if x >= 1000:
        return f"${x:,.0f}"
    if x >= 1:
        return f"${x:,.2f}"
    if x == 0:
        return "$0"
    decimals = min(12, max(2, -math.floor(math.log10(x)) + 2))
    text = f"{x:.{decimals}f}".rstrip("0")
    return "$" + (text + "0" if text.endswith(".") or len(text.split(".")[1]) < 2 else text)


def secs(x: float) -> str:
    """0.912 s, 8.73 s, 229 s, 1,180 s."""
    if x >= 1000:
        return f"{x:,.0f} s"
    return f"{x:.3g} s"
