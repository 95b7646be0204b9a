"""The one summary table of ``gpu_check.py`` (label, value) rows from its JSON."""

from __future__ import annotations


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        value = f"{value:.3g}" if abs(value) < 1e-2 else f"{value:,.2f}"
    return f"{value}{unit}"


def summary_rows(r: dict) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    env = r.get("env", {})
    rows.append(("device", f"{env.get('device', 'cpu')} (cc {env.get('capability', '-')}), torch "
                 f"{env.get('torch')}, CUDA {env.get('cuda')}, triton {env.get('triton', '-')}"))
    rows.append(("bf16 matmul 8192^3", f"{_fmt(env.get('bf16_matmul_tflops'))} TFLOP/s measured, "
                 f"{_fmt(env.get('datasheet_bf16_tflops'))} datasheet"))
    c = r.get("correctness", {})
    for name, t in c.get("towers", {}).items():
        rows.append((f"CUDA vs CPU fp32: {name}", f"max |diff| {_fmt(t['max_abs_diff'])} "
                     f"(rel {_fmt(t['rel'])}) {'ok' if t['ok'] else 'MISMATCH'}"))
    if "loss" in c:
        lo = c["loss"]
        rows.append(("loss CUDA fp32 vs CPU fp64", f"|diff| {_fmt(lo['abs_diff'])}, grad max |diff| "
                     f"{_fmt(lo['grad_max_abs_diff'])} {'ok' if lo['ok'] else 'MISMATCH'}"))
    st = c.get("bf16_steps")
    if st:
        rows.append(("bf16 steps", ("finite " if st["finite"] else "NOT FINITE ")
                     + str([round(v, 4) for v in st["losses"]])))
    for sec in ("step_eager", "step_compile"):
        for row in r.get(sec, {}).get("rows", []):
            label = f"pair step: {row.get('variant', row.get('towers', 'ours'))}"
            if "error" in row:
                rows.append((label, row["error"][:90]))
                continue
            rows.append((label, f"{row['quadruplets_per_s']} quadruplets/s, {row['tflops_per_s']} TFLOP/s, "
                         f"MFU {_fmt(row.get('mfu'))}, {row['step_s']} s/step, peak "
                         f"{_fmt(row.get('peak_mem_gb'))} GB, first step {row['first_step_s']} s"))
    pool = r.get("pooling", {})
    for p in pool.get("conv", []) + pool.get("bn", []):
        rows.append((p["path"], p.get("error", "")[:90] if "error" in p else
                     f"{p['ms']} ms, peak {_fmt(p.get('peak_mem_gb'))} GB"))
    att = r.get("attention", {})
    for k in att.get("kernels", {}).get("sdpa", [])[:3]:
        rows.append(("SDPA kernel with rel-pos bias", f"{k['name'][:70]} ({k['self_ms']} ms)"))
    for p in att.get("tower", []) + att.get("layers", []):
        where = "video tower" if "block" not in p else "layer"
        rows.append((f"{where} fwd+bwd: {p['path']}", p.get("error", "")[:90] if "error" in p else
                     f"{p['ms']} ms, peak {_fmt(p.get('peak_mem_gb'))} GB"))
    steps = {row.get("variant"): row for sec in ("step_eager", "step_compile")
             for row in r.get(sec, {}).get("rows", []) if "quadruplets_per_s" in row}
    base = steps.get("authors' towers")
    if base:
        for key, row in steps.items():
            if key != "authors' towers":
                rows.append((f"{key} vs the authors' towers",
                             f"x{row['quadruplets_per_s'] / base['quadruplets_per_s']:.2f}"))
    for run in r.get("torchrun", {}).get("runs", []):
        last = run.get("last") or {}
        rows.append((f"torchrun nproc={run['nproc']}", f"rc {run['first']['rc']} then resume rc "
                     f"{run['resume']['rc']}; steps {run['steps_logged']}; last loss {_fmt(last.get('loss'))}"))
    e = r.get("embed", {})
    for prec, res in e.get("cli", {}).items():
        rows.append((f"dubclr embed {prec}", f"rc {res['rc']} in {res['s']} s"))
    for mod, d in e.get("fp16_vs_fp32", {}).items():
        rows.append((f"embed fp16 vs fp32 ({mod})", f"{d['windows']} windows, max |diff| "
                     f"{_fmt(d['max_abs_diff'])}, min cosine {d['min_cosine']:.6f}"))
    if e.get("encoder_video_windows_per_s"):
        rows.append(("encoder video windows/s", str(e["encoder_video_windows_per_s"])))
    for name, res in r.items():
        if isinstance(res, dict) and not res.get("ok", True):
            rows.append((f"FAILED {name}", str(res.get("error", ""))[:140]))
    rows.append(("total", f"{r.get('total_seconds')} s"))
    return rows
