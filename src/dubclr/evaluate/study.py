"""``dubclr bench study``: the paper's controlled study (supplement B.3) in the study world.

Stages, each resumable (a stage whose outputs exist is skipped when run again):

1. world: a pretraining corpus and a held-out corpus of the study world (other titles, the
   same world), and a catalog of the pretraining titles with their labelled shots;
2. train: every variant (EN, EFJ, SEP...) x seed, on the same catalog with the same number
   of steps, two runs at a time (``study_train``);
3. evaluate: every checkpoint on the held-out titles, each clip decoded once for all of
   them (``study_tasks``);
4. report: mean and 95 % t-interval per task and variant over seeds, paired t-tests of one
   variant against another (EFJ vs EN), Markdown, HTML, PNG and JSON (``study_report``),
   with the wall and CPU seconds of every stage.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dubclr.evaluate.probes import ProbeConfig
from dubclr.evaluate.study_stats import paired_t_test, t_interval
from dubclr.evaluate.study_tasks import (
    STUDY_PROBE,
    STUDY_TASKS,
    StudyClips,
    evaluate_study_checkpoint,
)
from dubclr.evaluate.study_train import Run, config_path, run_dir_for, train_runs

RETRIEVAL_ROWS = ("retrieval_original", "retrieval_dub", "retrieval_gap")


@dataclass(frozen=True)
class StudyOptions:
    out: Path
    variants: tuple[str, ...] = ("EN", "EFJ", "SEP")
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 400  # optimizer steps per run, the same for every variant
    pretrain_titles: int = 24
    heldout_titles: int = 16
    title_seconds: float = 40.0  # about 10 shots of 3-5 s
    world_seed: int = 0  # the held-out corpus uses world_seed + 1: other titles, same world
    configs: Path = Path("configs/study")  # <variant>.yaml per variant
    data: str = "shards"  # what the runs read: "shards" (built once) or "originals"
    overrides: tuple[str, ...] = ()  # dotted config overrides applied to every run
    compare: tuple[str, str] = ("EFJ", "EN")  # paired test of the first against the second
    probe: ProbeConfig = field(default_factory=lambda: STUDY_PROBE)
    jobs: int = 2
    parallel: int = 2  # training runs at once, each its own process
    threads: int = 1  # torch threads of each run and of evaluation (loader workers: one each)
    device: str = "cpu"
    show_progress: bool = True


@dataclass
class Clock:
    """Wall and CPU seconds (this process and its finished children) per stage."""

    stages: dict[str, dict[str, float]] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str):
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            entry = self.stages.setdefault(name, {"wall_s": 0.0, "cpu_s": 0.0})
            entry["wall_s"] += time.perf_counter() - wall
            entry["cpu_s"] += cpu_seconds() - cpu

    def add_cpu(self, name: str, seconds: float) -> None:
        """CPU spent by processes that are not our children (Ray's workers)."""
        self.stages.setdefault(name, {"wall_s": 0.0, "cpu_s": 0.0})["cpu_s"] += seconds

    def total(self) -> dict[str, float]:
        return {k: sum(s[k] for s in self.stages.values()) for k in ("wall_s", "cpu_s")}


def _load_average() -> list[float] | None:
    """The machine's 1, 5 and 15 minute load averages (None where the OS has none): other
    work on the machine stretches the wall times."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def cpu_seconds() -> float:
    """CPU seconds of this process, of its finished children, and of its live children with
    theirs: the corpus builder's fork server outlives the workers it reaps (Linux /proc;
    elsewhere the live children are not counted)."""
    me, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))
    return (me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime
            + sum(_live_child_cpu()))


def _live_child_cpu():
    me = str(os.getpid())
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone, or not the layout we know
        if fields[1] == me:  # ppid; then utime, stime, cutime, cstime are fields 11-14
            yield sum(int(x) for x in fields[11:15]) / tick


# ---------------------------------------------------------------- 1. world


def prepare_world(opts: StudyOptions) -> tuple[Path, Path, Path]:
    """(pretraining corpus, held-out corpus, catalog of the pretraining corpus)."""
    from dubclr.data.indexer import index_folder
    from dubclr.synth import build_corpus

    world = opts.out / "world"
    options = world_options(opts.title_seconds)
    folders = {}
    for name, titles, seed in (("pretrain", opts.pretrain_titles, opts.world_seed),
                               ("heldout", opts.heldout_titles, opts.world_seed + 1)):
        folder = folders[name] = world / name
        if not _is_study_corpus(folder, titles, seed, options):
            build_corpus(folder, titles=titles, seed=seed, jobs=opts.jobs, world="study",
                         overwrite=True, show_progress=opts.show_progress, **options)
    catalog = opts.out / "catalog.sqlite"
    shots_csv = write_shots_csv(folders["pretrain"], world / "pretrain_shots.csv")
    index_folder(folders["pretrain"], catalog, jobs=opts.jobs, shots_csv=shots_csv,
                 show_progress=opts.show_progress)
    return folders["pretrain"], folders["heldout"], catalog


def world_options(title_seconds: float) -> dict:
    """The study world's corpus options for titles of about `title_seconds`."""
    from dubclr.synth.study_world import STUDY_DEFAULTS

    low, high = STUDY_DEFAULTS["shot_seconds"]
    shots = (max(1, int(title_seconds // high)), max(1, int(title_seconds // (0.5 * (low + high)))))
    return {**STUDY_DEFAULTS, "title_seconds": float(title_seconds), "shots": shots}


def _is_study_corpus(folder: Path, titles: int, seed: int, options: dict) -> bool:
    path = folder / "labels.json"
    if not path.is_file():
        return False
    labels = json.loads(path.read_text(encoding="utf-8"))
    build = labels.get("build", {})
    return (labels.get("world", {}).get("name") == "study" and labels.get("seed") == seed
            and len(labels.get("titles", [])) == titles
            and all(build.get(k) == (list(v) if isinstance(v, tuple) else v)
                    for k, v in options.items()))


def write_shots_csv(corpus: Path, path: Path) -> Path:
    """The corpus's labelled shots as `dubclr index --shots-csv` reads them."""
    labels = json.loads((corpus / "labels.json").read_text(encoding="utf-8"))
    temporary = path.with_suffix(".csv.tmp")
    with temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "start", "end"])
        for title in labels["titles"]:
            for shot in title["shots"]:
                writer.writerow([title["file"], shot["start"], shot["end"]])
    temporary.replace(path)
    return path


def prepare_shards(opts: StudyOptions, catalog: Path) -> tuple[Path, float]:
    """The pretraining titles cut into shot shards once (`OUT/shards`, short side = the
    largest training scale of the variants' configs), for every run to read; returns the
    folder and the build's CPU seconds (its Ray workers are not our children)."""
    from dubclr.config import load_config
    from dubclr.errors import DubclrError
    from dubclr.shards.build import ShardOptions
    from dubclr.shards.pipeline import build_shards
    from dubclr.train.config import TrainConfig

    short_side = max(
        max(load_config(TrainConfig, config_path(opts.configs, v),
                        [f"data.catalog={catalog}", *opts.overrides]).data.video.train_scale)
        for v in opts.variants)
    out = opts.out / "shards"
    report = build_shards(catalog, out, ShardOptions(short_side=int(short_side)),
                          workers=opts.jobs, show_progress=opts.show_progress)
    if report.failed or report.failed_before:
        names = [name for name, _ in report.failed] + list(report.failed_before)
        raise DubclrError(f"shards of {len(names)} title(s) failed ({', '.join(names[:5])}); "
                          f"see `dubclr shards info {out}`")
    return out, report.cpu_seconds


# ---------------------------------------------------------------- 3. evaluate


def evaluate_run(checkpoint: Path, clips: StudyClips, path: Path, opts: StudyOptions) -> dict:
    """The checkpoint's study results, cached in `path` for this checkpoint and probe."""
    key = {"checkpoint": str(checkpoint), "probe": asdict(opts.probe)}
    if path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("key") == json.loads(json.dumps(key)):
            return cached
    result = {"key": key, **evaluate_study_checkpoint(checkpoint, clips, opts.probe, opts.device)}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(result, indent=1))
    temporary.replace(path)
    return result


