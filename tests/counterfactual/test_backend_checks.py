"""A chosen backend that cannot run fails before any work, naming what is missing and the fix."""

import sys

import pytest
from tiny_models import need

from dubclr.counterfactual import load_counterfactual_config, run_pipeline
from dubclr.counterfactual.backends import demucs_separator
from dubclr.counterfactual.config import SeparateConfig
from dubclr.errors import BackendUnavailableError, ConfigError


@pytest.fixture
def block_import(monkeypatch):
    """Make packages unimportable for one test, installed or not (a None entry in sys.modules
    makes ``import`` raise ImportError and ``find_spec`` return None)."""
    def block(*names: str) -> None:
        for name in names:
            for loaded in [m for m in sys.modules if m.startswith(name + ".")]:
                monkeypatch.delitem(sys.modules, loaded)
            monkeypatch.setitem(sys.modules, name, None)
    return block


def check_fails_before_work(single_track_titles, tmp_path, overrides, *expected):
    out = tmp_path / "out"
    cfg = load_counterfactual_config("offline", ["languages=[es,fr]", *overrides])
    with pytest.raises(BackendUnavailableError) as err:
        run_pipeline(single_track_titles, out, cfg)
    for text in expected:
        assert text in str(err.value)
    assert not out.exists(), "work started before the backend check"


def test_demucs_missing(single_track_titles, tmp_path, block_import):
    block_import("demucs")
    check_fails_before_work(single_track_titles, tmp_path, ["separate.backend=demucs"],
                            "demucs", "pip install demucs")


def test_whisper_missing(single_track_titles, tmp_path, block_import):
    block_import("whisper", "faster_whisper")
    check_fails_before_work(single_track_titles, tmp_path, ["transcribe.backend=whisper"],
                            "faster-whisper", "openai-whisper")


@pytest.mark.parametrize("overrides", [["synthesize.backend=seamless"],
                                       ["translate.backend=seamless"],
                                       ["translate.backend=nllb"]])
def test_transformers_models_missing(single_track_titles, tmp_path, overrides, block_import):
    block_import("transformers")
    check_fails_before_work(single_track_titles, tmp_path, overrides, "transformers", "pip install")


def test_lvc_needs_a_checkout(single_track_titles, tmp_path):
    check_fails_before_work(single_track_titles, tmp_path, ["voice.backend=lvc"], "voice.lvc_dir")
    (tmp_path / "lvc").mkdir()
    check_fails_before_work(single_track_titles, tmp_path,
                            ["voice.backend=lvc", f"voice.lvc_dir={tmp_path / 'lvc'}"],
                            "inference_wav2vec.py")


def test_paper_preset_lists_every_missing_model_up_front(single_track_titles, tmp_path,
                                                        empty_model_caches):
    """With empty caches every missing model is named in one error, before any work (the
    preflight used to stop at the first)."""
    need("demucs", "faster_whisper", "transformers")
    cfg = load_counterfactual_config("paper", ["master.eq=matchering"])
    with pytest.raises(BackendUnavailableError) as err:
        run_pipeline(single_track_titles, tmp_path / "out", cfg)
    message = str(err.value)
    assert message.startswith("3 chosen backends cannot run here")
    for missing in ("adefossez/HTDemucs", "faster-whisper model 'small'",
                    "facebook/seamless-m4t-v2-large"):
        assert missing in message
    assert "hf download" in message and "huggingface-cli" not in message
    assert not (tmp_path / "out").exists()


def test_demucs_weights_missing_from_both_caches(empty_model_caches):
    """With the demucs package present but its weights not downloaded, the message names both
    caches demucs reads (Hugging Face, torch hub), the legacy weight file and the commands that
    fetch them."""
    need("demucs", "huggingface_hub")
    with pytest.raises(BackendUnavailableError) as err:
        demucs_separator.require(SeparateConfig(backend="demucs", demucs_model="htdemucs"))
    message = str(err.value)
    torch_home = empty_model_caches.parent.parent / "torch"
    assert "955717e8" in message and str(torch_home) in message
    assert str(empty_model_caches) in message and "hf download adefossez/HTDemucs" in message
    assert "get_model('htdemucs')" in message


def test_demucs_legacy_weights_in_the_torch_hub_cache_suffice(empty_model_caches):
    need("demucs", "huggingface_hub")
    checkpoints = empty_model_caches.parent.parent / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "955717e8-8726e21a.th").write_bytes(b"weights")
    demucs_separator.require(SeparateConfig(backend="demucs", demucs_model="htdemucs"))


def test_speech_to_speech_needs_seamless():
    with pytest.raises(ConfigError, match="speech-to-speech"):
        load_counterfactual_config("offline", ["translate.backend=none"])


def test_missing_subtitles_listed_before_work(single_track_titles, tmp_path):
    out = tmp_path / "out"
    cfg = load_counterfactual_config("offline", ["languages=[es,de]"])
    with pytest.raises(Exception, match=r"title_000\.de\.srt") as err:
        run_pipeline(single_track_titles, out, cfg)
    assert "title_001.de.srt" in str(err.value)
    assert not out.exists()


def test_inputs_sharing_a_name_fail_before_work(tmp_path):
    """Outputs are named by file stem: a/x.mkv and b/x.mp4 would overwrite each other."""
    for rel in ("a/x.mkv", "b/x.mp4"):
        (tmp_path / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / rel).write_bytes(b"not decoded")
    cfg = load_counterfactual_config("offline", ["languages=[es]"])
    with pytest.raises(ConfigError, match=r"titles/x\.mkv"):
        run_pipeline(tmp_path / "in", tmp_path / "out", cfg)
    assert not (tmp_path / "out").exists()


def test_out_inside_the_input_folder_is_not_read_back(tmp_path):
    """A second run with OUT inside INPUT_DIR must not take its own outputs as inputs."""
    for rel in ("x.mkv", "out/titles/x.mkv"):
        (tmp_path / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / rel).write_bytes(b"not a video")
    cfg = load_counterfactual_config("offline", ["languages=[es]"])
    summary = run_pipeline(tmp_path / "in", tmp_path / "in" / "out", cfg)
    assert [s[0] for s in summary.skipped] == [str(tmp_path / "in" / "x.mkv")]


def test_title_already_in_every_target_language_is_skipped(single_track_titles, tmp_path):
    """--languages en on English titles has nothing to dub: say so, write no title."""
    cfg = load_counterfactual_config("offline", ["languages=[en]"])
    summary = run_pipeline(single_track_titles, tmp_path / "out", cfg)
    assert summary.outputs == [] and len(summary.skipped) == 2
    assert all("nothing to dub" in why for _, why in summary.skipped)
    assert not (tmp_path / "out" / "titles").exists()


def test_a_single_input_file_must_be_a_video(tmp_path):
    (tmp_path / "notes.txt").write_text("not a video")
    cfg = load_counterfactual_config("offline", ["languages=[es]"])
    with pytest.raises(ConfigError, match=r"notes\.txt: not a video"):
        run_pipeline(tmp_path / "notes.txt", tmp_path / "out", cfg)
    with pytest.raises(ConfigError, match="no such video file or folder"):
        run_pipeline(tmp_path / "missing.mkv", tmp_path / "out", cfg)
    assert not (tmp_path / "out").exists()
