"""The default preset (the paper's Demucs -> Whisper -> SeamlessM4T speech-to-speech -> stretch
-> Praat -> master -> remix -> mux) end to end with the real libraries and tiny random weights,
on a title of real speech given as a single file."""

import pytest

from dubclr.cli import main
from dubclr.counterfactual.manifest import read_manifest
from dubclr.media import probe


@pytest.fixture(scope="module")
def paper_run(speech_title, tiny_model_files, tmp_path_factory):
    import torch
    from tiny_models import point_model_caches, seed_decoders

    out = tmp_path_factory.mktemp("paper_run")
    with pytest.MonkeyPatch.context() as mp:
        point_model_caches(mp, tiny_model_files.root)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        seed_decoders()
        try:
            rc = main(["counterfactual", "run", str(speech_title.video), "--out", str(out),
                       "--languages", "es"])
        finally:
            torch.set_num_threads(threads)
    return rc, out


def test_default_preset_dubs_a_real_speech_title(paper_run, speech_title):
    rc, out = paper_run
    assert rc == 0
    mkv = out / "titles" / f"{speech_title.video.stem}.mkv"
    info = probe(mkv)
    assert [t.language for t in info.audio] == ["en", "es"]
    assert info.audio[1].duration == pytest.approx(info.audio[0].duration, abs=1e-3)
    records = read_manifest(out / "manifest.jsonl")
    stages = {r["stage"]: r for r in records if r["kind"] == "stage"}
    assert stages["separate"]["figures"] == {"demucs_model": "htdemucs"}
    assert stages["transcribe"]["params"]["transcribe"]["backend"] == "whisper"
    assert stages["translate"]["figures"]["translation"] == "speech-to-speech"
    lines = stages["translate"]["figures"]["lines"]
    assert lines > 0 and len(stages["synthesize"]["figures"]["seconds"]) == lines
    assert all(s > 0 for s in stages["synthesize"]["figures"]["seconds"])  # SeamlessM4T spoke
    (output,) = [r for r in records if r["kind"] == "output"]
    assert output["tracks"]["es"]["translation"] == "speech-to-speech"
    assert output["params"]["synthesize"]["backend"] == "seamless"


def test_speech_past_the_end_of_the_audio_is_clipped(speech_title, tiny_backends, tmp_path):
    """Segments past the track's end (Whisper's 30 s windows, or subtitles outlasting the video)
    became empty reference slices, and SeamlessM4T's processor error on them aborted the whole
    run. They are clipped (or dropped) now, and speech-to-speech gets real audio for each."""
    import shutil

    from dubclr.counterfactual import load_counterfactual_config, run_pipeline
    from dubclr.media.subtitles import format_srt

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(speech_title.video, folder / "late.mkv")
    (folder / "late.en.srt").write_text(format_srt([(0.4, 1.8, "Front center."),
                                                   (12.5, 19.0, "Runs past the end."),
                                                   (14.0, 15.0, "After the end.")]))
    cfg = load_counterfactual_config("paper", ["languages=[es]", "transcribe.backend=subtitles",
                                               "separate.backend=vad-gate"])
    summary = run_pipeline(folder, tmp_path / "out", cfg)
    assert summary.failed == [] and len(summary.outputs) == 1
    stages = {r["stage"]: r for r in read_manifest(tmp_path / "out" / "manifest.jsonl")
              if r["kind"] == "stage"}
    assert stages["transcribe"]["figures"]["segments"] == 2
    assert all(s > 0 for s in stages["synthesize"]["figures"]["seconds"])
