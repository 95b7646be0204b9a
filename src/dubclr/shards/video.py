"""A shot's picture in a shard: scaled once, encoded as its own short-GOP stream, decoded by range.

The build hands :func:`encode_clip` the shot's frames already on the 25 fps grid and at the
shard size (:func:`shard_size`); the frame with index ``j`` gets timestamp ``j`` in a 1/25 s
time base, so a frame's index is its position on that grid. :func:`decode_frames` opens the
clip from memory and decodes every asked index in one forward pass: it seeks to the keyframe
before the first wanted frame and, when the next wanted frame is more than a GOP ahead, seeks
again instead of decoding the gap, so no frame is decoded twice.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from dubclr.media.errors import CorruptMediaError

SHARD_FPS = 25


@dataclass(frozen=True)
class VideoCodec:
    """How a shot's picture is encoded. Chosen by measurement (docs/performance.md, Shards)."""

    codec: str = "libx264"  # or "mjpeg" (every frame a keyframe)
    gop: int = 50  # keyframe spacing in frames (1: every frame a keyframe)
    bframes: int = 7  # B-frames between anchors; never referenced, so a read skips those unused
    crf: int = 23  # libx264 constant quality (lower is better and bigger)
    preset: str = "veryfast"
    tune: str = "fastdecode"  # no CABAC, no deblocking, no weighted prediction: cheaper decode
    qscale: int = 4  # mjpeg quality (2 best .. 31 worst)
    extra: tuple[tuple[str, str], ...] = field(default=())  # further encoder options

    def __post_init__(self) -> None:
        if self.codec not in ("libx264", "mjpeg"):
            raise ValueError(f"video codec must be libx264 or mjpeg, not {self.codec!r}")
        if self.gop < 1:
            raise ValueError(f"gop must be >= 1, got {self.gop}")

    @property
    def container(self) -> str:
        return "mp4" if self.codec == "libx264" else "matroska"

    @property
    def extension(self) -> str:
        return "mp4" if self.codec == "libx264" else "mkv"

    def describe(self) -> str:
        if self.codec == "mjpeg":
            return f"mjpeg q{self.qscale}"
        tune = f" tune={self.tune}" if self.tune else ""
        extra = "".join(f" {k}={v}" for k, v in self.extra)
        bframes = f" bf{self.bframes}" if self.gop > 1 else ""
        return f"libx264 gop{self.gop}{bframes} crf{self.crf} {self.preset}{tune}{extra}"


