"""GPU truth in one prepared run: correctness on CUDA, MViTv2-S pair speed and MFU (bf16,
eager and torch.compile), attention kernels (SDPA with the rel-pos bias vs FlexAttention),
the authors' implementation on the same GPU, torchrun + NCCL through the real trainer, and
embed in fp16 vs fp32.

    bash benchmarks/gpu_prepare.sh LSSD_GIT_DIR     # here: stage .gpu/ (PyAV wheel, corpus, authors' code)
    bash benchmarks/gpu_check.sh OUT                # there: everything below, <= 8 minutes
    python benchmarks/gpu_check.py --smoke --out OUT  # any CPU: every section on tiny towers

Each section runs in its own subprocess under a deadline, so one failure or hang costs only
that section. Everything lands in OUT/gpu_check.json; the table is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]

# name -> (seconds it may take at most, what it does). Run in this order; sections are
# skipped once the total budget cannot cover them.
SECTIONS = {
    "env": (45, "device, versions, measured bf16 matmul rate"),
    "correctness": (90, "towers (ours and the authors'), loss and gradient on CUDA vs CPU; bf16 steps"),
    "pooling": (60, "depthwise pooling conv and stem BatchNorm variants on the stage-1 shapes"),
    "step_eager": (150, "MViTv2-S pair training step, 64 quadruplets, bf16, eager: v0.1 vs now vs the authors' towers"),
    "attention": (120, "SDPA kernel under the rel-pos bias; SDPA backends vs explicit vs Flex"),
    "step_compile": (240, "the same training step under torch.compile"),
    "torchrun": (150, "torchrun + NCCL through the real trainer (1 and 2 processes), resume"),
    "embed": (90, "dubclr embed fp16 vs fp32: windows/s and embedding differences"),
}


# --------------------------------------------------------------------------- settings

class Settings:
    """What the sections run on: the real sizes on a GPU, tiny towers for --smoke."""

    def __init__(self, smoke: bool, out: Path, corpus: Path | None, lssd: Path | None):
        self.smoke = smoke
        self.out = out
        self.corpus = corpus
        self.lssd = lssd
        self.lssd_ready = lssd is not None and (lssd / "src/models/mvit/mvit.py").exists() and not smoke
        self.device = torch.device("cpu" if smoke else "cuda")
        self.video = "mvit-tiny-video" if smoke else "mvit-S-video"
        self.audio = "mvit-tiny-audio" if smoke else "mvit-S-audio"
        self.model_preset = "tiny" if smoke else "S"
        self.batch = 2 if smoke else 64  # quadruplets per step
        self.steps = 2 if smoke else 6
        self.warmup = 1 if smoke else 2

    def model_config(self):
        from dubclr.models.config import AudioTowerConfig, HeadConfig, ModelConfig, VideoTowerConfig
        from dubclr.models.presets import get_preset

        v, a = get_preset(self.video).tower, get_preset(self.audio).tower
        return ModelConfig(video=VideoTowerConfig(**{**v.__dict__}),
                           audio=AudioTowerConfig(**{**a.__dict__}),
                           head=HeadConfig(hidden_dim=128 if self.smoke else 2048,
                                           out_dim=64 if self.smoke else 512))


def autocast(settings: Settings):
    if settings.device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", dtype=torch.bfloat16)


def sync(settings: Settings) -> None:
    if settings.device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, settings: Settings, steps: int | None = None, warmup: int | None = None) -> dict:
    """Median seconds per call after warm-up, and the peak memory of the timed calls."""
    steps = steps or settings.steps
    for _ in range(settings.warmup if warmup is None else warmup):
        fn()
    sync(settings)
    if settings.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        sync(settings)
        times.append(time.perf_counter() - t0)
    out = {"s": sorted(times)[len(times) // 2], "s_all": [round(t, 5) for t in times]}
    if settings.device.type == "cuda":
        out["peak_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return out


def pair_flops_per_quadruplet(settings: Settings) -> float:
    """Training FLOPs of one quadruplet: 2 video + 2 audio clips, forward x 3 (fwd + bwd),
    forward FLOPs per clip as `dubclr models` counts them."""
    from dubclr.models.presets import clip_gflops, get_preset

    total = 0.0
    for name in (settings.video, settings.audio):
        preset = get_preset(name)
        with torch.device("meta"):
            tower = preset.build()
        total += clip_gflops(tower, preset.input_shape)
    return 2 * 3 * total * 1e9


def peak_flops(settings: Settings) -> float | None:
    """The card's dense bf16 peak, as the trainer's MFU uses it."""
    from dubclr.train.metrics import peak_flops as device_peak

    return device_peak(settings.device)


def top_kernels(prof, n: int = 15) -> list[dict]:
    rows = []
    for e in prof.key_averages():
        t = getattr(e, "self_device_time_total", None)
        if t is None:
            t = getattr(e, "self_cuda_time_total", 0)
        if t and t > 0:
            rows.append({"name": e.key[:110], "self_ms": round(t / 1e3, 3), "calls": e.count})
    rows.sort(key=lambda r: -r["self_ms"])
    return rows[:n]


# --------------------------------------------------------------------------- sections

def section_env(s: Settings) -> dict:
    out = {"torch": torch.__version__, "cuda": torch.version.cuda, "python": sys.version.split()[0]}
    if s.device.type != "cuda":
        return out
    props = torch.cuda.get_device_properties(0)
    out.update(device=props.name, capability=f"{props.major}.{props.minor}",
               sms=props.multi_processor_count, memory_gb=round(props.total_memory / 2**30, 1),
               cudnn=torch.backends.cudnn.version())
    try:
        import triton
        out["triton"] = triton.__version__
    except ImportError:
        out["triton"] = None
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    r = timed(lambda: a @ b, s, steps=10, warmup=3)
    out["bf16_matmul_tflops"] = round(2 * n**3 / r["s"] / 1e12, 1)
    out["datasheet_bf16_tflops"] = (peak_flops(s) or 0) / 1e12 or None
    return out


def _towers(s: Settings, seed: int = 0):
    from dubclr.models.presets import get_preset

    towers = {}
    for modality, name in (("video", s.video), ("audio", s.audio)):
        torch.manual_seed(seed)
        preset = get_preset(name)
        towers[modality] = (preset.build(), preset.input_shape)
    return towers


def section_correctness(s: Settings) -> dict:
    from dubclr.models.av import build_model
    from dubclr.train.loss import DubContrastiveLoss

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(os.cpu_count() or 1)
    out: dict = {"towers": {}}
    authors = _authors_towers(s) if s.lssd_ready else {}
    for modality, (tower, shape) in _towers(s).items():
        gen = torch.Generator().manual_seed(1)
        x = torch.randn(2, *shape, generator=gen) * (20 if modality == "audio" else 1) + (
            -40 if modality == "audio" else 0.5)
        tower.eval()
        with torch.inference_mode():
            ref = tower(x)
            got = tower.to(s.device)(x.to(s.device)).cpu()
        out["towers"][f"{modality}: device vs CPU"] = _close(got, ref)
        if modality in authors:  # their code with our weights, on the device
            theirs = authors[modality].eval()
            theirs.load_state_dict(tower.state_dict(), strict=True)
            with torch.inference_mode():
                got = theirs.to(s.device)(x.to(s.device)).cpu()
            out["towers"][f"{modality}: authors' code, same weights"] = _close(got, ref)
    # the loss and its gradient, CPU float64 vs device float32
    gen = torch.Generator().manual_seed(2)
    emb = {k: torch.nn.functional.normalize(torch.randn(64, 512, generator=gen, dtype=torch.float64), dim=1)
           for k in ("video_p", "video_s", "audio_p", "audio_s")}
    loss = DubContrastiveLoss()
    values = {}
    for where, dtype in (("cpu64", torch.float64), ("dev32", torch.float32)):
        leaves = {k: v.detach().to(s.device, dtype).clone().requires_grad_() for k, v in emb.items()}
        res = loss(leaves)
        res.objective.backward()
        values[where] = (res.objective.item(), {k: v.grad.double().cpu() for k, v in leaves.items()})
    grad_diff = max((values["dev32"][1][k] - values["cpu64"][1][k]).abs().max().item() for k in emb)
    out["loss"] = {"cpu_float64": values["cpu64"][0], "device_float32": values["dev32"][0],
                   "abs_diff": abs(values["cpu64"][0] - values["dev32"][0]),
                   "grad_max_abs_diff": grad_diff,
                   "ok": abs(values["cpu64"][0] - values["dev32"][0]) < 1e-4 and grad_diff < 1e-5}
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    # bf16 training steps stay finite
    torch.manual_seed(3)
    model = build_model(s.model_config()).to(s.device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = _batch(s, 2 if s.smoke else 8, seed=4)
    steps = [_train_step(model, loss, opt, batch, s) for _ in range(3)]
    out["bf16_steps"] = {"losses": [v for v, _ in steps], "grad_norms": [n for _, n in steps],
                         "finite": all(math.isfinite(v) and math.isfinite(n) for v, n in steps)}
    return out


def _close(got: torch.Tensor, ref: torch.Tensor) -> dict:
    diff = (got.float() - ref.float()).abs().max().item()
    return {"max_abs_diff": diff, "rel": diff / ref.abs().max().item(),
            "ok": bool(torch.allclose(got.float(), ref.float(), atol=1e-3, rtol=1e-3))}


def _batch(s: Settings, batch: int, seed: int = 0) -> dict:
    from dubclr.models.presets import get_preset

    g = torch.Generator(device=s.device).manual_seed(seed)
    v_shape, a_shape = get_preset(s.video).input_shape, get_preset(s.audio).input_shape
    out = {}
    for key in ("video_p", "video_s"):
        out[key] = torch.rand(batch, *v_shape, generator=g, device=s.device)
    for key in ("audio_p", "audio_s"):
        out[key] = torch.randn(batch, *a_shape, generator=g, device=s.device) * 20 - 40
    return out


def _train_step(model, loss, opt, batch: dict, s: Settings) -> tuple[float, float]:
    """One step as the trainer takes it: one forward for both views, the paper's loss,
    backward, clip at 1.0, AdamW."""
    with autocast(s):
        out = model(video=torch.cat([batch["video_p"], batch["video_s"]]),
                    audio=torch.cat([batch["audio_p"], batch["audio_s"]]))
    emb = {}
    for name, keys in (("video", ("video_p", "video_s")), ("audio", ("audio_p", "audio_s"))):
        emb.update(zip(keys, out[name].float().chunk(2)))
    res = loss(emb)
    res.objective.backward()
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return res.objective.item(), float(norm)


def _step_speed(s: Settings, attention: str, compile_model: bool, profile: bool,
                authors: bool = False) -> dict:
    from dubclr.models.av import build_model
    from dubclr.train.loss import DubContrastiveLoss

    torch.manual_seed(0)
    raw = build_model(s.model_config())
    if authors:  # the same step with the authors' towers in place of ours
        theirs = _authors_towers(s)
        raw.video, raw.audio = theirs["video"], theirs["audio"]
    else:
        raw.video.set_attention(attention)
        raw.audio.set_attention(attention)
    raw = raw.to(s.device).train()
    model = torch.compile(raw) if compile_model else raw
    loss = DubContrastiveLoss()
    opt = torch.optim.AdamW(raw.parameters(), lr=1e-4, fused=s.device.type == "cuda")
    batch = _batch(s, s.batch)
    row: dict = {"towers": "authors" if authors else "ours", "attention": attention,
                 "compile": compile_model, "batch": s.batch}
    t0 = time.perf_counter()
    row["first_loss"] = _train_step(model, loss, opt, batch, s)[0]
    sync(s)
    row["first_step_s"] = round(time.perf_counter() - t0, 2)  # includes compilation
    r = timed(lambda: _train_step(model, loss, opt, batch, s), s)
    row.update(step_s=round(r["s"], 4), steps_s=r["s_all"], peak_mem_gb=r.get("peak_mem_gb"),
               quadruplets_per_s=round(s.batch / r["s"], 1))
    flops = pair_flops_per_quadruplet(s)
    row["tflops_per_s"] = round(flops * s.batch / r["s"] / 1e12, 1)
    peak = peak_flops(s)
    if peak:
        row["mfu"] = round(flops * s.batch / r["s"] / peak, 4)
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if s.device.type == "cuda" else [])
        with torch_profile(activities=acts) as prof:
            for _ in range(2):
                _train_step(model, loss, opt, batch, s)
            sync(s)
        row["top_kernels"] = top_kernels(prof)
    return row


def depthwise_conv3d_shifted(vol: torch.Tensor, pool: torch.nn.Module) -> torch.Tensor:
    """The same depthwise conv written as a sum of shifted, strided slices (one per kernel
    tap): no cuDNN, and element-wise work that ``torch.compile`` fuses into one kernel.
    Other pooling modules (max/avg pooling of some presets) run as they are."""
    if not isinstance(pool, torch.nn.Conv3d):
        return pool(vol)
    weight = pool.weight  # (C, 1, kt, kh, kw)
    kernel, stride, padding = weight.shape[2:], pool.stride, pool.padding
    x = torch.nn.functional.pad(vol, (padding[2], padding[2], padding[1], padding[1], padding[0], padding[0]))
    sizes = [(x.shape[2 + i] - kernel[i]) // stride[i] + 1 for i in range(3)]
    out = None
    for a in range(kernel[0]):
        for b in range(kernel[1]):
            for c in range(kernel[2]):
                tap = x[:, :, a:a + stride[0] * (sizes[0] - 1) + 1:stride[0],
                        b:b + stride[1] * (sizes[1] - 1) + 1:stride[1],
                        c:c + stride[2] * (sizes[2] - 1) + 1:stride[2]]
                w = weight[:, 0, a, b, c].view(1, -1, 1, 1, 1).to(tap.dtype)
                out = tap * w if out is None else out + tap * w
    return out



class Variant:
    """Swap the pooling conv, the stem BatchNorm and cuDNN autotuning for one measurement."""

    def __init__(self, pool: str = "library", bn: str = "library", benchmark: bool | None = None):
        self.pool, self.bn, self.benchmark = pool, bn, benchmark

    def __enter__(self):
        from dubclr.models.mvit import attention, model

        self.saved = (attention.depthwise_pool, model.few_channel_batch_norm,
                      torch.backends.cudnn.benchmark)
        pools = {"conv-view": lambda vol, conv: conv(vol),  # v0.1
                 "conv-contiguous": lambda vol, conv: conv(vol.contiguous()),  # now, on CUDA
                 "shifted": depthwise_conv3d_shifted}
        if self.pool != "library":
            attention.depthwise_pool = pools[self.pool]
        if self.bn == "native":
            model.few_channel_batch_norm = lambda x, bn: bn(x)
        if self.benchmark is not None:
            torch.backends.cudnn.benchmark = self.benchmark
        return self

    def __exit__(self, *exc):
        from dubclr.models.mvit import attention, model

        attention.depthwise_pool, model.few_channel_batch_norm, torch.backends.cudnn.benchmark = self.saved


V01 = dict(pool="conv-view", bn="native", benchmark=False)  # what v0.1 ran


def section_pooling(s: Settings) -> dict:
    """The stage-1 pooling convs of the video tower (q: stride 1, k/v: stride 1x8x8) and the
    audio tower, fwd+bwd in bf16 at the clips of one step, per implementation; and the stem
    BatchNorm on a step's video input, native vs ``few_channel_batch_norm``."""
    from dubclr.models.mvit import attention, model
    from dubclr.models.mvit.attention import _pool_conv

    clips = 4 if s.smoke else 2 * s.batch
    small = s.smoke
    cases = [("video q-pool 8x28x28 s1", (96, 8, 28, 28), (3, 3, 3), (1, 1, 1)),
             ("video kv-pool 8x28x28 s1x8x8", (96, 8, 28, 28), (3, 3, 3), (1, 8, 8)),
             ("audio kv-pool 1x24x36 s1x4x4", (96, 1, 24, 36), (1, 3, 3), (1, 4, 4))]
    out: dict = {"clips": clips, "conv": [], "bn": []}
    for label, shape, kernel, stride in cases:
        if small:
            shape = (shape[0], shape[1], shape[2] // 4, shape[3] // 4)
        conv = _pool_conv(shape[0], kernel, stride).to(s.device)
        # the layout the model hands over: tokens (N, T, H, W, C) viewed as (N, C, T, H, W)
        tokens = torch.randn(clips, *shape[1:], shape[0], device=s.device, requires_grad=True)
        for name, benchmark in (("conv-view", False), ("conv-view", True),
                                ("conv-contiguous", False), ("conv-contiguous", True),
                                ("shifted", False)):
            def fwd_bwd(name=name, tokens=tokens, conv=conv):
                with autocast(s), Variant(pool=name):
                    y = attention.depthwise_pool(tokens.permute(0, 4, 1, 2, 3), conv)
                y.float().square().mean().backward()
                tokens.grad = None
                conv.zero_grad(set_to_none=True)
            with Variant(benchmark=benchmark):
                row = _time_path(f"{label}: {name}{' +cudnn.benchmark' if benchmark else ''}",
                                 fwd_bwd, None, clips, s)
            out["conv"].append(row)
    shape = (clips, 3, 4, 32, 32) if small else (clips, 3, 16, 224, 224)
    x = torch.rand(*shape, device=s.device, requires_grad=True)
    for name in ("native", "few_channel"):
        bn = torch.nn.BatchNorm3d(3, affine=False).to(s.device).train()

        def norm(bn=bn, name=name):
            y = bn(x) if name == "native" else model.few_channel_batch_norm(x, bn)
            y.square().mean().backward()
            x.grad = None
        out["bn"].append(_time_path(f"stem BatchNorm3d {tuple(shape)}: {name}", norm, None, clips, s))
    return out


def section_step_eager(s: Settings) -> dict:
    out = {"flops_per_quadruplet_g": round(pair_flops_per_quadruplet(s) / 1e9, 1), "rows": []}
    cases = [("v0.1", V01, False), ("now", {}, False),
             ("now + cudnn.benchmark", {"benchmark": True}, False),
             ("now, shifted-sum pooling", {"pool": "shifted"}, False)]
    if s.lssd_ready:
        cases.append(("authors' towers", {}, True))
    for label, variant, authors in cases:
        try:
            with Variant(**variant):
                row = _step_speed(s, "sdpa", compile_model=False, profile=label == "now",
                                  authors=authors)
            row["variant"] = label
            out["rows"].append(row)
        except Exception as exc:  # one failing must not hide the others
            out["rows"].append({"variant": label, "towers": "authors" if authors else "ours",
                                "error": _short(exc)})
        if s.device.type == "cuda":
            torch.cuda.empty_cache()
    return out


def section_step_compile(s: Settings) -> dict:
    """The library's step under torch.compile (run 2 compiled the shifted-sum pooling
    instead: more than 210 s of compilation; the conv stays a cuDNN call in the graph)."""
    row = _step_speed(s, "sdpa", compile_model=True, profile=not s.smoke)
    row["variant"] = "now, compiled"
    return {"rows": [row]}


def section_attention(s: Settings) -> dict:
    """Which kernel SDPA picks under the rel-pos bias; the video tower's fwd+bwd per SDPA
    backend and the explicit path; then, layer by layer on the stage-1 blocks (the most
    tokens: where a materialised bias costs most), SDPA vs explicit vs FlexAttention."""
    from torch.nn.attention import SDPBackend
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    tower, shape = _towers(s)["video"]
    tower.to(s.device).train()
    clips = 4 if s.smoke else 32
    x = torch.rand(clips, *shape, device=s.device)

    def fwd_bwd():
        with autocast(s):
            y = tower(x)
        y.float().square().mean().backward()
        tower.zero_grad(set_to_none=True)

    out: dict = {"video_clips": clips, "kernels": {}, "tower": [], "layers": []}
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if s.device.type == "cuda" else [])
    fwd_bwd()
    with torch_profile(activities=acts) as prof:
        fwd_bwd()
        sync(s)
    words = ("fmha", "flash", "attention", "cudnn", "efficient", "sdpa", "softmax", "mha")
    out["kernels"]["sdpa"] = [k for k in top_kernels(prof, 300)
                              if any(w in k["name"].lower() for w in words)][:8]
    backends = [("sdpa: default choice", "sdpa", None),
                ("sdpa: memory-efficient", "sdpa", SDPBackend.EFFICIENT_ATTENTION),
                ("sdpa: cuDNN", "sdpa", SDPBackend.CUDNN_ATTENTION),
                ("sdpa: math", "sdpa", SDPBackend.MATH),
                ("explicit softmax (authors' form)", "explicit", None)]
    for label, impl, backend in backends:
        tower.set_attention(impl)
        out["tower"].append(_time_path(label, fwd_bwd, backend, clips, s))
    tower.set_attention("sdpa")

    # stage-1 layers with their real inputs, captured by hooks during one forward
    captured = {}
    hooks = [tower.blocks[i].attn.register_forward_pre_hook(
        lambda mod, args, i=i: captured.setdefault(i, (args[0].detach(), args[1])))
        for i in (0, 1)]
    with torch.no_grad(), autocast(s):
        tower(x)
    for h in hooks:
        h.remove()
    if hasattr(torch._dynamo.config, "recompile_limit"):
        torch._dynamo.config.recompile_limit = 64
    torch._dynamo.config.cache_size_limit = 64
    for i, (inp, grid) in captured.items():
        attn = tower.blocks[i].attn
        inp = inp.clone().requires_grad_()
        for impl in ("sdpa", "explicit", "flex"):
            if impl == "flex" and s.device.type == "cpu":
                continue  # no FlexAttention backward on CPU

            def layer(attn=attn, inp=inp, grid=grid, impl=impl):
                attn.attention = impl
                with autocast(s):
                    y, _ = attn(inp, grid)
                y.float().square().mean().backward()
                inp.grad = None
                attn.zero_grad(set_to_none=True)
            row = _time_path(f"block {i} ({impl})", layer, None, clips, s)
            row.update(block=i, tokens=int(inp.shape[1]), grid=list(grid))
            out["layers"].append(row)
        attn.attention = "sdpa"
    return out


