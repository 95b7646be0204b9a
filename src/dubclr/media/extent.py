"""What a file really holds, as opposed to what its header states.

A stated duration (container header, Matroska ``DURATION`` tag) can be wrong: a file cut
short keeps its header, and a dub track can stop long before the picture. :func:`scan_media`
reads every packet once: it decodes the video stream (handing each frame to a callback, so
the shot detector rides on the same pass) and records where every stream's packets begin
and end. Audio is demuxed, not decoded: packet timestamps and durations bound it exactly
enough (one codec frame, 20-43 ms) at no decoding cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av

from dubclr.media.container import open_media

# A file whose picture decodes to less than its stated length by more than this is cut short.
TRUNCATION_TOLERANCE = 0.5  # seconds (plus one frame)


@dataclass(frozen=True)
class StreamExtent:
    """Seconds of a stream's first packet start and last packet end."""

    start: float
    end: float


@dataclass
class MediaExtent:
    path: Path
    video_end: float | None = None  # end of the last decoded frame (or packet, when not decoding)
    video_frames: int = 0  # frames decoded
    streams: dict[int, StreamExtent] = field(default_factory=dict)  # by stream index
    decode_errors: int = 0  # video packets the decoder rejected (skipped)
    stopped: str | None = None  # why reading stopped before the end of the file, if it did

    def audio(self, stream_index: int | None) -> StreamExtent | None:
        return self.streams.get(stream_index) if stream_index is not None else None


FrameCallback = Callable[[av.VideoFrame, float], None]


def scan_media(path: str | Path, on_frame: FrameCallback | None = None) -> MediaExtent:
    """Read every packet of ``path`` once; decode the first video stream when ``on_frame``
    is given (called with each frame and its time in seconds, in order)."""
    path = Path(path)
    extent = MediaExtent(path=path)
    with open_media(path) as container:
        video = next((s for s in container.streams.video
                      if not s.disposition & av.stream.Disposition.attached_pic), None)
        wanted = [s for s in container.streams if s.type in ("video", "audio")]
        if video is not None and on_frame is not None:
            video.thread_type = "AUTO"
        frame_seconds = 1.0 / float(video.average_rate or video.guessed_rate or 25) if video else 0
        try:
            for packet in container.demux(wanted):
                _extend(extent.streams, packet)
                if packet.stream is video and on_frame is not None:
                    _decode(video, packet, extent, on_frame, frame_seconds)
        except av.FFmpegError as exc:
            extent.stopped = f"demuxing stopped: {exc}"
        if video is not None and on_frame is not None and extent.stopped:
            _decode(video, None, extent, on_frame, frame_seconds)  # flush what was decoded
        elif video is not None and on_frame is None and video.index in extent.streams:
            extent.video_end = extent.streams[video.index].end
    return extent


def _extend(streams: dict[int, StreamExtent], packet: av.Packet) -> None:
    pts = packet.pts if packet.pts is not None else packet.dts
    if pts is None or packet.size == 0 or packet.stream.time_base is None:
        return
    tb = packet.stream.time_base
    start = float(pts * tb)
    end = start + float((packet.duration or 0) * tb)
    known = streams.get(packet.stream.index)
    if known is None:
        streams[packet.stream.index] = StreamExtent(start, end)
    elif start < known.start or end > known.end:
        streams[packet.stream.index] = StreamExtent(min(known.start, start), max(known.end, end))


def _decode(stream, packet, extent: MediaExtent, on_frame: FrameCallback,
            frame_seconds: float) -> None:
    try:
        frames = stream.decode(packet)  # demux's last, empty packet flushes the decoder
    except av.EOFError:
        return
    except av.FFmpegError:
        extent.decode_errors += 1  # a damaged packet: skip it, the length check judges the rest
        return
    for frame in frames:
        pts = frame.pts if frame.pts is not None else frame.dts
        if pts is None:
            continue
        t = float(pts * stream.time_base)
        on_frame(frame, t)
        extent.video_frames += 1
        end = t + (float(frame.duration * stream.time_base) if frame.duration else frame_seconds)
        extent.video_end = end if extent.video_end is None else max(extent.video_end, end)


def truncation(extent: MediaExtent, stated: float, fps: float) -> str | None:
    """Why a title is cut short (its picture decodes to less than it states), or None."""
    real = extent.video_end or 0.0
    frame = 1.0 / fps if fps > 0 else 0.04
    if real >= stated - TRUNCATION_TOLERANCE - frame:
        return None
    why = f" ({extent.stopped})" if extent.stopped else ""
    return (f"{extent.path}: the picture decodes to {real:.2f} s but the file states "
            f"{stated:.2f} s{why}; it is probably truncated (an interrupted copy or download). "
            "Re-download or re-encode it; to keep the part that plays, remux it "
            "(ffmpeg -i IN -c copy OUT.mkv) and re-index")
