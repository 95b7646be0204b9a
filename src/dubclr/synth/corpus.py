"""The bundled synthetic dubbed corpus: titles with shots, sound beds, dialogue in several
languages (espeak-ng), one MKV per title with a language-tagged audio stream per language,
stems, subtitles and one `labels.json` (layout in docs/architecture.md).

Everything a title holds is drawn from `numpy.random.default_rng([seed, title_index])`, so
titles can be built in any order by a process pool and the labels are byte-identical for a
seed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from dubclr.errors import ConfigError, DubclrError
from dubclr.media.languages import language_name, to_iso639_2
from dubclr.media.writer import AudioTrack, write_audio, write_title
from dubclr.progress import progress
from dubclr.synth.dialogue import mouth_openings, speech_track, write_srt
from dubclr.synth.phrasebook import LANGUAGES as PHRASEBOOK_LANGUAGES
from dubclr.synth.phrasebook import PHRASES
from dubclr.synth.plan import TitlePlan, plan_toy_title
from dubclr.synth.scenes import SCENE_CLASSES, ShotRenderer
from dubclr.synth.sounds import SOUND_CLASSES, render_bed
from dubclr.synth.study_world import plan_study_title, world_label

LABELS_VERSION = 1
WORLDS = ("toy", "study")


@dataclass(frozen=True)
class CorpusOptions:
    """How a corpus is built. The defaults give titles of about a minute."""

    titles: int = 12
    seed: int = 0
    languages: tuple[str, ...] = ("en", "es", "fr", "ja")
    original_language: str = "en"
    shots: tuple[int, int] = (6, 12)  # shots per title, inclusive range
    shot_seconds: tuple[float, float] = (3.0, 12.0)
    title_seconds: float = 60.0  # aimed-at title length
    size: tuple[int, int] = (320, 180)  # width, height
    fps: int = 25
    sample_rate: int = 48000
    audio_codec: str = "flac"
    max_lines_per_shot: int = 2
    world: str = "toy"  # toy | study (the controlled study's premise: synth/study_world.py)
    track_order: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        _validate(self)
        order = (self.original_language,) + tuple(
            lang for lang in self.languages if lang != self.original_language)
        object.__setattr__(self, "track_order", order)


def build_corpus(out_dir: str | Path, titles: int = 12, seed: int = 0,
                 languages: tuple[str, ...] | list[str] = ("en", "es", "fr", "ja"), *,
                 jobs: int | None = None, overwrite: bool = False, show_progress: bool = True,
                 **options) -> Path:
    """Build the corpus into `out_dir`; returns the path of its `labels.json`.

    `options` are the other `CorpusOptions` fields (shots, shot_seconds, title_seconds, size,
    fps, sample_rate, original_language, audio_codec, max_lines_per_shot, world).
    """
    opts = CorpusOptions(titles=titles, seed=seed, languages=tuple(languages),
                         **_tuples(options))
    out = Path(out_dir)
    _prepare_folder(out, overwrite)
    jobs = max(1, min(jobs or os.cpu_count() or 1, opts.titles))
    labels: list[dict | None] = [None] * opts.titles
    # espeak-ng carries hidden state from one utterance to the next, so a title is only
    # reproducible when it is spoken by a fresh process: one worker process per title.
    with _title_pool(jobs) as pool:
        work = pool.imap_unordered(_build_title_job, [(opts, i, out) for i in range(opts.titles)])
        for index, label in progress(work, total=opts.titles, desc="synth corpus", unit="title",
                                     disable=None if show_progress else True):
            labels[index] = label
    document = {
        "version": LABELS_VERSION, "seed": opts.seed, "languages": list(opts.languages),
        "scene_classes": list(SCENE_CLASSES), "sound_classes": list(SOUND_CLASSES),
        "world": world_label() if opts.world == "study" else {"name": "toy"},
        "build": {k: v for k, v in asdict(opts).items() if k not in ("seed", "track_order")},
        "titles": labels,
    }
    path = out / "labels.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n",
                         encoding="utf-8")
    temporary.replace(path)
    return path


def _title_pool(jobs: int):
    """A pool whose workers each build one title, forked from a clean server (spawned on
    platforms without fork), never from this process and its torch or espeak-ng state."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        context.set_forkserver_preload(["dubclr.synth.corpus"])
    return context.Pool(processes=jobs, maxtasksperchild=1)


def _build_title_job(args: tuple) -> tuple[int, dict]:
    opts, index, out = args
    return index, build_title(opts, index, out)


def build_title(opts: CorpusOptions, index: int, out: Path) -> dict:
    """Plan, render, speak and write one title; returns its entry of `labels.json`."""
    rng = np.random.default_rng([opts.seed, index])
    name = f"title_{index:03d}"
    fps, rate = opts.fps, opts.sample_rate
    plan = plan_study_title(rng, opts) if opts.world == "study" else plan_toy_title(rng, opts)
    shots, lines = plan.shots, plan.lines
    num_frames = plan.num_frames
    num_samples = num_frames * rate // fps

    bed = np.concatenate([
        render_bed(shot["sound"], (shot["end_frame"] - shot["start_frame"]) / fps, rate,
                   np.random.default_rng([opts.seed, index, shot["index"], 1]))
        for shot in shots])[:num_samples]
    bed = np.pad(bed, (0, num_samples - len(bed)))
    speech = {lang: speech_track(lines, lang, num_samples, rate) for lang in opts.track_order}
    mouths = {i: mouth_openings(speech_track(lines, opts.original_language, num_samples, rate,
                                             speaker=s.id), rate, fps, num_frames)
              for i, s in enumerate(plan.speakers)}

    stems_dir = out / "stems" / name
    write_audio(stems_dir / "background.wav", bed, rate)
    if opts.world == "study":  # the speech-removed track, where `dubclr index` looks first
        write_audio(out / f"{name}.separated.flac", bed, rate)
    for lang in opts.track_order:
        write_audio(stems_dir / f"speech.{lang}.wav", speech[lang], rate)
        write_srt(out / f"{name}.{lang}.srt", lines, lang, rate)
    tracks = [AudioTrack(np.clip(bed + speech[lang], -1, 1), rate, language=to_iso639_2(lang),
                         codec=opts.audio_codec, default=lang == opts.original_language,
                         title=f"{language_name(lang)} "
                               f"({'original' if lang == opts.original_language else 'dub'})")
              for lang in opts.track_order]
    width, height = opts.size
    write_title(out / f"{name}.mkv", _frames(plan, mouths, width, height), fps, tracks,
                metadata={"title": name})
    return _title_label(name, opts, plan)


