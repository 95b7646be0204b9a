"""How a file is cut into fixed-length clips for embedding: the authors' tail rule.

Audio windows are counted in samples at the file's own rate; video windows in seconds,
measured up to the timestamp of the last frame (not the container duration). Full clips
are laid end to end from the start; a leftover tail longer than half a clip gets one more
clip that ends exactly at the end (so it overlaps the previous one). A file shorter than
one clip becomes a single short window. Worked examples live in
``tests/fixtures/mvit_parity/clip_windows.json``.
"""

from __future__ import annotations

CLIP_SECONDS = 3.0


def audio_windows(num_samples: int, sample_rate: int,
                  clip_seconds: float = CLIP_SECONDS) -> list[tuple[int, int]]:
    """Half-open sample ranges ``[start, end)``; empty for files of fewer than 2 samples."""
    if num_samples < 2:
        return []
    clip = clip_seconds * sample_rate  # float, like the reference
    windows: list[tuple[int, int]] = []
    i = 0
    while (i + 1) * clip < num_samples:
        windows.append((int(i * clip), int((i + 1) * clip)))
        i += 1
    if not windows:
        return [(0, num_samples)]
    if num_samples - windows[-1][1] > int(clip / 2):
        windows.append((num_samples - int(clip), num_samples))
    return windows


def video_windows(last_frame_pts: float,
                  clip_seconds: float = CLIP_SECONDS) -> list[tuple[float, float]]:
    """``(start, end)`` in seconds, given the presentation time of the last frame."""
    windows: list[tuple[float, float]] = []
    t = 0.0
    while t + clip_seconds < last_frame_pts:
        windows.append((t, t + clip_seconds))
        t += clip_seconds
    if not windows:
        return [(0.0, float(last_frame_pts))]
    if last_frame_pts - windows[-1][1] > clip_seconds / 2:
        windows.append((last_frame_pts - clip_seconds, float(last_frame_pts)))
    return windows
