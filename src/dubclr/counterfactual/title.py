"""One title through every stage, each stage's output cached under ``OUT/cache/<title>/``."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dubclr.config import to_dict
from dubclr.counterfactual import stages
from dubclr.counterfactual.audio import read_wav, write_wav
from dubclr.counterfactual.cache import StageCache, file_identity, stage_key
from dubclr.counterfactual.config import CounterfactualConfig
from dubclr.counterfactual.manifest import append_record
from dubclr.counterfactual.metrics import leakage_db, track_figures
from dubclr.counterfactual.mux import mux_title, track_title
from dubclr.counterfactual.remix import place_segments, remix
from dubclr.counterfactual.segments import (
    clip_to_duration,
    find_sidecar,
    load_segments,
    save_segments,
)
from dubclr.errors import DubclrError


class StageFailedError(DubclrError):
    """A stage raised on one title: that title fails (reason in the manifest), the run goes on."""


STAGES = ("separate", "transcribe", "translate", "synthesize", "align", "voice", "master",
          "remix", "mux")


@dataclass
class TitleJob:
    video: Path
    source: str  # the original track's language
    track_index: int  # position in probe(video).audio
    stream_index: int | None  # stream in the video file, None for a sidecar
    duration: float  # the original track's duration (s)


@dataclass
class TitleRun:
    """State of one title's run: where things go and which stages must be redone."""

    job: TitleJob
    cfg: CounterfactualConfig
    out_dir: Path
    force: frozenset[str] = frozenset()
    computed: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.title = self.job.video.stem
        self.cache = StageCache(self.out_dir / "cache")
        self.manifest = self.out_dir / "manifest.jsonl"
        self.rate = self.cfg.sample_rate
        self.length = int(round(self.job.duration * self.rate))

    def stage(self, stage: str, lang: str | None, params: dict, upstream: list[str],
              inputs: list[str], compute: Callable[[Path], dict], *,
              redo: bool = False) -> tuple[str, Path]:
        """Run ``compute(folder)`` unless an entry with the same key is done (and neither
        forced nor ``redo``). An error inside ``compute`` fails this title, not the run."""
        name = stage if lang is None else f"{stage}.{lang}"
        key = stage_key(name, params, upstream, inputs)
        if self.cache.is_done(self.title, name, key) and stage not in self.force and not redo:
            return key, self.cache.path(self.title, name, key)
        began = time.perf_counter()
        meta = {"stage": stage, "language": lang, "params": params, "upstream": upstream}
        try:
            with self.cache.write(self.title, name, key, meta) as folder:
                meta["figures"] = compute(folder)
        except DubclrError:
            raise
        except Exception as exc:  # a model library's own error: name the title and stage
            where = "".join(traceback.format_exception(exc, limit=-3)).strip()
            raise StageFailedError(f"{self.job.video}: stage {name} failed: "
                                   f"{type(exc).__name__}: {exc}\n{where}") from exc
        seconds = round(time.perf_counter() - began, 3)
        self.computed.append(name)
        append_record(self.manifest, {"kind": "stage", "title": self.title, "stage": stage,
                                      "language": lang, "key": key, "seconds": seconds,
                                      "path": str(self.cache.path(self.title, name, key)),
                                      "params": params, "figures": meta["figures"]})
        return key, self.cache.path(self.title, name, key)

    def figures(self, stage: str, lang: str | None, key: str) -> dict:
        """What a finished stage recorded (its ``figures``)."""
        name = stage if lang is None else f"{stage}.{lang}"
        return self.cache.meta(self.title, name, key)["figures"]


def _params(cfg: CounterfactualConfig, *sections: str) -> dict:
    return {"sample_rate": cfg.sample_rate, **{s: to_dict(getattr(cfg, s)) for s in sections}}


def _sidecar_ids(video: Path, langs: list[str]) -> list[str]:
    return [file_identity(p) for p in (find_sidecar(video, lang) for lang in langs) if p]


def _segment_files(folder: Path, parts: list[np.ndarray], rate: int) -> None:
    for i, samples in enumerate(parts):
        write_wav(folder / f"seg_{i:04d}.wav", samples, rate)


