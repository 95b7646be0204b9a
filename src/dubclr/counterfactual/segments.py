"""Timed speech segments and the subtitle files (SRT / WebVTT) they come from."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from dubclr.errors import DubclrError
from dubclr.media.subtitles import format_srt as media_format_srt

SUBTITLE_EXTENSIONS = (".srt", ".vtt")
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


def match_translations(source: list[Segment], target: list[Segment]) -> list[Segment]:
    """Give each source segment the target-language text of the cues that overlap it most.

    Subtitles of two languages are timed separately; a target cue goes to the source segment
    it overlaps longest (or the nearest one), so cue counts may differ.
    """
    texts: list[list[str]] = [[] for _ in source]
    for cue in target:
        overlaps = [min(cue.end, s.end) - max(cue.start, s.start) for s in source]
        if not overlaps:
            break
        best = max(range(len(source)), key=lambda i: overlaps[i])
        if overlaps[best] <= 0:
            mid = (cue.start + cue.end) / 2
            best = min(range(len(source)), key=lambda i: abs((source[i].start + source[i].end) / 2 - mid))
        texts[best].append(cue.text)
    return [Segment(s.start, s.end, " ".join(t)) for s, t in zip(source, texts)]


def save_segments(path: str | Path, segments: list[Segment]) -> None:
    Path(path).write_text(json.dumps([asdict(s) for s in segments], ensure_ascii=False, indent=1))


def load_segments(path: str | Path) -> list[Segment]:
    return [Segment(**d) for d in json.loads(Path(path).read_text())]
