"""The bench result as a plain-text table: ``format_table(result) -> str`` (pure; no torch)."""

from __future__ import annotations

from tokcost.text import bandwidth, escape_line, flop_rate, ms, pct


def format_table(r: dict) -> str:
    d, c, f = r["device"], r["ceilings"], r["fit"]
    ref = "datasheet of " + d["preset"] if f["reference"] == "datasheet" else "measured ceilings"
    lines = [
        f"tokcost bench: {r['model']}, {r['layers_run']} of {r['layers_full']} layers, {r['dtype']}, "
        f"on {escape_line(d['name'])} ({d['kind']})",
        f"ceilings: copy {bandwidth(c['copy_gbps'])} (read + written), matmul {flop_rate(c['matmul_tflops'])}",
        f"fit ({ref}: {flop_rate(f['peak_tflops'])}, {bandwidth(f['bandwidth_gbps'])}): mfu {f['mfu']:.3f}, "
        f"mbu {f['mbu']:.3f}, host/layer {f['host_per_layer_s'] * 1e3:.3f} ms, fixed/step "
        f"{f['fixed_per_step_s'] * 1e3:.2f} ms",
        f"holdout_error {pct(r['holdout_error'])} over {f['holdout_targets']} held-out targets "
        f"(fit error {pct(f['fit_error'])} over {f['fit_targets']})",
        "",
    ]
    head = (
        "kind",
        "cfg",
        "batch",
        "ctx",
        "split",
        "step ms",
        "layers",
        "head",
        "sample",
        "GB/s",
        "%copy",
        "TFLOP/s",
        "model ms",
        "err",
        "full ms",
        "model",
    )
    rows: list[tuple[str, ...]] = [head]  # a skipped point's row is shorter
    for p in r["points"]:
        if p.get("skipped"):
            rows.append((p["kind"], p["cfg"], str(p["batch"]), str(p["context"]), p["split"], p["skipped"]))
            continue
        meas = p["step_s"] if p["kind"] == "decode" else p["layers_s"]
        pred = p.get("predicted_s")
        err = None if pred is None else (pred - meas) / meas
        rows.append(
            (
                p["kind"],
                p["cfg"],
                str(p["batch"]),
                str(p["context"]),
                p["split"],
                ms(meas),
                ms(p["layers_s"]),
                ms(p.get("head_s")),
                ms(p.get("sample_s")),
                f"{p['achieved_gbps']:.1f}",
                pct(p["copy_fraction"]),
                f"{p['achieved_tflops']:.3f}",
                ms(pred),
                "-" if err is None else f"{err * 100:+.0f}%",
                ms(p.get("full_step_s")),
                ms(p.get("predicted_full_s")),
            )
        )
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(head))]
    for row in rows:
        lines.append(
            "  ".join(cell.rjust(widths[i]) if i > 1 else cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()
        )
    lines.append("")
    lines.append(
        "step = layer stack + head + CFG sampling (median); GB/s and TFLOP/s over layers + head; "
        "full = extrapolated to every layer."
    )
    if r.get("transformers"):
        lines += ["", "transformers LlamaForCausalLM.generate (unbatched CFG) vs the custom decoder:"]
        for t in r["transformers"]:
            if t.get("skipped"):
                lines.append(f"  batch {t['batch']}: {t['skipped']}")
                continue
            ratio = f"{t['ratio']:.2f}x" if t.get("ratio") else "-"
            lines.append(
                f"  batch {t['batch']}, context {t['context']}: {ms(t['transformers_s_per_token'])} ms/token"
                f" vs {ms(t['custom_step_s'])} ms/step custom ({ratio})"
            )
    for n in r.get("notes") or []:
        lines.append(f"note: {n}")
    if r.get("calibration"):
        lines.append(f"calibration: {r['calibration']}")
    return "\n".join(lines) + "\n"