def _time_path(label: str, fn, backend, clips: int, s: Settings) -> dict:
    from torch.nn.attention import sdpa_kernel

    row = {"path": label}
    try:
        if backend is None:
            r = timed(fn, s)
        else:
            with sdpa_kernel([backend]):
                r = timed(fn, s)
        row.update(ms=round(r["s"] * 1e3, 2), peak_mem_gb=r.get("peak_mem_gb"),
                   clips_per_s=round(clips / r["s"], 1))
    except Exception as exc:
        row["error"] = _short(exc)
    if s.device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def _install_fvcore_shim() -> None:
    """The authors' code imports fvcore for a registry and a CfgNode; give it minimal ones."""
    import copy
    import types

    class Registry(dict):
        def __init__(self, name):
            super().__init__()
            self.name = name

        def register(self, obj=None):
            def add(o):
                self[o.__name__] = o
                return o
            return add(obj) if obj is not None else add

        def get(self, name):
            return self[name]

    class CfgNode(dict):
        def __getattr__(self, key):
            try:
                return self[key]
            except KeyError as exc:
                raise AttributeError(key) from exc

        def __setattr__(self, key, value):
            self[key] = value

        def clone(self):
            return copy.deepcopy(self)

    fv = types.ModuleType("fvcore")
    common = types.ModuleType("fvcore.common")
    reg = types.ModuleType("fvcore.common.registry")
    cfg = types.ModuleType("fvcore.common.config")
    reg.Registry, cfg.CfgNode = Registry, CfgNode
    fv.common, common.registry, common.config = common, reg, cfg
    sys.modules.update({"fvcore": fv, "fvcore.common": common, "fvcore.common.registry": reg,
                        "fvcore.common.config": cfg})


