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
    from tiny_models import point_model_caches

    out = tmp_path_factory.mktemp("paper_run")
    with pytest.MonkeyPatch.context() as mp:
        point_model_caches(mp, tiny_model_files.root)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
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