def _read_segments(folder: Path, count: int) -> list[np.ndarray]:
    return [read_wav(folder / f"seg_{i:04d}.wav")[0] for i in range(count)]


def run_title(run: TitleRun) -> dict:
    """All stages for one title; returns its output record (also appended to the manifest)."""
    from dubclr.media import read_audio

    job, cfg, rate = run.job, run.cfg, run.rate
    video_id = file_identity(job.video)

    def do_separate(folder: Path) -> dict:
        mixture = read_audio(job.video, 0.0, job.duration, track=job.track_index,
                             sample_rate=rate, mono=True)
        speech, background, info = stages.separate(job.video, mixture, job.source, cfg)
        write_wav(folder / "speech.wav", speech, rate)
        write_wav(folder / "background.wav", background, rate)
        return info

    stem_ids = []
    if cfg.separate.backend == "stems":
        folder = stages.stems_folder(job.video)
        stem_ids = [file_identity(p) for p in sorted(folder.glob("*.wav"))]
    sep_key, sep_dir = run.stage("separate", None, {**_params(cfg, "separate"), "source": job.source,
                                 "track": job.track_index}, [], [video_id, *stem_ids], do_separate)
    speech, _ = read_wav(sep_dir / "speech.wav")
    background, _ = read_wav(sep_dir / "background.wav")

    def do_transcribe(folder: Path) -> dict:
        segments = clip_to_duration(stages.transcribe(job.video, speech, job.source, cfg),
                                    job.duration)
        save_segments(folder / "segments.json", segments)
        return {"segments": len(segments)}

    tr_key, tr_dir = run.stage("transcribe", None, _params(cfg, "transcribe"), [sep_key],
                               _sidecar_ids(job.video, [job.source]), do_transcribe)
    source_segments = load_segments(tr_dir / "segments.json")

    dubs, figures, remix_keys = {}, {}, []
    for lang in (lang for lang in cfg.languages if lang != job.source):
        dubs[lang], figures[lang], key = _dub_language(run, lang, sep_key, tr_key, source_segments,
                                                       speech, background)
        remix_keys.append(key)

    out_path = run.out_dir / "titles" / f"{run.title}.mkv"

    def do_mux(folder: Path) -> dict:
        original = None
        if job.stream_index is None:
            original = read_audio(job.video, 0.0, job.duration, track=job.track_index,
                                  sample_rate=rate, mono=True)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        titles = {lang: track_title(lang, job.source, figures[lang].get("translation"))
                  for lang in dubs}
        mux_title(job.video, out_path, original_stream_index=job.stream_index,
                  original_language=job.source, original_samples=original, rate=rate, dubs=dubs,
                  titles=titles)
        if cfg.remix.write_separated:
            from dubclr.media.writer import write_audio

            separated = out_path.with_name(f"{run.title}.separated.flac")
            tmp = separated.with_name(f".{separated.name}.tmp.flac")
            write_audio(tmp, background, rate)
            tmp.replace(separated)
        return {"output": str(out_path), "identity": file_identity(out_path)}

    mux_params = {"languages": sorted(dubs), "source": job.source,
                  "separated": cfg.remix.write_separated}
    mux_key = stage_key("mux", mux_params, remix_keys, [video_id])
    stale = False  # the output was removed or changed since it was written: write it again
    if run.cache.is_done(run.title, "mux", mux_key):
        identity = run.figures("mux", None, mux_key).get("identity")
        stale = not out_path.is_file() or file_identity(out_path) != identity
    run.stage("mux", None, mux_params, remix_keys, [video_id], do_mux, redo=stale)
    if "mux" not in run.computed:
        return {"kind": "output", "title": run.title, "output": str(out_path), "cached": True}
    return _output_record(run, out_path, figures)


