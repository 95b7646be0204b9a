"""Offline end to end: single-track titles -> stems -> subtitles -> espeak -> align -> praat ->
master -> remix -> mux to ES and FR; the index reads the results as multi-track titles."""

import json
import shutil

import numpy as np
import pytest

from dubclr.cli import main
from dubclr.counterfactual import load_counterfactual_config, run_pipeline
from dubclr.counterfactual import stages as stage_functions
from dubclr.counterfactual.manifest import read_manifest
from dubclr.counterfactual.segments import read_subtitles
from dubclr.media import probe, read_audio

TITLES = ("title_000", "title_001")


@pytest.fixture(scope="module")
def dubbed(single_track_titles, tmp_path_factory):
    out = tmp_path_factory.mktemp("dubbed")
    rc = main(["counterfactual", "run", str(single_track_titles), "--out", str(out),
               "--config", "offline", "--languages", "es,fr"])
    assert rc == 0
    return out


def stage_records(out):
    return [r for r in read_manifest(out / "manifest.jsonl") if r["kind"] == "stage"]


def test_outputs_are_multitrack_titles_the_index_reads(dubbed, single_track_titles, tmp_path):
    from dubclr.data.catalog import Catalog
    from dubclr.data.indexer import index_folder

    report = index_folder(dubbed / "titles", tmp_path / "catalog.sqlite", show_progress=False)
    assert report.indexed == 2 and report.failed == 0
    with Catalog.open(tmp_path / "catalog.sqlite") as catalog:
        titles = {t.name: t for t in catalog.titles()}
    assert sorted(titles) == list(TITLES)
    for name in TITLES:
        original = probe(single_track_titles / f"{name}.mkv")
        title = titles[name]
        assert title.original_language == "en"
        dialogue = [t for t in title.tracks if t.kind == "dialogue"]
        assert [t.language for t in dialogue] == ["en", "es", "fr"]
        for track in dialogue:
            assert track.duration == pytest.approx(original.audio[0].duration, abs=1e-3)
        (separated,) = [t for t in title.tracks if t.kind == "separated"]
        assert separated.path == str(dubbed / "titles" / f"{name}.separated.flac")
        assert separated.duration == pytest.approx(original.audio[0].duration, abs=1e-3)
        assert separated.sample_rate == 48000
        assert title.num_frames == original.video.num_frames  # video copied whole


def test_dub_tracks_carry_new_speech_at_the_source_times(dubbed, single_track_titles):
    name = "title_000"
    info = probe(dubbed / "titles" / f"{name}.mkv")
    assert [t.language for t in info.audio] == ["en", "es", "fr"]
    assert info.audio[0].default and not info.audio[1].default
    duration = info.audio[0].duration
    background = read_audio(single_track_titles / "stems" / name / "background.wav", 0, duration,
                            sample_rate=16000)
    segments = read_subtitles(single_track_titles / f"{name}.en.srt")
    inside = np.zeros(len(background), bool)
    for seg in segments:
        inside[int(seg.start * 16000): int(seg.end * 16000)] = True
    original = read_audio(dubbed / "titles" / f"{name}.mkv", 0, duration, track="en", sample_rate=16000)
    for lang in ("es", "fr"):
        dub = read_audio(dubbed / "titles" / f"{name}.mkv", 0, duration, track=lang, sample_rate=16000)
        speech = dub - background  # what the pipeline added over the background
        assert np.std(speech[inside]) > 5 * np.std(speech[~inside]) + 1e-4
        assert abs(np.corrcoef(dub[inside], original[inside])[0, 1]) < 0.6  # new words
        assert np.abs(dub).max() < 1.0


def test_manifest_has_parameters_and_quality_figures(dubbed):
    outputs = [r for r in read_manifest(dubbed / "manifest.jsonl") if r["kind"] == "output"]
    assert sorted(r["title"] for r in outputs) == list(TITLES)
    for rec in outputs:
        assert rec["params"]["synthesize"]["backend"] == "espeak"
        for lang in ("es", "fr"):
            fig = rec["tracks"][lang]
            assert fig["duration_error_s"] < 1e-3
            assert fig["placement_error_s"] < 0.1
            assert abs(fig["loudness_diff_lu"]) < 2.0
            assert fig["sbr_db"] == pytest.approx(fig["sbr_original_db"], abs=3.0)
            assert fig["leakage_db"] < -25  # given stems: the original speech is gone
            assert fig["speech_coverage"] > 0.9 and fig["lines_trimmed"] == 0
    stages = {(r["title"], r["stage"], r["language"]) for r in stage_records(dubbed)}
    assert ("title_000", "voice", "fr") in stages and ("title_001", "mux", None) in stages


def test_report_renders(dubbed):
    assert main(["counterfactual", "report", str(dubbed)]) == 0
    page = (dubbed / "report" / "index.html").read_text()
    for name in TITLES:
        assert f"{name}_mel.png" in page and (dubbed / "report" / f"{name}_mel.png").stat().st_size > 1000
        assert (dubbed / "report" / f"{name}_still.png").is_file()
    assert page.count("<tr><td>") == 4  # two titles x two languages
    assert "loudness diff. (LU)" in page


def test_rerun_skips_finished_work(dubbed, single_track_titles):
    before = len(stage_records(dubbed))
    cfg = load_counterfactual_config("offline", ["languages=[es,fr]"])
    summary = run_pipeline(single_track_titles, dubbed, cfg)
    assert all(o["cached"] for o in summary.outputs) and len(summary.outputs) == 2
    assert len(stage_records(dubbed)) == before


