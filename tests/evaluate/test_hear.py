"""The checks the public hear-validator makes, plus what the embeddings must mean."""

import numpy as np
import pytest
import torch

from dubclr import hear


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return hear.load_model(str(tiny_checkpoint))


def _noise(n, seconds, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, int(seconds * hear.sample_rate)), generator=g) * 2 - 1


def test_model_attributes(model):
    assert isinstance(model, torch.nn.Module)
    assert model.sample_rate == hear.sample_rate == 48000
    assert isinstance(model.scene_embedding_size, int) and model.scene_embedding_size > 0
    assert isinstance(model.timestamp_embedding_size, int)
    model.to("cpu")  # the validator moves the model; it must keep working


@pytest.mark.parametrize("length", [1.07, 1.98, 4.0])
def test_timestamp_embeddings_like_the_validator(model, length):
    emb, ts = hear.get_timestamp_embeddings(_noise(2, length), model)
    assert emb.dtype == torch.float32 and emb.ndim == 3 and ts.ndim == 2
    assert emb.shape[0] == 2 and emb.shape[:2] == ts.shape
    assert emb.shape[2] == model.timestamp_embedding_size
    ts = ts.numpy()
    diff = np.diff(ts)
    avg = diff.mean()
    assert avg <= 50.0
    assert np.max(np.abs(diff - avg)) <= 1.0  # constant hop
    assert ts.min() <= avg  # starts at the beginning
    assert ts.max() <= 1000 * length  # last timestamp inside the audio
    assert ts.max() >= 1000 * length - min(avg, 50.0)  # and no event at the end is missed
    assert torch.isfinite(emb).all()


def test_scene_embeddings_like_the_validator(model):
    emb = hear.get_scene_embeddings(_noise(4, 2.74), model)
    assert emb.dtype == torch.float32
    assert emb.shape == (4, model.scene_embedding_size)
    assert torch.isfinite(emb).all()
    # not collapsed: different sounds give different embeddings
    assert (emb[0] - emb[1]).abs().max() > 1e-6


def test_scene_embedding_is_mean_of_tail_rule_windows(model):
    audio = _noise(1, 7.0, seed=3)
    got = hear.get_scene_embeddings(audio, model)
    sr = hear.sample_rate
    # 7 s -> [0,3), [3,6) and the 1 s tail (> 1.5 s? no: 1 s) is dropped
    windows = torch.stack([audio[0, 0:3 * sr], audio[0, 3 * sr:6 * sr]])
    expected = model.encoder.audio(windows).mean(0, keepdim=True)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def test_timestamp_embedding_is_the_window_centred_there(model):
    audio = _noise(1, 2.0, seed=4)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    i = 10  # 500 ms
    assert ts[0, i].item() == pytest.approx(500.0)
    sr, clip = hear.sample_rate, 3 * hear.sample_rate
    centre = round(0.5 * sr)
    window = torch.zeros(clip)
    lo = centre - clip // 2
    window[-lo:] = audio[0, : clip + lo]
    torch.testing.assert_close(emb[0, i], model.encoder.audio(window[None])[0], atol=1e-5, rtol=1e-4)


def test_batch_and_length_independence(model):
    audio = _noise(3, 1.5, seed=5)
    alone = hear.get_scene_embeddings(audio[1:2], model)
    batched = hear.get_scene_embeddings(audio, model)
    torch.testing.assert_close(batched[1:2], alone, atol=1e-5, rtol=1e-4)
    short = hear.get_scene_embeddings(_noise(2, 0.01), model)  # shorter than a hop
    assert short.shape == (2, model.scene_embedding_size)


def test_stereo_model_gets_mono_duplicated(tiny_audio_checkpoint):
    model = hear.load_model(str(tiny_audio_checkpoint))
    assert model.encoder.audio_spec.channels == 2
    mono = _noise(2, 3.0, seed=6)
    got = hear.get_scene_embeddings(mono, model)
    stereo = torch.stack([mono, mono], dim=1)  # (B, 2, N)
    torch.testing.assert_close(got, model.encoder.audio(stereo), atol=1e-6, rtol=1e-5)
    # and the two channels matter to the tower: different channels change the output
    other = stereo.clone()
    other[:, 1] = _noise(2, 3.0, seed=7)
    assert (model.encoder.audio(other) - got).abs().max() > 1e-6


def test_load_model_without_path_says_what_to_do():
    from dubclr.errors import CheckpointError

    with pytest.raises(CheckpointError, match="checkpoint path"):
        hear.load_model()


def test_load_model_on_a_run_directory_takes_its_newest_valid_checkpoint(tmp_path, tiny_model):
    """`hear-validator dubclr.hear -m RUN`: a run directory means its newest valid step."""
    from dubclr.checkpoint import model_state, write_checkpoint

    run = tmp_path / "run"
    for step, seed in ((4, 2), (8, 3)):
        model = tiny_model(seed)
        write_checkpoint(run / "checkpoints" / f"step_{step:08d}", model_state(model),
                         model.config, trainer_state={"step": step})
    audio = _noise(2, 3.0, seed=8)

    def scene(path):
        return hear.get_scene_embeddings(audio, hear.load_model(str(path)))

    from_run = scene(run)
    torch.testing.assert_close(from_run, scene(run / "checkpoints/step_00000008"), rtol=0, atol=0)
    assert (from_run - scene(run / "checkpoints/step_00000004")).abs().max() > 1e-4
    weights = run / "checkpoints/step_00000008/model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8])  # damaged: the newest no longer verifies
    with pytest.warns(UserWarning, match="step_00000008"):
        fallback = scene(run)
    torch.testing.assert_close(fallback, scene(run / "checkpoints/step_00000004"), rtol=0, atol=0)


def test_numpy_input_is_converted_and_bad_input_says_what_hear_wants(model, real_media):
    speech = real_media.dialogue("en", 2.0, hear.sample_rate)  # real English speech, float32
    batch = np.stack([speech, speech[::-1].copy()])
    expected = hear.get_scene_embeddings(torch.from_numpy(batch), model)
    for given in (batch, batch.astype(np.float64)):
        torch.testing.assert_close(hear.get_scene_embeddings(given, model), expected,
                                   rtol=1e-5, atol=1e-6)
    emb, times = hear.get_timestamp_embeddings(batch, model)
    assert emb.shape[:2] == times.shape == (2, 40)
    pcm = np.round(batch * 32767).astype(np.int16)
    with pytest.raises(ValueError, match=r"float32 samples in \[-1, 1\].*got int16.*32768"):
        hear.get_scene_embeddings(pcm, model)
    broken = batch.copy()
    broken[1, 100] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite samples in sound\(s\) \[1\]"):
        hear.get_timestamp_embeddings(broken, model)
    with pytest.raises(ValueError, match=r"got shape \(96000,\)"):
        hear.get_scene_embeddings(speech, model)
    with pytest.raises(ValueError, match="torch.Tensor or NumPy array"):
        hear.get_scene_embeddings("speech.wav", model)