def scores_of(result: dict) -> dict[str, float | None]:
    """One number per task and retrieval row for one run (None where it has none)."""
    out: dict[str, float | None] = {}
    for task in STUDY_TASKS:
        r = result["tasks"].get(task.name)
        out[task.name] = r["mean"] if r and "mean" in r else None
    retrieval = result.get("retrieval") or {}
    original, dub = retrieval.get("original"), retrieval.get("dub")
    out["retrieval_original"] = original["mean"] if original else None
    out["retrieval_dub"] = dub["mean"] if dub else None
    out["retrieval_gap"] = (original["mean"] - dub["mean"]) if original and dub else None
    return out


# ---------------------------------------------------------------- 4. summarise


def summarise(runs: dict[str, dict[int, dict]], compare: tuple[str, str]) -> dict:
    """Per row: each variant's per-seed scores and t-interval; the paired test of
    `compare[0]` against `compare[1]` over the seeds both have."""
    rows = [t.name for t in STUDY_TASKS] + list(RETRIEVAL_ROWS)
    table: dict = {}
    for row in rows:
        entry: dict = {"variants": {}, "test": None}
        for variant, by_seed in runs.items():
            values = {seed: scores_of(r)[row] for seed, r in by_seed.items()}
            values = {s: v for s, v in values.items() if v is not None}
            if values:
                entry["variants"][variant] = {
                    "seeds": values, **t_interval(list(values.values())).as_dict()}
        a, b = (entry["variants"].get(v) for v in compare)
        if a and b:
            common = sorted(set(a["seeds"]) & set(b["seeds"]))
            if common:
                entry["test"] = {"a": compare[0], "b": compare[1], "seeds": common,
                                 **paired_t_test([a["seeds"][s] for s in common],
                                                 [b["seeds"][s] for s in common]).as_dict()}
        table[row] = entry
    return table


