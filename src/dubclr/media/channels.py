"""Channel layouts: one downmix, used by training, shards, embed and HEAR.

Film dialogue lives in the centre channel of a 5.1/7.1 mix, so taking the first two channels
of a surround track throws the speech away. We fold every layout to stereo with the ITU-R
BS.775 matrix that FFmpeg's ``-ac 2`` uses for float audio (front channels at 0 dB, centre and
surrounds at -3 dB, LFE dropped; a phantom centre in a stereo mix has the same level), and mono
as the mean of that stereo pair (so a mono model hears a 5.1 track and a stereo track of the
same mix alike). A mono track is duplicated for a stereo model.

Channel names are FFmpeg's (``FL FR FC LFE BL BR SL SR BC FLC FRC ...``). When a decoder
gives no names, the layout is FFmpeg's default for the channel count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MINUS_3DB = 1 / math.sqrt(2)

# FFmpeg's default layout for a channel count (av_channel_layout_default)
DEFAULT_LAYOUTS: dict[int, tuple[str, ...]] = {
    1: ("FC",),
    2: ("FL", "FR"),
    3: ("FL", "FR", "LFE"),
    4: ("FL", "FR", "FC", "BC"),
    5: ("FL", "FR", "FC", "BL", "BR"),
    6: ("FL", "FR", "FC", "LFE", "BL", "BR"),
    7: ("FL", "FR", "FC", "LFE", "BC", "SL", "SR"),
    8: ("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"),
}

# (gain into left, gain into right) for each named channel before normalisation
_STEREO_GAINS: dict[str, tuple[float, float]] = {
    "FL": (1.0, 0.0), "FR": (0.0, 1.0),
    "FC": (MINUS_3DB, MINUS_3DB),
    "FLC": (1.0, 0.0), "FRC": (0.0, 1.0),  # front left/right of centre (7.1 wide)
    "BL": (MINUS_3DB, 0.0), "BR": (0.0, MINUS_3DB),
    "SL": (MINUS_3DB, 0.0), "SR": (0.0, MINUS_3DB),
    "BC": (0.5, 0.5),  # back centre: -3 dB into each back side, -3 dB again into the front
    "TC": (0.5, 0.5),
    "LFE": (0.0, 0.0), "LFE2": (0.0, 0.0),  # FFmpeg's default lfe_mix_level is 0
}


def channel_names(layout: Sequence[str] | int) -> tuple[str, ...]:
    """Names of a layout given as names, or FFmpeg's default for a channel count."""
    if isinstance(layout, int):
        if layout not in DEFAULT_LAYOUTS:
            raise ValueError(f"no default channel layout for {layout} channels; pass the "
                             f"channel names (FL, FR, FC, ...) of the track")
        return DEFAULT_LAYOUTS[layout]
    return tuple(str(name).upper() for name in layout)


def _stereo_gains(name: str) -> tuple[float, float]:
    if name in _STEREO_GAINS:
        return _STEREO_GAINS[name]
    if name.startswith("LFE"):
        return 0.0, 0.0
    # other named positions (top/wide channels): by side, at -3 dB
    if name.endswith("L"):
        return MINUS_3DB, 0.0
    if name.endswith("R"):
        return 0.0, MINUS_3DB
    return 0.5, 0.5


def downmix_matrix(layout: Sequence[str] | int, out_channels: int) -> np.ndarray:
    """``(out_channels, in_channels)`` float64 matrix taking a layout to mono or stereo."""
    names = channel_names(layout)
    if out_channels not in (1, 2):
        raise ValueError(f"out_channels must be 1 or 2, not {out_channels}")
    if names in (("FC",), ("FL",), ("FR",)) or len(names) == 1:  # mono source
        return np.ones((out_channels, 1))
    if names == ("FL", "FR"):
        stereo = np.eye(2)
    else:
        stereo = np.array([_stereo_gains(n) for n in names], dtype=np.float64).T
    if out_channels == 2:
        return stereo
    return stereo.mean(axis=0, keepdims=True)


def downmix(wave, out_channels: int, layout: Sequence[str] | None = None):
    """Fold ``wave`` (``(C, N)`` numpy, or ``(..., C, N)`` numpy/torch) to ``out_channels``.

    ``layout`` names the C input channels; without it, FFmpeg's default layout for C.
    Returns the same type; a wave already at ``out_channels`` with no layout given comes back
    unchanged.
    """
    in_channels = wave.shape[-2]
    if layout is not None and len(layout) != in_channels:
        raise ValueError(f"layout {tuple(layout)} names {len(layout)} channels; the audio has "
                         f"{in_channels}")
    if in_channels == out_channels and (layout is None or out_channels == 1
                                        or tuple(layout) == ("FL", "FR")):
        return wave
    matrix = downmix_matrix(layout if layout is not None else in_channels, out_channels)
    if isinstance(wave, np.ndarray):
        return np.matmul(matrix.astype(wave.dtype, copy=False), wave)
    import torch  # here, not at import: Ray/loader workers that fold numpy skip torch's import

    m = torch.as_tensor(matrix, dtype=wave.dtype, device=wave.device)
    return torch.matmul(m, wave)
