"""The CPU-runnable parts of the GPU paths: whole-graph torch.compile, bf16 autocast, the
few-channel stem BatchNorm, key padding for compiled SDPA, and the GPU check's table."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dubclr.models.av import build_model
from dubclr.models.config import AudioTowerConfig, HeadConfig, ModelConfig, VideoTowerConfig
from dubclr.models.mvit.attention import pad_keys_for_compile
from dubclr.models.mvit.model import few_channel_batch_norm
from dubclr.train.loss import DubContrastiveLoss

ROOT = Path(__file__).resolve().parents[2]


def tiny_pair() -> nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(
        video=VideoTowerConfig(arch="mvit", preset="tiny", frames=8, crop=64),
        audio=AudioTowerConfig(arch="mvit", preset="tiny"),
        head=HeadConfig(hidden_dim=32, out_dim=16)))


def pair_batch(n: int = 2) -> dict:
    g = torch.Generator().manual_seed(1)
    return {"video": torch.rand(2 * n, 3, 8, 64, 64, generator=g),
            "audio": torch.randn(2 * n, 1, 96, 288, generator=g) * 20 - 40}


def step_loss(model: nn.Module, batch: dict) -> torch.Tensor:
    out = model(video=batch["video"], audio=batch["audio"])
    v_p, v_s = out["video"].float().chunk(2)
    a_p, a_s = out["audio"].float().chunk(2)
    return DubContrastiveLoss()({"video_p": v_p, "video_s": v_s, "audio_p": a_p,
                                 "audio_s": a_s}).objective


def test_pair_compiles_as_one_graph_under_bf16_autocast():
    """fullgraph: no graph break anywhere in the towers and heads (the rel-pos bias, the
    compile-only key padding, pooling); outputs and gradients match eager."""
    model = tiny_pair().eval()  # eval: no drop-path randomness to line up
    batch = pair_batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        eager = step_loss(model, batch)
    eager.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        traced = step_loss(compiled, batch)
    traced.backward()
    assert torch.isfinite(traced)
    torch.testing.assert_close(traced, eager, atol=0.05, rtol=0.02)
    params = dict(model.named_parameters())
    assert all(params[name].grad is not None for name in grads)
    want = torch.cat([g.flatten() for g in grads.values()])
    got = torch.cat([params[name].grad.flatten() for name in grads])
    assert (got - want).norm() / want.norm() < 0.05  # bf16 rounding, not a wrong graph


def test_bf16_autocast_training_step_is_finite_and_close_to_fp32():
    losses = {}
    for precision in ("fp32", "bf16"):
        model = tiny_pair().train()
        torch.manual_seed(5)
        ctx = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
        with ctx:
            loss = step_loss(model, pair_batch(3))
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        assert torch.isfinite(loss) and torch.isfinite(norm)
        losses[precision] = loss.item()
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.05)


@pytest.mark.parametrize("cls,shape", [(nn.BatchNorm3d, (4, 3, 5, 6, 7)), (nn.BatchNorm2d, (5, 1, 9, 8))])
@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("affine", [False, True])
def test_few_channel_batch_norm_matches_batchnorm(cls, shape, momentum, affine):
    ref, ours = (cls(shape[1], affine=affine, momentum=momentum).double() for _ in range(2))
    if affine:
        with torch.no_grad():
            ref.weight.uniform_(0.5, 1.5)
            ref.bias.uniform_(-1, 1)
        ours.load_state_dict(ref.state_dict())
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        x = (torch.randn(*shape, generator=g, dtype=torch.float64) * 3 + 1).requires_grad_()
        y_ref, y = ref(x), few_channel_batch_norm(x, ours)
        torch.testing.assert_close(y, y_ref)
        g_ref, = torch.autograd.grad(y_ref.sin().sum(), x)
        g_ours, = torch.autograd.grad(y.sin().sum(), x)
        torch.testing.assert_close(g_ours, g_ref)
    for key, value in ref.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value, msg=key)
    ours.eval()
    torch.testing.assert_close(few_channel_batch_norm(x, ours), ref.eval()(x))


def test_padded_keys_leave_attention_unchanged():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 1, n, 16, generator=g) for n in (30, 54, 54))
    bias = torch.randn(2, 1, 30, 54, generator=g)
    k2, v2, bias2 = pad_keys_for_compile(k, v, bias)
    assert k2.shape[2] == v2.shape[2] == bias2.shape[-1] == 64
    torch.testing.assert_close(F.scaled_dot_product_attention(q, k2, v2, attn_mask=bias2),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=bias))
    assert pad_keys_for_compile(k2, v2, bias2)[0] is k2  # aligned already: untouched


def test_gpu_check_table_reads_the_recorded_h200_runs():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from gpu_check_table import summary_rows
    finally:
        sys.path.pop(0)
    run2 = json.loads((ROOT / "benchmarks/results/gpu_check_h200_run2.json").read_text())
    rows = dict(summary_rows(run2))
    assert "H200" in rows["device"]
    assert "quadruplets/s" in rows["pair step: v0.1"]
    assert rows["now, contiguous pooling conv vs the authors' towers"].startswith("x1.3")