def chance_of(runs: dict[str, dict[int, dict]]) -> dict[str, float | None]:
    """Majority-class rate of each probe task and 1/shots of retrieval (same for all runs)."""
    out: dict[str, float | None] = {}
    for variant_runs in runs.values():
        for result in variant_runs.values():
            for name, r in result["tasks"].items():
                if r and "chance" in r:
                    out.setdefault(name, r["chance"])
            if result.get("retrieval"):
                out.setdefault("retrieval_original", result["retrieval"]["chance"])
                out.setdefault("retrieval_dub", result["retrieval"]["chance"])
    return out


# ---------------------------------------------------------------- the whole study


def run_study(opts: StudyOptions) -> dict:
    """All stages; returns the study document (also written to OUT/study.json)."""
    for variant in opts.variants:  # fail before anything is built
        config_path(opts.configs, variant)
    with torch_threads(opts.threads):
        return _run_study(opts)


@contextmanager
def torch_threads(count: int):
    """This process's torch threads for the block. One by default: with two loader workers
    on two cores, more threads only spin (3x the CPU per quadruplet on a busy machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_study(opts: StudyOptions) -> dict:
    from dubclr.evaluate.study_report import write_study_report

    clock, load_at_start = Clock(), _load_average()
    with clock.stage("world"):
        _, heldout, catalog = prepare_world(opts)
    overrides = (f"device={opts.device}", *opts.overrides)
    if opts.data == "shards":  # the one place the study chooses what its runs read
        with clock.stage("shards"):
            shards, build_cpu = prepare_shards(opts, catalog)
        clock.add_cpu("shards", build_cpu)
        overrides += (f"data.shards={shards}",)
    plan = [Run(variant, seed, run_dir_for(opts.out, variant, seed, opts.steps, opts.data))
            for seed in opts.seeds for variant in opts.variants]  # seed by seed: balanced
    with clock.stage("train"):
        checkpoints = train_runs(plan, catalog, opts.steps, configs=opts.configs,
                                 overrides=overrides,
                                 parallel=opts.parallel, threads=opts.threads,
                                 show_progress=opts.show_progress)
    runs: dict[str, dict[int, dict]] = {v: {} for v in opts.variants}
    with clock.stage("evaluate"):
        clips = StudyClips(heldout)
        for run in plan:
            cache = opts.out / "eval" / run.run_dir.parent.name / f"{run.run_dir.name}.json"
            runs[run.variant][run.seed] = evaluate_run(checkpoints[run], clips, cache, opts)
    with clock.stage("report"):
        document = {
            "options": {k: (str(v) if isinstance(v, Path) else v)
                        for k, v in asdict(opts).items() if k != "show_progress"},
            "tasks": [t.__dict__ for t in STUDY_TASKS], "rows": summarise(runs, opts.compare),
            "chance": chance_of(runs),
            "clips": next(iter(next(iter(runs.values())).values()))["clips"],
            "runs": {v: {str(s): scores_of(r) for s, r in by_seed.items()}
                     for v, by_seed in runs.items()},
        }
        document["timing"] = {"stages": clock.stages, **clock.total(),
                              "load_average": {"start": load_at_start, "end": _load_average()},
                              "cpus": os.cpu_count()}
        document["paths"] = {k: str(p) for k, p in write_study_report(document, opts.out).items()}
    return document
