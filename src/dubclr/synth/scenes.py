"""Procedural scenes: cheap numpy pictures, one look per scene class.

A shot renders a static backdrop once (wider than the frame, so the camera can pan), then per
frame adds a moving element and the speakers' faces, whose mouths open with their speech.
Brightness, texture grain and palette vary per shot so a cut detector sees every cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import zoom

SCENE_CLASSES = ("forest", "city_street", "beach", "rainy_window", "chapel", "market", "stage",
                 "desert")

# base sky/ground colours (RGB 0-1) per scene
_PALETTES = {
    "forest": ((0.35, 0.55, 0.35), (0.12, 0.30, 0.10)),
    "city_street": ((0.60, 0.65, 0.72), (0.30, 0.30, 0.32)),
    "beach": ((0.45, 0.70, 0.95), (0.90, 0.82, 0.58)),
    "rainy_window": ((0.30, 0.34, 0.42), (0.18, 0.20, 0.26)),
    "chapel": ((0.45, 0.30, 0.18), (0.28, 0.18, 0.10)),
    "market": ((0.95, 0.80, 0.55), (0.55, 0.40, 0.30)),
    "stage": ((0.05, 0.04, 0.10), (0.20, 0.08, 0.08)),
    "desert": ((0.95, 0.75, 0.45), (0.85, 0.60, 0.30)),
}
_SPEAKER_COLOURS = ((0.95, 0.78, 0.62), (0.70, 0.50, 0.35), (0.85, 0.65, 0.75))


@dataclass(frozen=True)
class ShotLook:
    """The per-shot parameters drawn from the title's random generator."""

    scene: str
    brightness: float  # multiplies the picture
    grain: float  # texture amplitude
    grain_scale: int  # texture cell size in pixels
    tint: tuple[float, float, float]
    pan: float  # camera pan, pixels per frame
    seed: int


def draw_look(rng: np.random.Generator, scene: str, previous: ShotLook | None) -> ShotLook:
    """Parameters of a new shot, clearly different in brightness from the previous one."""
    brightness = float(rng.uniform(0.55, 1.35))
    if previous is not None and abs(brightness - previous.brightness) < 0.25:
        brightness = previous.brightness + (0.3 if previous.brightness < 0.95 else -0.3)
    return ShotLook(scene=scene, brightness=round(brightness, 3),
                    grain=round(float(rng.uniform(0.04, 0.18)), 3),
                    grain_scale=int(rng.choice([2, 4, 8, 16])),
                    tint=tuple(round(float(x), 3) for x in rng.uniform(0.85, 1.15, size=3)),
                    pan=round(float(rng.uniform(-1.5, 1.5)), 2), seed=int(rng.integers(2**31)))


@dataclass(frozen=True)
class FaceLayout:
    """Where faces go: `radius` as a fraction of the height; faces are spread evenly over
    the central `span` of the width (1: the whole width, the toy world's wide shots)."""

    radius: float = 0.16
    span: float = 1.0


