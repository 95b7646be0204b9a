"""Typed MViTv2 architecture: one :class:`BlockSpec` per block instead of index lists.

:func:`resolve_spec` turns a resolved reference ``MVIT`` mapping (the authors' field names,
see ``tests/fixtures/mvit_parity/config_*_tiny.json``) plus an input size into an
:class:`MViTSpec`. It reproduces the reference bookkeeping exactly, including two quirks
that decide parameter shapes:

* the adaptive KV stride is divided by the q stride of every block that lists one;
* rel-pos tables are sized from a grid updated with floor division (``size // stride``)
  after each q-strided block, although the real grids come from the pooling convs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dubclr.errors import ConfigError

Triple = tuple[int, int, int]

# Reference options this port implements only at the value the release uses.
_FIXED_FIELDS = {
    "MODE": "conv",
    "POOL_FIRST": False,
    "SEPARATE_QKV": False,
    "NORM_STEM": False,
    "USE_ABS_POS": False,
    "LAYER_SCALE_INIT_VALUE": 0.0,
    "DIM_MUL_IN_ATT": True,
    "NORM": "layernorm",
    "DROPOUT_RATE": 0.0,
}


@dataclass(frozen=True)
class BlockSpec:
    """One MViTv2 block: widths, heads, pooling and rel-pos table sizes."""

    dim_in: int
    dim_out: int
    num_heads: int
    stride_q: Triple
    stride_kv: Triple
    kernel_q: Triple  # (1, 1, 1) with stride (1, 1, 1) means no pooling conv
    kernel_kv: Triple
    rel_pos_rows: int  # rows of rel_pos_h and rel_pos_w (0 = no spatial rel-pos)
    rel_pos_t_rows: int  # rows of rel_pos_t (0 = no temporal rel-pos)
    drop_path: float = 0.0
    mlp_ratio: float = 4.0

    @property
    def head_dim(self) -> int:
        return self.dim_out // self.num_heads

    @property
    def mlp_hidden(self) -> int:
        return int(self.dim_out * self.mlp_ratio)

    @property
    def pools_q(self) -> bool:
        return not (_prod(self.kernel_q) == 1 and _prod(self.stride_q) == 1)

    @property
    def pools_kv(self) -> bool:
        return not (_prod(self.kernel_kv) == 1 and _prod(self.stride_kv) == 1)


@dataclass(frozen=True)
class MViTSpec:
    """A whole tower. ``input_size`` is (T, H, W); audio uses T = 1 and 2-D patches."""

    modality: str  # "video" | "audio"
    input_size: Triple
    in_chans: int
    patch_kernel: tuple[int, ...]
    patch_stride: tuple[int, ...]
    patch_padding: tuple[int, ...]
    embed_dim: int
    cls_embed: bool
    blocks: tuple[BlockSpec, ...] = field(default_factory=tuple)
    qkv_bias: bool = True
    residual_pooling: bool = True
    use_mean_pooling: bool = False
    norm_eps: float = 1e-6

    @property
    def patch_2d(self) -> bool:
        return len(self.patch_kernel) == 2

    @property
    def out_dim(self) -> int:
        return self.blocks[-1].dim_out if self.blocks else self.embed_dim

    @property
    def token_grid(self) -> Triple:
        """The real token grid after the patch conv, ``floor((n + 2p - k) / s) + 1``."""
        k, s = _as_triple(self.patch_kernel, 1), _as_triple(self.patch_stride, 1)
        p = _as_triple(self.patch_padding, 0)
        return tuple((n + 2 * pi - ki) // si + 1
                     for n, ki, si, pi in zip(self.input_size, k, s, p))  # type: ignore[return-value]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Per-sample input shape: (C, T, H, W) video, (C, H, W) audio."""
        if self.patch_2d:
            return (self.in_chans, self.input_size[1], self.input_size[2])
        return (self.in_chans, *self.input_size)


