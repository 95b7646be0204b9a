"""`dubclr bench study` end to end, at smoke size: the same command `make study` runs, with
one seed, two steps and a tiny world (seconds, not the study). The models are barely
trained, so this checks the pipeline and the bookkeeping, not any result."""

import json
import math

import pytest

from dubclr.cli import main
from dubclr.evaluate.study import run_dir_for, summarise, world_options
from dubclr.evaluate.study_tasks import STUDY_TASKS, line_windows, voices_heard

DATA = "shards"  # what the smoke's runs read (the study's default)
SMOKE = ["--seeds", "0", "--steps", "2", "--pretrain-titles", "3", "--heldout-titles", "3",
         "--title-seconds", "10", "--jobs", "2", "--set", "data.sampler.batch_size=4",
         "--set", "data.sampler.same_title=2", "--set", "data.num_workers=1"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    assert main(["bench", "study", "--out", str(out), *SMOKE]) == 0
    return out, json.loads((out / "study.json").read_text())


def test_report_files_and_table(study):
    out, document = study
    for name in ("study.md", "study.html", "study.png"):
        assert (out / name).stat().st_size > 0
    md = (out / "study.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Type"))
    assert [c.strip() for c in header.split("|")[6:9]] == ["EN", "EFJ", "SEP"]
    for task in STUDY_TASKS:
        assert f"| {task.name} |" in md
    assert "V→A, dubbed audio" in md and "EFJ−EN" in md


def test_every_variant_trained_the_same_steps_and_was_scored(study):
    out, document = study
    for variant in ("EN", "EFJ", "SEP"):
        run = run_dir_for(out, variant, 0, 2, DATA)
        assert (run / "checkpoints" / "step_00000002" / "model.safetensors").is_file()
        config = (run / "config.yaml").read_text()
        assert "batches_per_epoch: 1" in config  # 2 steps = the config's 10 epochs, rescaled
        assert f"shards: {out / 'shards'}" in config  # every run reads the one build
        scores = document["runs"][variant]["0"]
        assert set(scores) >= {t.name for t in STUDY_TASKS} | {"retrieval_original"}
    policies = {v: (run_dir_for(out, v, 0, 2, DATA) / "config.yaml").read_text()
                for v in ("EN", "EFJ", "SEP")}
    assert "dub_policy: mono" in policies["EN"] and "cycle:es,fr,ja" in policies["EFJ"]
    assert "dub_policy: separated" in policies["SEP"]
    assert document["runs"]["EN"]["0"]["retrieval_dub"] is not None


def test_one_seed_gives_means_but_no_interval_or_p(study):
    _, document = study
    row = document["rows"]["sound"]
    en = row["variants"]["EN"]
    assert en["n"] == 1 and en["low"] is None and 0 <= en["mean"] <= 1
    assert row["test"]["n"] == 1 and row["test"]["p"] is None
    assert row["test"]["mean_difference"] == pytest.approx(
        row["variants"]["EFJ"]["mean"] - en["mean"])


def test_timing_is_recorded(study):
    _, document = study
    stages = document["timing"]["stages"]
    assert set(stages) >= {"world", "shards", "train", "evaluate"}
    assert len(document["timing"]["load_average"]["start"]) == 3
    assert all(s["wall_s"] > 0 and s["cpu_s"] >= 0 for s in stages.values())


def test_a_second_run_trains_nothing_and_reuses_the_evaluations(study, capsys):
    out, document = study
    cached = out / "eval" / f"2steps-{DATA}" / "EN-s0.json"
    before = cached.stat().st_mtime_ns
    assert main(["bench", "study", "--out", str(out), *SMOKE]) == 0
    assert cached.stat().st_mtime_ns == before
    again = json.loads((out / "study.json").read_text())
    assert again["runs"] == document["runs"]


def test_a_run_that_fails_in_its_process_is_a_one_line_error(study, capsys):
    """The runs train in child processes (--parallel 2); a config error found there reaches
    the command as its message, and the study stops."""
    out, _ = study
    bad = list(SMOKE)  # 3 steps (new runs) with a same-title group larger than a batch
    bad[bad.index("--steps") + 1] = "3"
    bad[bad.index("data.sampler.same_title=2")] = "data.sampler.same_title=9"
    assert main(["bench", "study", "--out", str(out), *bad, "--parallel", "2"]) == 2
    err = capsys.readouterr().err
    assert "same_title" in err and "Traceback" not in err
    assert not (out / "eval" / f"3steps-{DATA}").exists()