class ShotRenderer:
    """Renders the frames of one shot: `frame(k, mouths)` -> uint8 `(H, W, 3)`."""

    def __init__(self, look: ShotLook, width: int, height: int, num_frames: int,
                 speakers: list[int],
                 face_colours: Sequence[tuple[float, float, float]] | None = None,
                 faces: FaceLayout | None = None) -> None:
        """`face_colours[i]` is speaker i's face (default: three fixed colours by index)."""
        self.look, self.width, self.height = look, width, height
        self.face_colours = tuple(face_colours) if face_colours else _SPEAKER_COLOURS
        self.faces = faces or FaceLayout()
        self.rng = np.random.default_rng(look.seed)
        margin = int(abs(look.pan) * num_frames) + 2
        self.backdrop = self._backdrop(width + margin, height)
        self.offset0 = 0 if look.pan >= 0 else margin
        self.speakers = speakers
        self.yy, self.xx = np.mgrid[0:height, 0:width].astype(np.float32)

    def frame(self, k: int, mouths: dict[int, float]) -> np.ndarray:
        """Frame `k`; `mouths` maps speaker index -> mouth opening in [0, 1]."""
        x0 = int(round(self.offset0 + self.look.pan * k))
        x0 = min(max(x0, 0), self.backdrop.shape[1] - self.width)
        image = self.backdrop[:, x0:x0 + self.width].copy()
        self._moving_element(image, k)
        for slot, speaker in enumerate(self.speakers):
            self._face(image, slot, len(self.speakers), speaker, mouths.get(speaker, 0.0))
        image *= self.look.brightness
        return np.clip(image * 255.0, 0, 255).astype(np.uint8)

    def _backdrop(self, width: int, height: int) -> np.ndarray:
        sky, ground = (np.array(c, dtype=np.float32) for c in _PALETTES[self.look.scene])
        t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        horizon = 0.55
        image = np.where(t < horizon, sky * (0.8 + 0.4 * t), ground * (1.1 - 0.4 * (t - horizon)))
        image = np.broadcast_to(image, (height, width, 3)).copy()
        self._scene_shapes(image)
        image *= np.array(self.look.tint, dtype=np.float32)
        cell = self.look.grain_scale
        coarse = self.rng.standard_normal((height // cell + 2, width // cell + 2)).astype(np.float32)
        grain = zoom(coarse, cell, order=1)[:height, :width]
        image += self.look.grain * grain[:, :, None]
        return image

    def _scene_shapes(self, image: np.ndarray) -> None:
        h, w, _ = image.shape
        rng, scene = self.rng, self.look.scene
        if scene == "forest":
            for x in rng.integers(0, w, size=w // 12):
                width = int(rng.integers(3, 9))
                image[: int(h * 0.8), x:x + width] = (0.25, 0.16, 0.08)
        elif scene == "city_street":
            x = 0
            while x < w:
                bw, bh = int(rng.integers(20, 50)), int(rng.integers(h // 4, int(h * 0.6)))
                shade = float(rng.uniform(0.3, 0.6))
                image[int(h * 0.55) - bh:int(h * 0.55), x:x + bw - 2] = (shade, shade, shade + 0.05)
                x += bw
        elif scene == "beach":
            image[int(h * 0.45):int(h * 0.6)] = (0.10, 0.35, 0.65)
        elif scene == "rainy_window":
            for x in range(0, w, 40):
                image[:, x:x + 3] = (0.1, 0.1, 0.12)
        elif scene == "chapel":
            cx = w / 2
            yy, xx = np.mgrid[0:h, 0:w]
            arch = ((xx - cx) ** 2 / (0.18 * w) ** 2 + (yy - h * 0.35) ** 2 / (0.3 * h) ** 2) < 1
            image[arch | ((np.abs(xx - cx) < 0.18 * w) & (yy > h * 0.35))] = (0.85, 0.70, 0.40)
        elif scene == "market":
            for x in range(0, w, 24):
                image[int(h * 0.3):int(h * 0.45), x:x + 20] = rng.uniform(0.2, 1.0, size=3)
        elif scene == "stage":
            image[int(h * 0.75):] = (0.35, 0.20, 0.10)
        elif scene == "desert":
            xs = np.arange(w)
            for amplitude, level in ((0.05, 0.6), (0.08, 0.75)):
                crest = (h * (level + amplitude * np.sin(xs / w * 6 * np.pi + rng.uniform(0, 6))))
                below = np.arange(h)[:, None] > crest[None, :]
                image[below] = image[below] * 0.85 + np.float32(0.1)

    def _moving_element(self, image: np.ndarray, k: int) -> None:
        h, w, _ = image.shape
        scene = self.look.scene
        if scene == "rainy_window":
            streak = ((self.xx + 3 * self.yy - 9 * k) % 23) < 1.2
            image[streak] = image[streak] * 0.6 + 0.35
        elif scene == "stage":
            cx = w * (0.5 + 0.35 * np.sin(k / 20.0))
            spot = (self.xx - cx) ** 2 + (self.yy - h * 0.6) ** 2 < (0.18 * h) ** 2
            image[spot] += 0.45
        elif scene == "city_street":
            x = int((k * 4) % (w + 40)) - 40
            image[int(h * 0.78):int(h * 0.9), max(x, 0):max(x + 40, 0)] = (0.7, 0.1, 0.1)
        elif scene == "beach":
            crest = (h * (0.6 + 0.02 * np.sin(self.xx[0] / 15.0 + k / 5.0))).astype(int)
            image[np.clip(crest, 0, h - 1), np.arange(w)] = (0.95, 0.95, 1.0)
        elif scene == "chapel":
            image[int(h * 0.6):int(h * 0.6) + 4, w // 2 - 1:w // 2 + 2] = 0.8 + 0.2 * np.sin(k)
        elif scene == "forest":
            y = int(h * 0.2 + 10 * np.sin(k / 7.0))
            x = int((k * 3) % w)
            image[y:y + 3, x:x + 5] = (0.1, 0.1, 0.1)
        elif scene == "market":
            x = int((w - k * 2) % w)
            image[int(h * 0.6):int(h * 0.85), x:x + 10] = (0.2, 0.2, 0.6)
        elif scene == "desert":
            image[int(h * 0.12):int(h * 0.12) + 14, int(w * 0.8):int(w * 0.8) + 14] = (1.0, 0.95, 0.6)

    def _face(self, image: np.ndarray, slot: int, count: int, speaker: int, opening: float) -> None:
        h, w, _ = image.shape
        cx = w * (0.5 + self.faces.span * ((slot + 1) / (count + 1) - 0.5))
        cy, radius = h * 0.62, h * self.faces.radius
        x0, x1 = int(max(cx - radius, 0)), int(min(cx + radius + 1, w))
        y0, y1 = int(max(cy - radius, 0)), int(min(cy + radius + 1, h))
        yy, xx = self.yy[y0:y1, x0:x1], self.xx[y0:y1, x0:x1]
        patch = image[y0:y1, x0:x1]
        head = (xx - cx) ** 2 + (yy - cy) ** 2 < radius ** 2
        patch[head] = self.face_colours[speaker % len(self.face_colours)]
        for ex in (-0.35, 0.35):  # eyes
            eye = (xx - cx - ex * radius) ** 2 + (yy - cy + 0.3 * radius) ** 2 < (0.1 * radius) ** 2
            patch[eye] = (0.05, 0.05, 0.05)
        half_height = 0.04 * radius + 0.3 * radius * float(np.clip(opening, 0.0, 1.0))
        mouth = ((xx - cx) / (0.38 * radius)) ** 2 + ((yy - cy - 0.4 * radius) / half_height) ** 2 < 1
        patch[mouth] = (0.35, 0.02, 0.05)