def _authors_towers(s: Settings) -> dict:
    """The authors' MViT-S video and audio towers, built by their own code and config."""
    import importlib.util

    lssd = s.lssd
    _install_fvcore_shim()
    if str(lssd / "src") not in sys.path:
        sys.path.insert(0, str(lssd / "src"))
    from models.mvit.mvit import MViT  # the authors' module, carried in .gpu/lssd

    spec = importlib.util.spec_from_file_location("lssd_config", lssd / "src/utils/config.py")
    config = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(config)
    cfg = config._C.clone()
    return {"video": MViT(cfg, "video"), "audio": MViT(cfg, "audio")}


def _run(cmd: list[str], env: dict, timeout: float) -> dict:
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        rc, text = p.returncode, (p.stdout + p.stderr)
    except subprocess.TimeoutExpired as exc:
        rc, text = "timeout", str(exc.stdout or "") + str(exc.stderr or "")
    errors = [line for line in text.splitlines() if "error" in line.lower()][:12]
    return {"cmd": " ".join(cmd[2:]) if cmd[:2] == [sys.executable, "-m"] else " ".join(cmd),
            "rc": rc, "s": round(time.perf_counter() - t0, 1), "errors": errors,
            "tail": text[-1500:]}


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _metrics(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def section_torchrun(s: Settings) -> dict:
    if s.corpus is None or not any(s.corpus.glob("*.mkv")):
        return {"skipped": "no corpus staged (benchmarks/gpu_prepare.sh)"}
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "dubclr_gpu_check"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    env = _env()
    catalog = work / "catalog.sqlite"
    out: dict = {"index": _run([sys.executable, "-m", "dubclr", "index", str(s.corpus), "--catalog",
                                str(catalog), "--jobs", "4"], env, 90)}
    device = "cpu" if s.smoke else "cuda"
    out["runs"] = []
    for nproc in (1, 2):
        run_dir = work / f"ddp{nproc}"
        common = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                  f"--nproc-per-node={nproc}", "-m", "dubclr", "train", "configs/toy/EN.yaml",
                  f"data.catalog={catalog}", f"run_dir={run_dir}", f"device={device}",
                  "data.num_workers=2", "data.sampler.batch_size=4", "data.sampler.same_title=2",
                  "schedule.epochs=40", "checkpoint.every_steps=2", "log.every_steps=1"]
        first = _run(common + ["schedule.max_steps=4"], env, 60)
        resumed = _run(common + ["schedule.max_steps=6", "--resume", "auto"], env, 60)
        metrics = _metrics(run_dir)
        out["runs"].append({"nproc": nproc, "first": first, "resume": resumed,
                            "steps_logged": [m.get("step") for m in metrics],
                            "last": metrics[-1] if metrics else None})
    return out


