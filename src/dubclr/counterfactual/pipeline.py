"""``dubclr counterfactual run``: find titles, check everything, then dub each title.

Titles are processed whole by one worker (``jobs`` processes on one machine); ``shard=(i, n)``
keeps every n-th title starting at i (sorted by path), for cluster array jobs that share OUT.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from dubclr.config import from_dict, to_dict
from dubclr.counterfactual.cache import StageCache
from dubclr.counterfactual.config import CounterfactualConfig
from dubclr.counterfactual.manifest import append_record
from dubclr.counterfactual.preflight import check_backends, check_inputs
from dubclr.counterfactual.title import STAGES, TitleJob, TitleRun, run_title
from dubclr.errors import ConfigError, DubclrError
from dubclr.progress import progress


@dataclass
class RunSummary:
    outputs: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (video, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (video, error)


def parse_shard(text: str) -> tuple[int, int]:
    """'3/8' -> (3, 8); i counts from 0 like SLURM_ARRAY_TASK_ID."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected i/n, e.g. 0/4") from None
    if not 0 <= i < n:
        raise ConfigError(f"--shard {text!r}: need 0 <= i < n")
    return i, n


def forced_stages(stage: str | None) -> frozenset[str]:
    """The stage and every stage after it."""
    if stage is None:
        return frozenset()
    if stage not in STAGES:
        raise ConfigError(f"--force {stage!r}: not a stage; use one of {', '.join(STAGES)}")
    return frozenset(STAGES[STAGES.index(stage):])


def find_videos(input_dir: Path) -> list[Path]:
    """The videos of a folder (recursively, sorted; stems folders left out), or one file."""
    from dubclr.media import VIDEO_EXTENSIONS

    if input_dir.is_file():
        if input_dir.suffix.lower() not in VIDEO_EXTENSIONS:
            raise ConfigError(f"{input_dir}: not a video ({', '.join(sorted(VIDEO_EXTENSIONS))})")
        return [input_dir]
    if not input_dir.is_dir():
        raise ConfigError(f"{input_dir}: no such video file or folder of videos")
    return sorted(p for p in input_dir.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS
                  and p.is_file() and "stems" not in p.relative_to(input_dir).parts
                  and not p.name.startswith("."))


def check_unique_names(videos: list[Path]) -> None:
    """Outputs and cache entries are named by file stem: two inputs sharing one would
    overwrite each other's ``titles/<stem>.mkv``."""
    seen: dict[str, Path] = {}
    for video in videos:
        if video.stem in seen:
            raise ConfigError(f"{seen[video.stem]} and {video} would both be written as "
                              f"titles/{video.stem}.mkv (nothing was processed); rename one, "
                              "or run the folders separately with different --out")
        seen[video.stem] = video


def plan_jobs(videos: list[Path], cfg: CounterfactualConfig, summary: RunSummary) -> list[TitleJob]:
    """A job per video with exactly one audio track; the rest are skipped with a reason."""
    from dubclr.media import MediaError, probe

    jobs = []
    for video in videos:
        try:
            info = probe(video)
        except MediaError as exc:
            summary.skipped.append((str(video), str(exc)))
            continue
        if len(info.audio) != 1:
            summary.skipped.append((str(video), f"has {len(info.audio)} audio tracks; the pipeline "
                                                "dubs titles with exactly one"))
            continue
        track = info.audio[0]
        source = track.language if track.language != "und" else cfg.transcribe.source_language
        if not set(cfg.languages) - {source}:
            summary.skipped.append((str(video), f"its audio is already in {source!r}, the only "
                                                "target language; nothing to dub"))
            continue
        in_file = track.stream_index if Path(track.path) == Path(video) else None
        jobs.append(TitleJob(video, source, track.index, in_file, float(track.duration)))
    return jobs


def _work(job: TitleJob, cfg_dict: dict, out_dir: str, force: frozenset[str]) -> dict:
    cfg = from_dict(CounterfactualConfig, cfg_dict)
    return run_title(TitleRun(job, cfg, Path(out_dir), force))


def run_pipeline(input_dir: str | Path, out_dir: str | Path, cfg: CounterfactualConfig, *,
                 jobs: int = 1, shard: tuple[int, int] = (0, 1),
                 force: str | None = None) -> RunSummary:
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    summary = RunSummary()
    force_set = forced_stages(force)
    outputs = (out_dir / "titles").resolve()  # OUT may lie inside INPUT_DIR
    videos = [v for v in find_videos(input_dir) if not v.resolve().is_relative_to(outputs)]
    check_unique_names(videos)
    planned = plan_jobs(videos[shard[0]::shard[1]], cfg, summary)
    check_backends(cfg, {j.source for j in planned})
    check_inputs(cfg, [(j.video, j.source) for j in planned])
    out_dir.mkdir(parents=True, exist_ok=True)
    StageCache(out_dir / "cache").clean_temporaries([j.video.stem for j in planned])
    for video, why in summary.skipped:
        append_record(out_dir / "manifest.jsonl", {"kind": "skipped", "input": video, "reason": why})
    bar = progress(total=len(planned), desc="counterfactual dubs", unit="title")
    if jobs <= 1 or len(planned) <= 1:
        for job in planned:
            _collect(summary, out_dir, job, lambda j=job: run_title(TitleRun(j, cfg, out_dir, force_set)))
            bar.update()
    else:
        ctx = multiprocessing.get_context("spawn")  # torch and espeak state are per process
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = {pool.submit(_work, job, to_dict(cfg), str(out_dir), force_set): job
                       for job in planned}
            for fut in as_completed(futures):
                _collect(summary, out_dir, futures[fut], fut.result)
                bar.update()
    bar.close()
    return summary


def _collect(summary: RunSummary, out_dir: Path, job: TitleJob, result) -> None:
    """Record one title's result; a title that fails on bad input does not stop the others."""
    try:
        summary.outputs.append(result())
    except DubclrError as exc:
        summary.failed.append((str(job.video), str(exc)))
        append_record(out_dir / "manifest.jsonl", {"kind": "failed", "input": str(job.video),
                                                   "error": str(exc)})