def shard_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the short side at ``short_side``, aspect kept, both even.

    Never upscales: a source whose short side is already at most ``short_side`` keeps its
    size (rounded down to even, as 4:2:0 chroma needs)."""
    if min(width, height) > short_side:
        if width <= height:
            width, height = short_side, height * short_side / width
        else:
            width, height = width * short_side / height, short_side
    return max(2, int(width) // 2 * 2), max(2, int(height) // 2 * 2)


def encode_clip(frames: Iterable[av.VideoFrame], width: int, height: int,
                codec: VideoCodec, colour: dict[str, int] | None = None) -> bytes:
    """Encode frames (at ``width`` x ``height``) as a 25 fps stream in memory; the same frames
    give the same bytes (one thread, no macroblock tree).

    ``colour`` carries the source's ``colorspace``/``color_range``/``color_primaries``/
    ``color_trc`` so the decoded RGB matches what the original converts to.
    """
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=codec.container) as container:
        stream = container.add_stream(codec.codec, rate=Fraction(SHARD_FPS))
        stream.width, stream.height = width, height
        ctx = stream.codec_context
        ctx.thread_count = 1  # one core per build task; also keeps the bytes deterministic
        ctx.time_base = Fraction(1, SHARD_FPS)
        for key, value in (colour or {}).items():
            setattr(ctx, key, value)
        if codec.codec == "libx264":
            stream.pix_fmt = "yuv420p"
            ctx.gop_size = codec.gop
            # a fixed pattern: keyframes every `gop`, `bframes` non-reference B-frames
            # between P anchors, none of them referenced (b-pyramid=none). mbtree=0: with
            # fixed B-frames x264's macroblock tree reads memory it never wrote, and the
            # bytes would differ from run to run.
            bframes = min(codec.bframes, codec.gop - 1)
            params = (f"keyint={codec.gop}:min-keyint={codec.gop}:scenecut=0:bframes={bframes}"
                      ":b-pyramid=none:b-adapt=0:mbtree=0")
            options = {"crf": str(codec.crf), "preset": codec.preset, "x264-params": params}
            if codec.tune:
                options["tune"] = codec.tune
        else:
            stream.pix_fmt = "yuvj420p"
            options = {"qscale": str(codec.qscale)}
            ctx.qmin = ctx.qmax = codec.qscale
        options.update(dict(codec.extra))
        stream.options = options
        for index, frame in enumerate(frames):
            frame.pts, frame.time_base = index, Fraction(1, SHARD_FPS)
            frame.pict_type = av.video.frame.PictureType.NONE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def decode_windows(data: bytes, windows: Sequence[Sequence[int]], *,
                   size: tuple[int, int] | None = None, name: str = "clip",
                   reformatter: VideoReformatter | None = None,
                   planar: bool = False) -> list[np.ndarray]:
    """RGB uint8 ``(T, H, W, 3)`` for each window (a list of frame indices), in one pass;
    ``planar``: ``(3, T, H, W)`` instead (swscale writes planar RGB, each plane copied as a
    block: the layout a model takes, without a transposing copy).

    Only the packets the wanted frames depend on are decoded (from the keyframe before each up
    to it), each once, whatever the windows share; each frame is converted to RGB once and
    copied straight into its windows. ``size`` = (width, height) scales on conversion. Indices
    past the clip's end get its last frame. A ``reformatter`` kept across calls saves setting
    up the conversion.
    """
    convert = _Converter(reformatter or VideoReformatter(), size, planar)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            ctx.thread_count = 1
            packets = [p for p in container.demux(stream) if p.size]
            if not packets:
                raise CorruptMediaError(f"{name}: the shard video holds no frames; the shard "
                                        "is damaged: rebuild its title")
            width, height = size or (ctx.width, ctx.height)
            out = [np.empty((3, len(w), height, width) if planar else (len(w), height, width, 3),
                            dtype=np.uint8) for w in windows]
            time_base = (stream.time_base.numerator, stream.time_base.denominator)
            indices = [_index_of(p, time_base) for p in packets]
            last = max(indices)
            slots: dict[int, list[tuple[int, int]]] = {}  # frame -> (window, position)
            for w, window in enumerate(windows):
                for position, index in enumerate(window):
                    slots.setdefault(min(int(index), last), []).append((w, position))
            references = _reference_flags(packets, ctx)
            needed = _packets_needed(indices, [p.is_keyframe for p in packets], references,
                                     set(slots))
            for position in needed:
                for frame in ctx.decode(packets[position]):
                    _fill(frame, time_base, slots, out, convert)
            for frame in ctx.decode(None):
                _fill(frame, time_base, slots, out, convert)
    except av.FFmpegError as exc:
        raise CorruptMediaError(f"{name}: cannot decode the shard video ({exc}); the shard is "
                                "damaged: rebuild its title with `dubclr shards build`") from None
    if slots:
        raise CorruptMediaError(f"{name}: frames {sorted(slots)[:5]} could not be decoded; the "
                                "shard is damaged: rebuild its title")
    return out


def _packets_needed(indices: list[int], keyframes: list[bool], references: list[bool],
                    wanted: set[int]) -> list[int]:
    """Positions (decode order) of the packets that decoding the ``wanted`` frames needs: each
    wanted frame, and the reference frames between the keyframe before it and it."""
    needed: set[int] = set()
    keyframe = 0
    for position, index in enumerate(indices):
        if keyframes[position]:
            keyframe = position
        if index in wanted:
            needed.add(position)
            needed.update(q for q in range(keyframe, position) if references[q])
    return sorted(needed)


def _reference_flags(packets, ctx) -> list[bool]:
    """Whether each packet may be referenced by another. H.264 says it in each slice's NAL
    header (``nal_ref_idc``); MJPEG frames are never referenced; other codecs: assume so."""
    if ctx.name == "mjpeg":
        return [False] * len(packets)
    if ctx.name != "h264" or not ctx.extradata or ctx.extradata[0] != 1:
        return [True] * len(packets)
    length_size = (ctx.extradata[4] & 3) + 1  # avcC: NAL units prefixed by their length
    return [_h264_is_reference(bytes(p), length_size) for p in packets]


def _h264_is_reference(data: bytes, length_size: int) -> bool:
    position = 0
    while position + length_size < len(data):
        size = int.from_bytes(data[position:position + length_size], "big")
        header = data[position + length_size]
        if header & 0x1F in (1, 5):  # a coded slice (non-IDR or IDR)
            return header >> 5 & 3 != 0
        position += length_size + size
    return True


class _Converter:
    """Frames to RGB through one swscale context (set up once, not per frame): packed
    ``rgb24``, or planar (swscale's ``gbrp``: planes G, B, R)."""

    def __init__(self, reformatter: VideoReformatter, size: tuple[int, int] | None,
                 planar: bool = False) -> None:
        self.reformatter, self.planar = reformatter, planar
        self.width, self.height = size if size else (None, None)

    def __call__(self, frame: av.VideoFrame) -> tuple[av.VideoFrame, np.ndarray | list]:
        """The RGB frame and a view of its pixels, valid while it lives: ``(H, W, 3)``, or
        planar the ``(H, W)`` planes in R, G, B order."""
        rgb = self.reformatter.reformat(frame, width=self.width, height=self.height,
                                        format="gbrp" if self.planar else "rgb24",
                                        interpolation="BILINEAR", threads=1)
        if self.planar:
            return rgb, [_rows(rgb.planes[p], rgb.width, rgb.height) for p in (2, 0, 1)]
        rows = _rows(rgb.planes[0], rgb.width * 3, rgb.height)
        return rgb, rows.reshape(rgb.height, rgb.width, 3)


def _rows(plane, width: int, height: int) -> np.ndarray:
    """A plane's ``(height, width)`` bytes (its line padding left out), as a view."""
    return np.frombuffer(plane, dtype=np.uint8).reshape(height, plane.line_size)[:, :width]


def _fill(frame, time_base, slots, out, convert) -> None:
    wanted = slots.pop(_index_of(frame, time_base), None)
    if wanted:
        _keep, pixels = convert(frame)
        for window, position in wanted:
            if convert.planar:
                for channel, plane in enumerate(pixels):
                    out[window][channel, position] = plane
            else:
                out[window][position] = pixels


def _index_of(item, time_base: tuple[int, int]) -> int:
    pts = item.pts if item.pts is not None else item.dts
    numerator, denominator = time_base
    return (2 * pts * numerator * SHARD_FPS + denominator) // (
        2 * denominator)  # round(pts * time_base * 25) in integers
