"""Formatters for ``tokcost check``: each is a pure ``format_x(GateResult) -> str``.

``table`` is the terminal report (``file:line:col: [error] limit: message`` as yamllint prints), ``markdown`` the
compact PR comment, ``json`` the result itself; ``github`` (Actions annotations) lives in ``render.github``, which
imports this module (never the reverse). ``tokcost.render.registry`` maps ``--format`` to these functions.
"""

from __future__ import annotations

from tokcost.records.gate import Choice, Delta, GateResult, Limits, SpecGate
from tokcost.render.advice import gate_problem
from tokcost.text import escape_line, markdown_code, markdown_text, money, percent_change, secs, spec_value

COMMENT_MARKER = "<!-- tokcost-check -->"


def sentence(text: str) -> str:
    """``text`` ending in exactly one full stop."""
    return text.rstrip().rstrip(".") + "."


def seconds(x: float | None) -> str:
    """Seconds as a reader writes them, never with an exponent (0.912 s, 8.73 s, 1,180 s); ``-`` for None."""
    return "-" if x is None else secs(x)


def change(d: Delta) -> str:
    """The change of ``d`` in percent (text.percent_change)."""
    return percent_change(d.change_pct)


def past_now(d: Delta, unit) -> str:
    if d.before is None:
        return unit(d.after)
    return f"{unit(d.before)} -> {unit(d.after)}"


def choice_text(before: Choice | None, after: Choice | None, baseline: str, escape=escape_line) -> str:
    """The recommended option, past and now; ``escape`` (a baseline's labels are user text) is escape_line for
    plain text, markdown_text for markdown."""
    now = escape(after.label()) if after else "none feasible"
    if baseline != "matched":
        return now
    past = escape(before.label()) if before else "none feasible"
    return f"{now} (unchanged)" if past == now else f"{past} -> {now}"


def changes_text(changes, escape=escape_line) -> str:
    """The inputs that changed (a baseline's values are user text: ``escape`` as in :func:`choice_text`)."""
    shown = (f"{escape(c.field)} {escape(spec_value(c.before))} -> {escape(spec_value(c.after))}" for c in changes)
    return ", ".join(shown) or "none"


def limits_text(limits: Limits) -> str:
    """The baseline limits in words: the budgets in the specs are always checked; these are the rises over the
    baseline that fail the gate (none when no --max-...-increase was given)."""
    given = [
        f"{name} +{v:g}%"
        for name, v in (("cost", limits.max_cost_increase_pct), ("latency", limits.max_latency_increase_pct))
        if v is not None
    ]
    return f"baseline limits: {', '.join(given)}" if given else "no baseline limits"


def summary(result: GateResult) -> str:
    n, bad = len(result.specs), len(result.failed)
    specs = f"spec{'s' if n != 1 else ''}"
    if bad:
        return f"{bad} of {n} {specs} failed"
    return f"{'all ' if n > 1 else ''}{n} {specs} passed"


def _status(s: SpecGate) -> str:
    if not s.passed:
        return "FAIL"
    return "new" if s.baseline == "new" else "ok"


def _position(file: str, line: int, col: int) -> str:
    return f"{file}:{line}:{col}" if line else file


def _spec_block(s: SpecGate) -> list[str]:
    out = [f"{_status(s).upper():<4}  {escape_line(s.name)}  ({escape_line(s.file)})"]
    if s.baseline == "new":
        out.append("      new: not in the baseline; budgets checked, nothing to compare")
    out.append(
        f"      cost/item  {past_now(s.cost_per_item_usd, money)}  ({change(s.cost_per_item_usd)})"
        if s.baseline == "matched"
        else f"      cost/item  {money(s.cost_per_item_usd.after)}"
    )
    out.append(
        f"      latency    {past_now(s.latency_s, seconds)}  ({change(s.latency_s)})"
        if s.baseline == "matched"
        else f"      latency    {seconds(s.latency_s.after)}"
    )
    out.append(f"      choice     {choice_text(s.choice_before, s.choice_after, s.baseline)}")
    if s.changes:
        out.append("      changed    " + changes_text(s.changes))
    for v in s.violations:
        message, fix = gate_problem(v, s)
        out.append(f"  {escape_line(_position(s.file, v.line, v.col))}: [error] {v.limit}: {escape_line(message)}")
        if fix:
            out.append(f"      fix: {escape_line(fix)}")
    return out


def format_table(result: GateResult) -> str:
    out: list[str] = []
    for s in result.specs:
        out += _spec_block(s) + [""]
    if result.unmatched_baseline:
        out.append(f"in the baseline but not checked: {', '.join(map(escape_line, result.unmatched_baseline))}")
    out.append(f"tokcost check: {summary(result)} ({limits_text(result.limits)}).")
    return "\n".join(out) + "\n"


def _md_row(s: SpecGate) -> str:
    matched = s.baseline == "matched"
    cost = past_now(s.cost_per_item_usd, money) if matched else money(s.cost_per_item_usd.after)
    lat = past_now(s.latency_s, seconds) if matched else seconds(s.latency_s.after)
    mark = {"FAIL": ":x: fail", "new": ":new: new", "ok": ":white_check_mark: ok"}[_status(s)]
    if not s.passed and s.baseline == "new":
        mark += " (new)"
    return (
        f"| {markdown_text(s.name)} | {cost} | {change(s.cost_per_item_usd) if matched else '-'} | {lat} | "
        f"{change(s.latency_s) if matched else '-'} | "
        f"{choice_text(s.choice_before, s.choice_after, s.baseline, markdown_text)} "
        f"| {mark} |"
    )


def format_markdown(result: GateResult) -> str:
    out = [
        COMMENT_MARKER,
        "### tokcost check",
        "",
        "| spec | cost/item (past -> now) | change | latency at the percentile (past -> now) | change | choice | result |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    out += [_md_row(s) for s in result.specs]
    problems = [(s, v) for s in result.specs for v in s.violations]
    if problems:
        out += ["", "**Problems**", ""]
        for s, v in problems:
            where = f"`{markdown_code(s.file)}` line {v.line}" if v.line else f"`{markdown_code(s.file)}`"
            message, fix = gate_problem(v, s)
            fix_text = f" Fix: {markdown_text(sentence(fix))}" if fix else ""
            out.append(
                f"- **{markdown_text(s.name)}** `{markdown_code(v.field)}` ({where}): "
                f"{markdown_text(sentence(message))}{fix_text}"
            )
    if result.unmatched_baseline:
        out += ["", f"In the baseline but not checked: {', '.join(map(markdown_text, result.unmatched_baseline))}."]
    verdict = ":x: **fail**" if result.exit_code else ":white_check_mark: **pass**"
    out += ["", f"**Verdict:** {verdict}: {summary(result)} ({limits_text(result.limits)})."]
    return "\n".join(out) + "\n"


def format_json(result: GateResult) -> str:
    from tokcost.render.json import format_record

    return format_record(result)
