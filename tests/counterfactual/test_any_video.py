"""``--config any``: a single-track video of real English speech with nothing beyond packages
(silero-vad gate, PocketSphinx, espeak-ng, Praat). Spanish has real subtitles, French has
none: Spanish is dubbed from the subtitles, cue-true; French is re-voiced and says so."""

from pathlib import Path

import av
import numpy as np
import pytest

from dubclr.cli import main
from dubclr.counterfactual.audio import read_wav
from dubclr.counterfactual.manifest import read_manifest
from dubclr.counterfactual.metrics import ACTIVITY_FRAME_S, speech_activity
from dubclr.counterfactual.segments import REVOICED


@pytest.fixture(scope="module")
def any_run(speech_title, tmp_path_factory):
    out = tmp_path_factory.mktemp("any_run")
    rc = main(["counterfactual", "run", str(speech_title.video), "--out", str(out),
               "--config", "any", "--languages", "es,fr"])
    assert rc == 0
    records = read_manifest(out / "manifest.jsonl")
    (output,) = [r for r in records if r["kind"] == "output"]
    return out, output, records


def dub_speech(records, language: str) -> np.ndarray:
    (remix,) = [r for r in records if r.get("stage") == "remix" and r["language"] == language]
    return read_wav(Path(remix["path"]) / "dub_speech.wav")[0]


def covered(activity: np.ndarray, intervals) -> float:
    """Share of the intervals' time in which ``activity`` (20 ms frames) is on."""
    frames = [(int(a / ACTIVITY_FRAME_S), int(b / ACTIVITY_FRAME_S)) for a, b in intervals]
    return sum(activity[a:b].sum() for a, b in frames) / sum(b - a for a, b in frames)


@pytest.mark.parametrize("language", ["es", "fr"])
def test_the_dub_speaks_where_the_source_speaks(any_run, speech_title, language):
    """Cue-true timing: 4 Spanish cues over 6 phrases (about 11 speech regions) fill every
    phrase; no line is squeezed (the old one-segment-per-cue matching left most regions silent
    and trimmed lines to half)."""
    _, output, records = any_run
    activity = speech_activity(dub_speech(records, language), 48000)
    assert covered(activity, speech_title.speech) > 0.9
    figures = output["tracks"][language]
    assert figures["lines_trimmed"] == 0 and figures["speech_coverage"] > 0.9
    assert figures["dub_speech_s"] > 0.9 * speech_title.speech_seconds


def test_spanish_comes_from_its_subtitles_and_french_is_labelled_re_voiced(any_run):
    out, output, records = any_run
    assert output["tracks"]["es"]["translation"] == "subtitles"
    assert output["tracks"]["fr"]["translation"] == REVOICED
    (translate_es,) = [r for r in records if r.get("stage") == "translate" and r["language"] == "es"]
    assert translate_es["figures"]["lines"] == 4  # one line per cue
    with av.open(output["output"]) as container:
        titles = {s.metadata.get("language"): s.metadata.get("title", "") for s in container.streams.audio}
    assert titles["spa"] == "synthetic dub (es)"
    assert REVOICED in titles["fre"] and "en text" in titles["fre"]