def _frames(plan: TitlePlan, mouths, width, height):
    for shot, look in zip(plan.shots, plan.looks):
        length = shot["end_frame"] - shot["start_frame"]
        renderer = ShotRenderer(look, width, height, length, shot["speakers_idx"],
                                plan.face_colours, plan.faces)
        for k in range(length):
            g = shot["start_frame"] + k
            yield renderer.frame(k, {i: float(mouths[i][g]) for i in shot["speakers_idx"]})


def _title_label(name, opts, plan: TitlePlan) -> dict:
    rate = opts.sample_rate
    speakers, shots = plan.speakers, plan.shots
    extra = plan.speaker_labels or [{} for _ in speakers]
    label = {
        "id": name, "file": f"{name}.mkv", "duration": shots[-1]["end"],
        "original_language": opts.original_language,
        "speakers": [{**s.label(), **more} for s, more in zip(speakers, extra)],
        "shots": [{"index": s["index"], "start": s["start"], "end": s["end"], "scene": s["scene"],
                   "sound": s["sound"], "speakers": [speakers[i].id for i in s["speakers_idx"]],
                   **({"location": s["location"], "partner": speakers[s["partner"]].id}
                      if "location" in s else {})}
                  for s in shots],
        "dialogue": [{"shot": line.shot, "speaker": line.speaker, "phrase": line.phrase,
                      "text": {lang: PHRASES[line.phrase][lang] for lang in opts.track_order},
                      "segments": {lang: [round(x, 3) for x in line.segment(lang, rate)]
                                   for lang in opts.track_order}}
                     for line in plan.lines],
        "stems": {"background": f"stems/{name}/background.wav",
                  "speech": {lang: f"stems/{name}/speech.{lang}.wav" for lang in opts.track_order}},
        "subtitles": {lang: f"{name}.{lang}.srt" for lang in opts.track_order},
    }
    if opts.world == "study":
        label["separated"] = f"{name}.separated.flac"
    return label


def _validate(opts: CorpusOptions) -> None:
    if opts.world not in WORLDS:
        raise ConfigError(f"world must be one of {', '.join(WORLDS)}, got {opts.world!r}")
    unknown = [lang for lang in opts.languages if lang not in PHRASEBOOK_LANGUAGES]
    if unknown or not opts.languages:
        raise ConfigError(f"languages {unknown or '[]'} not available; choose from "
                          f"{', '.join(PHRASEBOOK_LANGUAGES)}")
    if len(set(opts.languages)) != len(opts.languages):
        raise ConfigError(f"languages repeat: {','.join(opts.languages)}")
    if opts.original_language not in opts.languages:
        raise ConfigError(f"original_language '{opts.original_language}' must be one of the "
                          f"languages {','.join(opts.languages)}")
    if opts.titles < 1:
        raise ConfigError(f"titles must be >= 1, got {opts.titles}")
    if not 1 <= opts.shots[0] <= opts.shots[1]:
        raise ConfigError(f"shots must be a range 1 <= min <= max, got {opts.shots}")
    if not 0.5 <= opts.shot_seconds[0] <= opts.shot_seconds[1]:
        raise ConfigError(f"shot_seconds must be a range 0.5 <= min <= max, got {opts.shot_seconds}")
    width, height = opts.size
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise ConfigError(f"size must be even and at least 32x32 (H.264 4:2:0), got {width}x{height}")
    if opts.fps < 1 or opts.sample_rate < 1:
        raise ConfigError(f"fps and sample_rate must be positive, got {opts.fps} and "
                          f"{opts.sample_rate}")
    if opts.sample_rate % opts.fps:
        raise ConfigError(f"sample_rate {opts.sample_rate} must be a multiple of fps {opts.fps}")


def _tuples(options: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


def _prepare_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise DubclrError(f"{out} is a file; give a folder for the corpus")
    if out.exists() and any(out.iterdir()):
        if not (out / "labels.json").exists():
            raise DubclrError(f"{out} is not empty and holds no corpus; choose a new or empty "
                              f"folder (nothing was written)")
        if not overwrite:
            raise DubclrError(f"{out} already holds a corpus (labels.json); pass --force "
                              f"(overwrite=True) to rebuild it, or choose another folder")
        for old in [*out.glob("title_*.mkv"), *out.glob("title_*.srt"),
                    *out.glob("title_*.separated.flac")]:
            old.unlink()
        shutil.rmtree(out / "stems", ignore_errors=True)
        (out / "labels.json").unlink()
    out.mkdir(parents=True, exist_ok=True)
