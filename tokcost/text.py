"""Every human-facing number format: the renderers and the recommendation sentences use these and no others.

Where two reports print the same quantity differently (``secs`` and ``sig_seconds``), both are kept, each named
for what it prints, so that no committed report changes."""

from __future__ import annotations

import math
import re


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


def dollars(x: float | None) -> str:
    """Whole dollars with thousands separators ($40,179); ``-`` for None (monthly figures)."""
    return "-" if x is None else f"${x:,.0f}"


def sig(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits without an exponent for everyday magnitudes (1,290, not 1.29e+03)."""
    text = f"{x:.{digits}g}"
    if "e" in text and 1e-4 <= abs(x) < 1e9:
        text = f"{float(text):,.0f}" if abs(x) >= 1 else f"{float(text):.6f}".rstrip("0")
    return text


def sig_seconds(x: float | None) -> str:
    """Seconds to three significant digits, exponent and all (0.912 s, 1.18e+03 s); ``-`` for None. Unlike
    :func:`secs` it keeps the exponent: the check and diff reports print it so."""
    return "-" if x is None else f"{x:.3g} s"


def percent_change(change_pct: float | None) -> str:
    """A change already in percent, signed to one decimal (+12.5%, -3.0%); ``0%`` within +-0.05; ``-`` for None."""
    if change_pct is None:
        return "-"
    return "0%" if abs(change_pct) < 0.05 else f"{change_pct:+.1f}%"


def pct(fraction: float | None) -> str:
    """A fraction as a percentage to one decimal (0.064 -> 6.4%); ``-`` for None or NaN."""
    if fraction is None or (isinstance(fraction, float) and math.isnan(fraction)):
        return "-"
    return f"{fraction:.1%}"


def number(x: float | None) -> str:
    """A measured or predicted quantity: 0; three significant digits below 100 (0.0123, 8.73, 45.2); one decimal
    from 100 to 999 (229.4); whole with thousands separators from 1,000 (150,000); ``-`` for None."""
    if x is None:
        return "-"
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 1:
        return f"{x:.3g}" if a < 100 else f"{x:.1f}"
    return f"{x:.3g}"


def ms(seconds: float | None) -> str:
    """Seconds as milliseconds to one decimal, no unit (0.0123 -> 12.3); ``-`` for None."""
    return "-" if seconds is None else f"{seconds * 1e3:.1f}"


def bandwidth(gbps: float) -> str:
    """A memory bandwidth: 912.3 GB/s below 1,000 GB/s, else 3.35 TB/s."""
    return f"{gbps:,.1f} GB/s" if gbps < 1000 else f"{gbps / 1000:,.2f} TB/s"


def flop_rate(tflops: float) -> str:
    """A compute rate: 512.0 GFLOP/s below 1 TFLOP/s, else 989.4 TFLOP/s."""
    return f"{tflops * 1e3:,.1f} GFLOP/s" if tflops < 1 else f"{tflops:,.1f} TFLOP/s"


def spec_value(v) -> str:
    """A spec value as a reader wrote it: 2048, 3, [a100-80gb-sxm, h100-sxm], unset."""
    if v is None:
        return "unset"
    if isinstance(v, list):
        return "[" + ", ".join(spec_value(x) for x in v) + "]"
    return f"{v:g}" if isinstance(v, float) else str(v)


def duration(seconds: float | None) -> str:
    """A duration a person reads at a glance: 0.123 s, 45.2 s, 31.6 min, 17.6 h, 54.7 days; ``n/a`` for None."""
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    if seconds < 60:
        return f"{seconds:.3g} s"
    if seconds < 3600:
        return f"{seconds / 60:.3g} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86400:,.1f} days"


def count(x: float | None) -> str:
    """A count as a whole number with separators (300,000,000,000); ``n/a`` for None."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:.3g}"


def counted(n: int, noun: str) -> str:
    """A whole count and its noun, singular for one: 1 request, 2,000 requests."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


_SI = ((1e24, "Y"), (1e21, "Z"), (1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(x: float | None, unit: str) -> str:
    """A large quantity with an SI prefix and no exponent: 44.9 ZFLOP, 1.2 TFLOP; ``n/a`` for None."""
    if x is None or not math.isfinite(x):
        return "n/a"
    for scale, prefix in _SI:
        if abs(x) >= scale:
            return f"{x / scale:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}"


def count_short(x: float | None) -> str:
    """A large count as ML papers write it: 300B, 1.2T, 45M, 8,192; ``n/a`` for None."""
    if x is None or not math.isfinite(x):
        return "n/a"
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return count(x)


# control characters (C0, DEL, C1: ESC and the OSC/CSI introducers among them), the Unicode line and paragraph
# separators, the bidirectional overrides and isolates (text that displays other than it reads), and lone
# surrogates (undecodable bytes of a file name): none may reach a terminal or a log as is
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def visible(text: str) -> str:
    """User text with every control character shown as an escape (``\\n``, ``\\x1b``): a newline cannot start a
    new line on a terminal or in a CI log, an ANSI or OSC sequence cannot reach the terminal. Prefer
    :func:`escape_line`, which also defuses GitHub workflow commands."""
    return _CONTROL.sub(_escape_char, text)


def _escape_char(m: re.Match) -> str:
    ch = m.group()
    return repr(ch)[1:-1] if not 0xD800 <= ord(ch) <= 0xDFFF else f"\\u{ord(ch):04x}"


def escape_line(text: object) -> str:
    """User text (a name, a file name, an id, a message quoting them) made safe for any human output, as one
    piece of one line: control characters shown as escapes (:func:`visible`), and every ``::`` written ``:\\:``,
    so that no line of a CI log can start a GitHub workflow command (``::error``, ``::add-mask``), even where a
    table wraps the text. Rich markup needs no escaping here: every rich console of the renderers has markup off."""
    return visible(str(text)).replace("::", ":\\:")


# ASCII punctuation that CommonMark or GitHub give a meaning inside a line: emphasis and strikethrough (* _ ~),
# links and images (! [ ] ( )), code (`), HTML and autolinks (< > &, and the ':' of http: and mailto:), headings
# (#), math ($), tables (|), mentions and e-mail autolinks (@) and escapes themselves (\\). CommonMark defines a
# backslash escape for every one of them. GitHub's other autolink, www., is broken by escaping its dot.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~@&:$])")
_WWW = re.compile(r"(www)\.", re.IGNORECASE)


def markdown_text(text: object) -> str:
    """User text for a markdown cell or line (never inside a code span), shown exactly as written:
    :func:`escape_line`, then the punctuation markdown or GitHub reads as syntax backslash-escaped, so that a name
    renders no image, link, autolink, mention, reference, emphasis, HTML or second ``<!-- tokcost-check -->``
    marker, and stays in its table cell."""
    return _WWW.sub(r"\1\\.", _MARKDOWN_SPECIAL.sub(r"\\\1", escape_line(text)))


def markdown_code(text: object) -> str:
    """Text for inside a markdown code span, where backslash escapes are not read: :func:`escape_line`, and the
    characters that would end the span, the table cell or open HTML replaced (backtick -> ', | -> \\|, < -> &lt;)."""
    return escape_line(text).replace("`", "'").replace("|", "\\|").replace("<", "&lt;")


MAX_QUOTED = 120  # characters of a value quoted in a message


def quoted(value: object) -> str:
    """``repr(value)`` for a message, bounded: an integer too long to print (Python refuses more than 4,300
    digits) or a long text is summarised instead of raising or flooding the terminal."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of about {int(value.bit_length() * 0.30103):,} digits"
    if isinstance(value, (dict, list, tuple, set)):
        return type(value).__name__
    text = repr(value)
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 5] + "...'" + f" ({len(text):,} characters)"