def _dub_language(run: TitleRun, lang: str, sep_key: str, tr_key: str, source_segments,
                  speech, background):
    """The dubbed track of one language: its lines (timed to the speech they replace) through
    synthesize -> align -> voice -> master -> remix."""
    job, cfg, rate = run.job, run.cfg, run.rate

    def do_translate(folder: Path) -> dict:
        lines, info = stages.translate(job.video, source_segments, job.source, lang, cfg)
        save_segments(folder / "segments.json", lines)
        return {**info, "lines": len(lines), "empty": sum(1 for s in lines if not s.text.strip())}

    tl_key, tl_dir = run.stage("translate", lang, _params(cfg, "translate"), [tr_key],
                               _sidecar_ids(job.video, [lang]), do_translate)
    lines = load_segments(tl_dir / "segments.json")
    count = len(lines)
    references = [speech[a:b] for a, b in (stages.span(s, rate) for s in lines)]

    def do_synthesize(folder: Path) -> dict:
        parts = [stages.synthesize(seg, ref, lang, cfg) for seg, ref in zip(lines, references)]
        _segment_files(folder, parts, rate)
        return {"seconds": [round(len(p) / rate, 3) for p in parts]}

    sy_key, sy_dir = run.stage("synthesize", lang, _params(cfg, "synthesize", "translate"),
                               [tl_key, sep_key], [], do_synthesize)

    def per_segment(fn, src_dir: Path, with_refs: bool):
        def compute(folder: Path) -> dict:
            parts, infos = [], []
            for i, (samples, seg) in enumerate(zip(_read_segments(src_dir, count), lines)):
                out, info = fn(samples, references[i] if with_refs else seg, cfg)
                parts.append(out)
                infos.append(info)
            _segment_files(folder, parts, rate)
            return {"segments": infos}
        return compute

    al_key, al_dir = run.stage("align", lang, _params(cfg, "align"), [sy_key], [],
                               per_segment(stages.align, sy_dir, with_refs=False))
    vo_key, vo_dir = run.stage("voice", lang, _params(cfg, "voice"), [al_key, sep_key], [],
                               per_segment(stages.voice_match, al_dir, with_refs=True))
    ma_key, ma_dir = run.stage("master", lang, _params(cfg, "master"), [vo_key, sep_key], [],
                               per_segment(stages.master, vo_dir, with_refs=True))

    def do_remix(folder: Path) -> dict:
        parts = _read_segments(ma_dir, count)
        dub_speech = place_segments([(stages.span(s, rate)[0], p) for s, p in zip(lines, parts)],
                                    run.length)
        mix, info = remix(background, dub_speech, cfg.remix.peak_dbfs)
        write_wav(folder / "dub.wav", mix, rate)
        write_wav(folder / "dub_speech.wav", dub_speech, rate)
        actions = [a.get("action") for a in run.figures("align", lang, al_key)["segments"]]
        info.update(track_figures(dub_speech, speech, background, rate, lines))
        info["flagged_segments"] = sum(1 for a in actions if a != "stretch")
        info["lines_trimmed"] = actions.count("trim")
        info["segments"] = count
        info["translation"] = run.figures("translate", lang, tl_key).get("translation")
        reference = stages.reference_speech(job.video, job.source, rate, run.length)
        info["leakage_db"] = None if reference is None else leakage_db(mix, reference)
        return info

    re_key, re_dir = run.stage("remix", lang, _params(cfg, "remix"), [ma_key, sep_key, tl_key],
                               [], do_remix)
    return read_wav(re_dir / "dub.wav")[0], run.figures("remix", lang, re_key), re_key


def _output_record(run: TitleRun, out_path: Path, figures: dict) -> dict:
    from dubclr.media import probe

    info = probe(out_path)
    original = next((t for t in info.audio if t.default), info.audio[0])
    tracks = {}
    for track in info.audio:
        if track is original or track.language not in figures:
            continue
        tracks[track.language] = {**figures[track.language],
                                  "duration_error_s": round(abs(track.duration - original.duration), 4)}
    record = {"kind": "output", "title": run.title, "input": str(run.job.video),
              "output": str(out_path), "source_language": run.job.source,
              "duration": run.job.duration, "languages": sorted(tracks), "tracks": tracks,
              "stages_computed": run.computed, "params": to_dict(run.cfg)}
    append_record(run.manifest, record)
    return record