def section_embed(s: Settings) -> dict:
    if s.corpus is None or not any(s.corpus.glob("*.mkv")):
        return {"skipped": "no corpus staged (benchmarks/gpu_prepare.sh)"}
    import numpy as np
    import pyarrow.parquet as pq

    from dubclr.evaluate.encoder import Encoder
    from dubclr.models.av import build_model
    from dubclr.models.checkpoint import save_model

    work = Path(os.environ.get("TMPDIR", "/tmp")) / "dubclr_gpu_embed"
    shutil.rmtree(work, ignore_errors=True)
    torch.manual_seed(0)
    model = build_model(s.model_config())
    save_model(model, work / "model")
    device = "cpu" if s.smoke else "cuda"
    out: dict = {"cli": {}}
    tables = {}
    for precision in ("fp32", "fp16"):
        dest = work / f"emb_{precision}"
        r = _run([sys.executable, "-m", "dubclr", "embed", "--checkpoint", str(work / "model"),
                  "--input", str(s.corpus), "--out", str(dest), "--device", device,
                  "--precision", precision, "--batch-size", "32"], _env(), 120)
        out["cli"][precision] = r
        table = dest / "embeddings.parquet"
        if table.exists():
            rows = pq.read_table(table).to_pylist()
            key = ("file", "start", "modality", "crop")
            tables[precision] = {tuple(r.get(k) for k in key): r for r in rows}
    if len(tables) == 2:
        diffs = {}
        for modality in ("video", "audio"):
            keys = sorted(k for k in tables["fp32"] if k[2] == modality and k in tables["fp16"])
            ea = np.array([tables["fp32"][k]["embedding"] for k in keys], dtype=np.float64)
            eb = np.array([tables["fp16"][k]["embedding"] for k in keys], dtype=np.float64)
            if not keys:
                continue
            cos = (ea * eb).sum(1) / np.linalg.norm(ea, axis=1) / np.linalg.norm(eb, axis=1)
            diffs[modality] = {"windows": len(keys), "max_abs_diff": float(np.abs(ea - eb).max()),
                               "min_cosine": float(cos.min())}
        out["fp16_vs_fp32"] = diffs
    # the model alone (decode excluded): windows/s through Encoder at batch 64
    model.eval()
    clips = torch.randint(0, 256, (16 if s.smoke else 64, get_frames(model), 256, 455, 3),
                          dtype=torch.uint8)
    out["encoder_video_windows_per_s"] = {}
    for half in (False, True):
        enc = Encoder(model, device=device, half=half)
        r = timed(lambda enc=enc: enc.video(clips), s, steps=3)
        out["encoder_video_windows_per_s"]["fp16" if half else "fp32"] = round(len(clips) / r["s"], 1)
    return out