def test_bad_requests_are_one_line_errors(tmp_path, capsys):
    assert main(["bench", "study", "--out", str(tmp_path), "--compare", "EFJ,XX"]) == 2
    assert main(["bench", "study", "--out", str(tmp_path), "--steps", "0"]) == 2
    assert main(["bench", "study", "--out", str(tmp_path), "--parallel", "0"]) == 2
    assert main(["bench", "study", "--out", str(tmp_path / "v"), "--variants", "EN,NOPE",
                 "--compare", "EN,NOPE", *SMOKE]) == 2
    err = capsys.readouterr().err
    assert "--compare" in err and "--steps" in err and "--parallel" in err and "NOPE" in err and "Traceback" not in err


def test_summary_pairs_seeds_and_skips_missing_scores():
    def run(sound):
        return {"tasks": {"sound": {"mean": sound}}, "retrieval": None}

    runs = {"EN": {0: run(0.5), 1: run(0.6), 2: run(0.7)},
            "EFJ": {0: run(0.6), 1: run(0.65), 2: run(0.9)}}
    rows = summarise(runs, ("EFJ", "EN"))
    test = rows["sound"]["test"]
    assert test["seeds"] == [0, 1, 2] and test["wins"] == 3
    assert test["mean_difference"] == pytest.approx((0.1 + 0.05 + 0.2) / 3)
    assert rows["sound"]["variants"]["EN"]["mean"] == pytest.approx(0.6)
    assert rows["scene"]["variants"] == {} and rows["scene"]["test"] is None
    assert rows["retrieval_gap"]["test"] is None
    assert not math.isnan(test["p"])


def test_window_labels_come_from_the_dialogue():
    dialogue = [{"shot": 0, "speaker": "s0", "phrase": 3,
                 "segments": {"en": [1.0, 2.0], "es": [0.8, 1.7]}},
                {"shot": 0, "speaker": "s1", "phrase": 5,
                 "segments": {"en": [2.9, 3.6], "es": [3.1, 3.9]}},
                {"shot": 1, "speaker": "s1", "phrase": 0,
                 "segments": {"en": [5.0, 5.5], "es": [5.0, 5.6]}}]
    assert voices_heard(dialogue, 0, 0.0, 3.0, "en") == 1  # s1 has 0.1 s in the window
    assert voices_heard(dialogue, 0, 0.0, 3.5, "en") == 2
    assert voices_heard(dialogue, 1, 4.0, 7.0, "en") == 1
    title = {"shots": [{"index": 0, "start": 0.0, "end": 4.0}, {"index": 1, "start": 4.0, "end": 8.0}],
             "dialogue": dialogue}
    windows = line_windows(title)
    assert windows[0] == {"shot": 0, "start": 0.7, "end": 2.85, "phrase": 3}  # up to line 2
    assert windows[1] == {"shot": 0, "start": 2.8, "end": 4.0, "phrase": 5}  # not past the shot
    assert windows[2]["start"] == 4.9 and windows[2]["end"] == 7.9


def test_world_options_scale_the_shot_count():
    assert world_options(40)["shots"] == (8, 10)
    assert world_options(8)["shots"] == (1, 2)


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self"), reason="needs Linux /proc")
def test_cpu_seconds_count_a_live_child_and_its_reaped_children():
    """The corpus builder's fork server is alive at the end of a stage; its workers' CPU is
    in its own children's times, which only /proc shows while it lives."""
    import resource
    import subprocess
    import sys
    import time

    from dubclr.evaluate.study import cpu_seconds

    burn = ("import subprocess, sys, time\n"
            "subprocess.run([sys.executable, '-c', 'x = sum(i * i for i in range(10_000_000))'])\n"
            "time.sleep(30)\n")
    def others() -> float:  # everything cpu_seconds counts but this process's own time
        own = resource.getrusage(resource.RUSAGE_SELF)
        return cpu_seconds() - own.ru_utime - own.ru_stime

    before = others()
    child = subprocess.Popen([sys.executable, "-c", burn])
    try:
        deadline = time.time() + 20
        while others() - before < 0.1 and time.time() < deadline:
            time.sleep(0.2)
        assert others() - before >= 0.1  # the grandchild's work, through the live child
    finally:
        child.kill()
        child.wait()