def test_changed_parameter_redoes_only_later_stages(dubbed, single_track_titles):
    cfg = load_counterfactual_config("offline", ["languages=[es,fr]", "master.max_eq_gain_db=6"])
    summary = run_pipeline(single_track_titles, dubbed, cfg, shard=(0, 2))
    assert summary.outputs[0]["stages_computed"] == ["master.es", "remix.es", "master.fr",
                                                     "remix.fr", "mux"]


def test_force_redoes_a_stage_and_what_follows(dubbed, single_track_titles):
    cfg = load_counterfactual_config("offline", ["languages=[es,fr]"])
    summary = run_pipeline(single_track_titles, dubbed, cfg, shard=(1, 2), force="align")
    (out,) = summary.outputs
    assert out["title"] == "title_001"
    computed = out["stages_computed"]
    assert {"align.es", "voice.es", "master.es", "remix.es", "align.fr", "mux"} <= set(computed)
    assert not {"separate", "transcribe", "translate.es", "synthesize.es"} & set(computed)


def test_a_removed_output_is_written_again(dubbed, single_track_titles):
    """The mux stage's cache entry stays valid, but its output file went away: only the mux is
    redone (the cache's recorded identity of the file is compared, not trusted)."""
    (dubbed / "titles" / "title_001.mkv").unlink()
    cfg = load_counterfactual_config("offline", ["languages=[es,fr]"])
    (out,) = run_pipeline(single_track_titles, dubbed, cfg, shard=(1, 2)).outputs
    assert out["stages_computed"] == ["mux"]
    assert [t.language for t in probe(dubbed / "titles" / "title_001.mkv").audio] == ["en", "es", "fr"]


def test_crash_resumes_where_it_stopped(single_track_titles, tmp_path, monkeypatch):
    """A stage that raises fails its title (reason recorded, the run goes on); the next run
    resumes at that stage."""
    cfg = load_counterfactual_config("offline", ["languages=[es,fr]"])

    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(stage_functions, "master", crash)
    summary = run_pipeline(single_track_titles, tmp_path, cfg, shard=(0, 2))
    ((video, why),) = summary.failed
    assert video.endswith("title_000.mkv") and "stage master.es failed: RuntimeError: power cut" in why
    failed = [r for r in read_manifest(tmp_path / "manifest.jsonl") if r["kind"] == "failed"]
    assert [r["input"] for r in failed] == [video]
    assert not list((tmp_path / "cache").glob("*/*/.tmp-*"))
    monkeypatch.undo()
    (out,) = run_pipeline(single_track_titles, tmp_path, cfg, shard=(0, 2)).outputs
    assert out["stages_computed"][:2] == ["master.es", "remix.es"]
    assert not {"separate", "transcribe", "synthesize.es", "align.es", "voice.es"} & set(out["stages_computed"])


def test_vad_gate_in_parallel_and_multitrack_inputs_skipped(single_track_titles, tiny_corpus, tmp_path):
    """vad-gate separation, two worker processes, and a multi-track title left alone."""
    folder = tmp_path / "in"
    shutil.copytree(single_track_titles, folder)
    shutil.copy(tiny_corpus / "title_002.mkv", folder / "title_002.mkv")  # has 4 tracks
    cfg = load_counterfactual_config("offline", ["languages=[es]", "separate.backend=vad-gate"])
    summary = run_pipeline(folder, tmp_path / "out", cfg, jobs=2)
    assert [s[0].endswith("title_002.mkv") for s in summary.skipped] == [True]
    assert sorted(o["title"] for o in summary.outputs) == list(TITLES)
    for rec in summary.outputs:
        assert rec["tracks"]["es"]["duration_error_s"] < 1e-3
        # the gate leaves some original speech in the background: at most -15 dB of it (its
        # amplitude-ratio mask left -10.7 dB on title_000)
        assert rec["tracks"]["es"]["leakage_db"] < -15
        sep = next(r for r in stage_records(tmp_path / "out")
                   if r["stage"] == "separate" and r["title"] == rec["title"])
        assert sep["figures"]["vad"] == "silero" and sep["figures"]["regions"]
    assert json.loads((tmp_path / "out" / "manifest.jsonl").read_text().splitlines()[0])["kind"] == "skipped"


def test_two_shards_at_once_share_one_output_folder(single_track_titles, tmp_path):
    """Two array tasks (--shard 0/2 and 1/2) run at the same time on one OUT: each finishes
    its own title, the manifest interleaves whole lines, nothing is left half-written."""
    import subprocess
    import sys

    out = tmp_path / "out"
    cmd = [sys.executable, "-c", "import sys; from dubclr.cli import main; sys.exit(main())",
           "counterfactual", "run", str(single_track_titles), "--out", str(out),
           "--config", "offline", "--languages", "es"]
    procs = [subprocess.Popen([*cmd, "--shard", f"{i}/2"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for i in range(2)]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs
    lines = (out / "manifest.jsonl").read_text().splitlines()
    records = read_manifest(out / "manifest.jsonl")
    assert len(records) == len(lines)  # every line whole
    spans = {}
    for rec in records:
        if rec["kind"] in ("stage", "output"):
            spans.setdefault(rec["title"], []).append(rec["time"])
    assert sorted(spans) == list(TITLES)
    (a0, a1), (b0, b1) = ((min(t), max(t)) for t in spans.values())
    assert min(a1, b1) > max(a0, b0), "the two shards did not run at the same time"
    outputs = {r["title"]: r for r in records if r["kind"] == "output"}
    for name in TITLES:
        assert [t.language for t in probe(out / "titles" / f"{name}.mkv").audio] == ["en", "es"]
        assert outputs[name]["tracks"]["es"]["duration_error_s"] < 1e-3
    assert not list((out / "cache").glob("*/*/.tmp-*")) and not list(out.glob("titles/.*"))