def get_frames(model) -> int:
    return int(model.config.video.frames)


SECTION_FUNCS = {name: globals()[f"section_{name}"] for name in SECTIONS}


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:600]}"


# --------------------------------------------------------------------------- driver

def run_section(name: str, s: Settings) -> None:
    """Child process: run one section, write OUT/section_<name>.json."""
    t0 = time.perf_counter()
    try:
        result = {"ok": True, **SECTION_FUNCS[name](s)}
    except Exception as exc:
        result = {"ok": False, "error": _short(exc), "traceback": traceback.format_exc()[-3000:]}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    (s.out / f"section_{name}.json").write_text(json.dumps(result, indent=1, default=str))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(f"  {k:<13} {v[1]}" for k, v in SECTIONS.items()))
    parser.add_argument("--out", required=True, type=Path, help="folder for gpu_check.json")
    parser.add_argument("--smoke", action="store_true", help="tiny towers on CPU (checks the script)")
    parser.add_argument("--budget", type=float, default=480, help="seconds for all sections")
    parser.add_argument("--only", help="comma-separated sections to run")
    parser.add_argument("--corpus", type=Path, default=ROOT / ".gpu/corpus")
    parser.add_argument("--lssd", type=Path, default=ROOT / ".gpu/lssd")
    parser.add_argument("--section", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    s = Settings(args.smoke, args.out, args.corpus, args.lssd)
    if args.section:
        run_section(args.section, s)
        return 0
    if not args.smoke and not torch.cuda.is_available():
        print("gpu_check: no CUDA device; run with --smoke to check the script on CPU", file=sys.stderr)
        return 2
    names = [n for n in SECTIONS if not args.only or n in args.only.split(",")]
    start = time.perf_counter()
    results = {}
    for name in names:
        left = args.budget - (time.perf_counter() - start)
        limit = min(SECTIONS[name][0], left)
        if limit < 20:
            results[name] = {"ok": False, "error": f"skipped: {left:.0f} s of the budget left"}
            continue
        print(f"[gpu_check {time.perf_counter() - start:5.0f}s] {name}: {SECTIONS[name][1]}",
              flush=True)
        cmd = [sys.executable, __file__, "--section", name, "--out", str(args.out),
               "--corpus", str(args.corpus), "--lssd", str(args.lssd)] + (["--smoke"] if args.smoke else [])
        try:
            p = subprocess.run(cmd, timeout=limit, capture_output=True, text=True, env=_env())
            tail = (p.stdout + p.stderr)[-2000:]
        except subprocess.TimeoutExpired:
            tail = f"timed out after {limit:.0f} s"
        path = args.out / f"section_{name}.json"
        results[name] = json.loads(path.read_text()) if path.exists() else {"ok": False, "error": tail}
        if not results[name].get("ok"):
            results[name].setdefault("child_output", tail)
        path.unlink(missing_ok=True)
    results["total_seconds"] = round(time.perf_counter() - start, 1)
    (args.out / "gpu_check.json").write_text(json.dumps(results, indent=1, default=str))
    print_table(results)
    print(f"\nwritten: {args.out / 'gpu_check.json'}")
    return 0 if all(r.get("ok") for k, r in results.items() if isinstance(r, dict)) else 1


def print_table(results: dict) -> None:
    from gpu_check_table import summary_rows  # noqa: PLC0415 (beside this file)

    rows = summary_rows(results)
    width = max(len(r[0]) for r in rows)
    print("\n" + "=" * 100)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