def round_width(width: float, multiplier: float, min_width: int = 1, divisor: int = 1) -> int:
    """The reference channel rounding: nearest multiple of ``divisor``, never < 90%."""
    if not multiplier:
        return int(width)
    width *= multiplier
    min_width = min_width or divisor
    out = max(min_width, int(width + divisor / 2) // divisor * divisor)
    if out < 0.9 * width:
        out += divisor
    return int(out)


def resolve_spec(mvit: dict[str, Any], *, modality: str, input_size: tuple[int, ...],
                 in_chans: int) -> MViTSpec:
    """Build the typed spec from a resolved reference ``MVIT`` mapping.

    ``input_size`` is (T, H, W) for video, (H, W) for audio (mel bins, frames).
    """
    if modality not in ("video", "audio"):
        raise ConfigError(f"mvit: modality must be 'video' or 'audio', got {modality!r}")
    _check_supported(mvit)
    size = _input_triple(input_size, modality)
    patch_2d = bool(mvit.get("PATCH_2D", False))
    kernel = tuple(int(v) for v in mvit["PATCH_KERNEL"])
    stride = tuple(int(v) for v in mvit["PATCH_STRIDE"])
    padding = tuple(int(v) for v in mvit["PATCH_PADDING"])
    if len(kernel) != (2 if patch_2d else 3):
        raise ConfigError(f"mvit.PATCH_KERNEL {list(kernel)} does not fit PATCH_2D={patch_2d}")
    stride3 = _as_triple(stride, 1)
    grid = [n // s for n, s in zip(size, stride3)]  # bookkeeping grid (floor division)

    depth = int(mvit["DEPTH"])
    stride_q, kernel_q, stride_kv, kernel_kv = _pooling_lists(mvit, depth)
    dim_mul = _per_block(mvit.get("DIM_MUL", []), depth + 1)
    head_mul = _per_block(mvit.get("HEAD_MUL", []), depth + 1)
    rate = float(mvit.get("DROPPATH_RATE", 0.0))
    drop = [rate * i / (depth - 1) if depth > 1 else 0.0 for i in range(depth)]
    rel_sp = bool(mvit.get("REL_POS_SPATIAL", False))
    rel_t = bool(mvit.get("REL_POS_TEMPORAL", False))

    blocks = []
    dim = int(mvit["EMBED_DIM"])
    heads = int(mvit["NUM_HEADS"])
    for i in range(depth):
        heads = round_width(heads, head_mul[i])
        dim_out = round_width(dim, dim_mul[i], divisor=round_width(heads, head_mul[i]))
        sq = stride_q[i] or (1, 1, 1)
        skv = stride_kv[i] or (1, 1, 1)
        rows = 0
        if rel_sp:
            qh, qw = grid[1] // sq[1], grid[2] // sq[2]
            kh, kw = grid[1] // skv[1], grid[2] // skv[2]
            rows = max(qh, kh) + max(qw, kw) - 1
        blocks.append(BlockSpec(
            dim_in=dim, dim_out=dim_out, num_heads=heads,
            stride_q=sq, stride_kv=skv,
            kernel_q=kernel_q[i] or (1, 1, 1), kernel_kv=kernel_kv[i] or (1, 1, 1),
            rel_pos_rows=rows, rel_pos_t_rows=2 * grid[0] - 1 if rel_t else 0,
            drop_path=drop[i], mlp_ratio=float(mvit.get("MLP_RATIO", 4.0)),
        ))
        if stride_q[i]:
            grid = [n // s for n, s in zip(grid, stride_q[i])]
        dim = dim_out

    return MViTSpec(
        modality=modality, input_size=size, in_chans=int(in_chans),
        patch_kernel=kernel, patch_stride=stride, patch_padding=padding,
        embed_dim=int(mvit["EMBED_DIM"]), cls_embed=bool(mvit.get("CLS_EMBED_ON", False)),
        blocks=tuple(blocks), qkv_bias=bool(mvit.get("QKV_BIAS", True)),
        residual_pooling=bool(mvit.get("RESIDUAL_POOLING", False)),
        use_mean_pooling=bool(mvit.get("USE_MEAN_POOLING", False)),
    )


def _pooling_lists(mvit: dict[str, Any], depth: int):
    """Per-block q/kv strides and kernels, with the adaptive KV stride rule."""
    stride_q: list[Triple | None] = [None] * depth
    kernel_q: list[Triple | None] = [None] * depth
    stride_kv: list[Triple | None] = [None] * depth
    kernel_kv: list[Triple | None] = [None] * depth
    kvq_kernel = mvit.get("POOL_KVQ_KERNEL")

    def kernel_for(strides: Triple) -> Triple:
        if kvq_kernel is not None:
            return tuple(int(k) for k in kvq_kernel)  # type: ignore[return-value]
        return tuple(s + 1 if s > 1 else s for s in strides)  # type: ignore[return-value]

    for entry in mvit.get("POOL_Q_STRIDE", []) or []:
        i, strides = _block_index(entry, depth, "POOL_Q_STRIDE")
        stride_q[i], kernel_q[i] = strides, kernel_for(strides)

    kv_entries = list(mvit.get("POOL_KV_STRIDE", []) or [])
    adaptive = mvit.get("POOL_KV_STRIDE_ADAPTIVE")
    if adaptive is not None:
        running = [int(s) for s in adaptive]
        kv_entries = []
        for i in range(depth):
            if stride_q[i] is not None:
                running = [max(r // q, 1) for r, q in zip(running, stride_q[i])]
            kv_entries.append([i, *running])
    for entry in kv_entries:
        i, strides = _block_index(entry, depth, "POOL_KV_STRIDE")
        stride_kv[i], kernel_kv[i] = strides, kernel_for(strides)
    return stride_q, kernel_q, stride_kv, kernel_kv


def _block_index(entry: Any, depth: int, name: str) -> tuple[int, Triple]:
    if len(entry) != 4 or not 0 <= int(entry[0]) < depth:
        raise ConfigError(f"mvit.{name}: entry {entry} must be [block (0..{depth - 1}), st, sh, sw]")
    return int(entry[0]), (int(entry[1]), int(entry[2]), int(entry[3]))


def _per_block(pairs: list, n: int) -> list[float]:
    out = [1.0] * n
    for idx, mul in pairs or []:
        out[int(idx)] = float(mul)
    return out


def _check_supported(mvit: dict[str, Any]) -> None:
    for key in ("PATCH_KERNEL", "PATCH_STRIDE", "PATCH_PADDING", "DEPTH", "EMBED_DIM", "NUM_HEADS"):
        if key not in mvit:
            raise ConfigError(f"mvit: the resolved MVIT block has no {key}")
    for key, value in _FIXED_FIELDS.items():
        if key in mvit and mvit[key] != value:
            raise ConfigError(
                f"mvit.{key}={mvit[key]!r} is not supported (the authors' release uses {value!r})")


def _input_triple(input_size: tuple[int, ...], modality: str) -> Triple:
    sizes = tuple(int(v) for v in input_size)
    if modality == "video" and len(sizes) == 3:
        return sizes  # type: ignore[return-value]
    if modality == "audio" and len(sizes) == 2:
        return (1, *sizes)  # type: ignore[return-value]
    want = "(T, H, W)" if modality == "video" else "(mel_bins, mel_frames)"
    raise ConfigError(f"mvit: input_size for {modality} must be {want}, got {list(sizes)}")


def _as_triple(values: tuple[int, ...], fill: int) -> Triple:
    return tuple(values) if len(values) == 3 else (fill, *values)  # type: ignore[return-value]


def _prod(values: Triple) -> int:
    out = 1
    for v in values:
        out *= v
    return out
