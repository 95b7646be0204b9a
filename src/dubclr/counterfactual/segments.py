"""Timed speech segments and the subtitle files (SRT / WebVTT) they come from."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from dubclr.errors import DubclrError
from dubclr.media.subtitles import format_srt as media_format_srt

SUBTITLE_EXTENSIONS = (".srt", ".vtt")
REVOICED = "re-voiced, not translated"  # how a dub without a translation is labelled
MIN_SEGMENT_S = 0.1  # shorter "segments" (faster-whisper gives 20 ms ones) carry no speech
_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})")


class SubtitleError(DubclrError):
    """A subtitle sidecar is missing or cannot be parsed."""


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start


def _seconds(stamp: str) -> float:
    m = _TIME.fullmatch(stamp.strip())
    if not m:
        raise ValueError(stamp)
    h, mnt, s, frac = m.groups()
    return int(h or 0) * 3600 + int(mnt) * 60 + int(s) + int(frac.ljust(3, "0")) / 1000


def parse_subtitles(text: str, source: str = "subtitles") -> list[Segment]:
    """Cues of an SRT or WebVTT document, sorted by start; markup tags are dropped."""
    segments = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\ufeff", "")):
        lines = [ln for ln in block.strip().split("\n") if ln.strip()]
        timing = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if timing is None:
            continue
        left, right = lines[timing].split("-->", 1)
        try:
            start, end = _seconds(left), _seconds(right.strip().split()[0])
        except (ValueError, IndexError):
            raise SubtitleError(f"{source}: bad cue timing {lines[timing]!r}") from None
        words = re.sub(r"<[^>]+>|\{[^}]+\}", "", " ".join(lines[timing + 1:])).strip()
        if end > start and words:
            segments.append(Segment(start, end, words))
    return sorted(segments, key=lambda s: s.start)


def read_subtitles(path: str | Path) -> list[Segment]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SubtitleError(f"{path}: cannot read subtitles ({exc})") from None
    return parse_subtitles(text, str(path))


def format_srt(segments: list[Segment]) -> str:
    return media_format_srt((s.start, s.end, s.text) for s in segments)


def find_sidecar(video: str | Path, language: str) -> Path | None:
    """``title.es.srt`` (or ``.vtt``) next to ``title.mkv``."""
    video = Path(video)
    for ext in SUBTITLE_EXTENSIONS:
        candidate = video.with_name(f"{video.stem}.{language}{ext}")
        if candidate.is_file():
            return candidate
    return None


def require_sidecar(video: str | Path, language: str) -> Path:
    found = find_sidecar(video, language)
    if found is None:
        video = Path(video)
        raise SubtitleError(f"{video}: no {language} subtitles; put {video.stem}.{language}.srt "
                            f"(or .vtt) next to it, or choose a model backend")
    return found


def cue_lines(speech: list[Segment], cues: list[Segment], max_gap_s: float = 0.5) -> list[Segment]:
    """Dub lines from target-language cues, timed to the source speech they translate.

    Each source speech segment goes to the cue it overlaps longest (or the nearest cue within
    ``max_gap_s``: subtitles are timed loosely), and a cue's line runs from the first to the
    last of its segments: a cue over several short speech segments fills all of them rather
    than one. A cue that won no segment joins the line of the segment it overlaps (two cues
    over one breath become one line, in cue order); one with no speech near it at all keeps
    its own timing. Lines are sorted and never overlap."""
    cues = sorted(cues, key=lambda c: c.start)
    if not cues:
        return []

    def gap(a: Segment, b: Segment) -> float:  # < 0 when they overlap (by that much)
        return max(a.start, b.start) - min(a.end, b.end)

    owner = [min(range(len(cues)), key=lambda j: gap(seg, cues[j])) for seg in speech]
    owner = [j if gap(seg, cues[j]) <= max_gap_s else None for seg, j in zip(speech, owner)]
    spans = {j: [seg for seg, o in zip(speech, owner) if o == j] for j in set(owner) - {None}}
    texts: dict[int, list[str]] = {}
    alone = []
    for j, cue in enumerate(cues):
        if j in spans:
            host = j
        else:
            near = [i for i, seg in enumerate(speech) if owner[i] is not None
                    and gap(seg, cue) <= max_gap_s]
            host = owner[min(near, key=lambda i: gap(speech[i], cue))] if near else None
        if host is None:
            alone.append(cue)
        else:
            texts.setdefault(host, []).append(cue.text)
    lines = sorted([Segment(min(s.start for s in spans[j]), max(s.end for s in spans[j]),
                            " ".join(texts[j])) for j in texts] + alone, key=lambda s: s.start)
    for i in range(len(lines) - 1):  # a line ends where the next one starts
        if lines[i].end > lines[i + 1].start:
            lines[i] = Segment(lines[i].start, max(lines[i].start, lines[i + 1].start), lines[i].text)
    return [line for line in lines if line.duration > 0]


def clip_to_duration(segments: Iterable[Segment], duration: float,
                     min_seconds: float = MIN_SEGMENT_S) -> list[Segment]:
    """Segments within ``[0, duration]``: one starting at or after the end is dropped, one
    running past it is cut there, and one left shorter than ``min_seconds`` or without text is
    dropped (Whisper times speech past the end of short audio; a subtitle file can outlast its
    video). A segment outside the track would give the dub stages empty audio to work on."""
    out = []
    for seg in segments:
        start, end = max(0.0, seg.start), min(seg.end, duration)
        if end - start >= min_seconds and seg.text.strip():
            out.append(Segment(round(start, 3), round(end, 3), seg.text.strip()))
    return out


def save_segments(path: str | Path, segments: list[Segment]) -> None:
    Path(path).write_text(json.dumps([asdict(s) for s in segments], ensure_ascii=False, indent=1))


def load_segments(path: str | Path) -> list[Segment]:
    return [Segment(**d) for d in json.loads(Path(path).read_text())]
