"""MViTv2 parity with the authors' reference (numbers from tests/fixtures/mvit_parity)."""

from __future__ import annotations

import pytest
import torch
from mvit_fixtures import (
    FIXTURES,
    analytic_input,
    analytic_tensor,
    build_on_meta,
    build_tiny_reference,
    load_json,
)
from safetensors.torch import load_file

MODALITIES = ("video", "audio")
TOL = {"f32": 1e-4, "f64": 1e-9}


@pytest.fixture(scope="module", params=MODALITIES)
def tiny(request):
    net = build_tiny_reference(request.param).eval()
    net.load_state_dict(load_file(FIXTURES / f"weights_{request.param}_tiny.safetensors"),
                        strict=True)
    return request.param, net


@pytest.mark.parametrize("attention", ["sdpa", "flex", "explicit"])
@pytest.mark.parametrize("precision", ["f32", "f64"])
def test_tiny_outputs_match_reference(tiny, precision, attention):
    modality, net = tiny
    io = load_file(FIXTURES / f"io_{modality}_tiny_{precision}.safetensors")
    net = net.double() if precision == "f64" else net.float()
    net.set_attention(attention)
    with torch.inference_mode():
        out = net(io["input"])
    net.float().set_attention("sdpa")
    assert out.dtype == io["output"].dtype
    torch.testing.assert_close(out, io["output"], atol=TOL[precision], rtol=0)


def test_tiny_per_block_trace(tiny):
    modality, net = tiny
    trace = load_file(FIXTURES / f"trace_{modality}_tiny_f32.safetensors")
    got: dict[str, torch.Tensor] = {}
    hooks = [
        net.patch_embed.register_forward_hook(lambda m, i, o: got.__setitem__("patch_embed_tokens", o)),
        net.blocks[0].register_forward_pre_hook(lambda m, a: got.__setitem__("stem_tokens", a[0])),
        net.norm.register_forward_hook(lambda m, i, o: got.__setitem__("final_norm_tokens", o)),
    ]
    for i, block in enumerate(net.blocks):
        hooks.append(block.attn.register_forward_hook(
            lambda m, a, o, i=i: got.__setitem__(f"block{i}.attn_out", o[0])))
        hooks.append(block.register_forward_hook(
            lambda m, a, o, i=i: got.__setitem__(f"block{i}.out", o[0])))
    with torch.inference_mode():
        got["output"] = net(load_file(FIXTURES / f"io_{modality}_tiny_f32.safetensors")["input"])
    for h in hooks:
        h.remove()
    assert set(trace) == set(got)
    for key, want in trace.items():
        torch.testing.assert_close(got[key], want, atol=1e-4, rtol=0, msg=lambda m, k=key: f"{k}: {m}")


@pytest.mark.parametrize("modality", MODALITIES)
def test_tiny_geometry_matches_reference_table(modality):
    cfg = load_json(f"config_{modality}_tiny.json")
    net = build_tiny_reference(modality)
    assert net.spec.token_grid == tuple(cfg["token_grid_after_patch_embed"])
    assert net.out_dim == cfg["out_dim"]
    assert sum(p.numel() for p in net.parameters()) == cfg["num_parameters"]
    for block, row in zip(net.spec.blocks, cfg["blocks"]):
        assert (block.dim_in, block.dim_out, block.num_heads) == (row["dim_in"], row["dim_out"], row["num_heads"])
        assert list(block.stride_q) == row["stride_q"] and list(block.stride_kv) == row["stride_kv"]
        assert block.rel_pos_rows == row["rel_pos_h_rows"] == row["rel_pos_w_rows"]
        assert block.rel_pos_t_rows == row.get("rel_pos_t_rows", 0)
    # the listing is ordered like the reference state_dict
    assert [(k, list(v.shape)) for k, v in net.state_dict().items()] == \
        [(e["key"], e["shape"]) for e in cfg["state_dict"]]


@pytest.mark.parametrize("name", ["video_S", "video_B", "audio_S", "audio_B"])
def test_schema_keys_shapes_and_counts(name):
    schema = load_json(f"schema_{name}.json")
    net = build_on_meta(schema)
    sd = net.state_dict()
    assert [(k, list(v.shape)) for k, v in sd.items()] == \
        [(e["key"], e["shape"]) for e in schema["state_dict"]]
    assert sum(p.numel() for p in net.parameters()) == schema["num_parameters"]
    assert net.spec.token_grid == tuple(schema["token_grid_after_patch_embed"])
    assert net.out_dim == schema["out_dim"]
    for block, row in zip(net.spec.blocks, schema["blocks"]):
        assert list(block.stride_kv) == row["stride_kv"], row["block"]
        assert block.rel_pos_rows == row["rel_pos_h_rows"], row["block"]


@pytest.mark.parametrize("name", ["video_S", "video_B", "audio_S", "audio_B"])
def test_schema_patch_overlap_variant(name):
    schema = load_json(f"schema_{name}.json")
    over = schema["if_patch_overlap_true"]
    net = build_on_meta(schema, patch_overlap=True)
    shapes = {k: list(v.shape) for k, v in net.state_dict().items()}
    for change in over["changed_keys"]:
        assert shapes[change["key"]] == change["shape_overlap_true"], change["key"]
    assert sum(p.numel() for p in net.parameters()) == over["num_parameters"]
    assert net.spec.token_grid == tuple(over["token_grid_after_patch_embed"])


@pytest.fixture(scope="module", params=["video_S", "video_B", "audio_S", "audio_B"])
def full_analytic(request):
    """A full-size tower with the README's closed-form weights (built once per module)."""
    schema = load_json(f"schema_{request.param}.json")
    net = build_on_meta(schema).to_empty(device="cpu")
    sd = {}
    for entry in schema["state_dict"]:
        t = analytic_tensor(entry["key"], entry["shape"], entry["analytic"], schema["mtype"])
        assert t.double().sum().item() == pytest.approx(entry["analytic_sum_f64"], rel=1e-9, abs=1e-9)
        sd[entry["key"]] = t
    net.load_state_dict(sd, strict=True)
    x = analytic_input([1, *schema["input_shape"][1:]], schema["mtype"])
    assert x.double().sum().item() == pytest.approx(schema["analytic_fixture"]["input_sum_f64"], rel=1e-12)
    return net.eval(), x, load_file(FIXTURES / schema["analytic_fixture"]["file"])


def test_full_size_analytic_outputs(full_analytic):
    net, x, ref = full_analytic
    with torch.inference_mode():
        out32 = net(x)
    torch.testing.assert_close(out32, ref["output_f32"], atol=1e-4, rtol=0)
    if net.spec.modality == "audio":  # float64 of the video towers costs ~10x more: tiny covers it
        with torch.inference_mode():
            out64 = net.double()(x.double())
        net.float()
        torch.testing.assert_close(out64, ref["output_f64"], atol=1e-9, rtol=0)
