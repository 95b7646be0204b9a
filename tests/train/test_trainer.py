"""The loop on an in-memory dataset: learning, signals, resume, fallback, guards, init_from."""

import json
import shutil

import pytest
import torch
from toydata import TinyAV, train

from dubclr.errors import CheckpointError, ConfigError
from dubclr.train import checkpoint as ckpt
from dubclr.train.distributed import DistEnv
from dubclr.train.guards import TrainingDivergedError


def losses(run_dir) -> list[tuple[int, float, float, float]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"], r["L_v"], r["L_a"]) for r in rows]


def weights(path) -> dict[str, torch.Tensor]:
    return ckpt.read_model_weights(path)


def assert_same_weights(a, b) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: 3 epochs x 6 steps, checkpoints every 4 steps and at epoch ends."""
    run = tmp_path_factory.mktemp("reference")
    result = train(run)
    return run, result


def test_uninterrupted_run_learns_and_keeps_last_checkpoints(reference):
    run, result = reference
    assert result.step == result.total_steps == 18 and result.stopped_by is None
    rows = losses(run)
    assert [r[0] for r in rows] == list(range(1, 19))
    first, last = sum(r[1] for r in rows[:3]) / 3, sum(r[1] for r in rows[-3:]) / 3
    assert last < 0.5 * first, (first, last)
    names = [p.name for p in ckpt.list_checkpoints(run / "checkpoints")]
    assert names == ["step_00000012", "step_00000016", "step_00000018"]  # keep_last=3
    saved = (run / "config.yaml").read_text()
    assert "lr: 0.003" in saved and "every_steps: 4" in saved
    state = ckpt.read_trainer_state(run / "checkpoints" / "step_00000018")
    assert state["step"] == 18 and len(state["ranks"]) == 1
    assert json.loads((run / "checkpoints/step_00000018/model.json").read_text())["format"] == \
        "dubclr-model"


def test_sigterm_writes_a_checkpoint_and_resume_is_exact(reference, tmp_path):
    ref_run, _ = reference
    stopped = train(tmp_path, loader_kwargs={"signal_at": ((1, 2),)})
    assert stopped.stopped_by == "SIGTERM"
    assert stopped.step == 9  # the step that consumed batch (epoch 1, index 2)
    assert stopped.last_checkpoint.name == "step_00000009"
    resumed = train(tmp_path, resume="auto")
    assert resumed.step == 18
    assert losses(tmp_path) == losses(ref_run)
    assert_same_weights(tmp_path / "checkpoints/step_00000018", ref_run / "checkpoints/step_00000018")


def test_damaged_newest_checkpoint_falls_back_to_previous(reference, tmp_path, capsys):
    ref_run, _ = reference
    shutil.copytree(ref_run, tmp_path, dirs_exist_ok=True)
    newest = tmp_path / "checkpoints/step_00000018"
    data = bytearray((newest / "model.safetensors").read_bytes())
    data[-3] ^= 0xFF  # a flipped bit inside a tensor
    (newest / "model.safetensors").write_bytes(bytes(data))
    (tmp_path / "checkpoints/.tmp-step_00000020-99999").mkdir()  # a partial write
    resumed = train(tmp_path, resume="auto")
    err = capsys.readouterr().err
    assert "skipping checkpoint step_00000018" in err and "damaged" in err
    assert "resuming from" in err and "step_00000016" in err
    assert resumed.step == 18
    assert losses(tmp_path) == losses(ref_run)
    assert_same_weights(newest, ref_run / "checkpoints/step_00000018")
    assert not (tmp_path / "checkpoints/.tmp-step_00000020-99999").exists()


def test_truncated_state_is_skipped(reference, tmp_path):
    ref_run, _ = reference
    shutil.copytree(ref_run / "checkpoints", tmp_path, dirs_exist_ok=True)
    state = tmp_path / "step_00000018/trainer.pt"
    state.write_bytes(state.read_bytes()[:100])
    messages = []
    path = ckpt.newest_valid_checkpoint(tmp_path, ckpt.TRAINING_FILES, warn=messages.append)
    assert path.name == "step_00000016" and ckpt.read_trainer_state(path)["step"] == 16
    assert len(messages) == 1 and "trainer.pt" in messages[0]
    with pytest.raises(CheckpointError):
        ckpt.verify_checkpoint(tmp_path / "step_00000018")


def test_resume_path_that_is_not_a_checkpoint_says_what_to_give(reference, tmp_path):
    ref_run, _ = reference
    with pytest.raises(CheckpointError, match="step_00000018.*--resume auto"):
        ckpt.find_resume_point(tmp_path, ref_run, DistEnv())  # a run directory, as users pass it
    with pytest.raises(CheckpointError, match="RUN/checkpoints/step_XXXXXXXX"):
        ckpt.find_resume_point(tmp_path, tmp_path / "nowhere", DistEnv())


def test_resume_with_another_model_is_a_clear_error(reference, tmp_path):
    ref_run, _ = reference
    shutil.copytree(ref_run, tmp_path, dirs_exist_ok=True)
    with pytest.raises(CheckpointError, match="weights do not fit the model.*same model"):
        train(tmp_path, resume="auto", model_kwargs={"hidden": 24})


def test_existing_run_needs_resume(reference, tmp_path):
    ref_run, _ = reference
    shutil.copytree(ref_run, tmp_path, dirs_exist_ok=True)
    with pytest.raises(ConfigError, match="--resume auto"):
        train(tmp_path)


def test_non_finite_step_is_skipped_and_counted(tmp_path):
    result = train(tmp_path, loader_kwargs={"nan_batches": ((0, 2),)}, model_kwargs={"norm": True},
                   **{"schedule.epochs": 1})
    assert result.skipped_steps == 1
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["skipped_steps"] for r in rows] == [0, 0, 1, 1, 1, 1]
    assert rows[2]["loss"] is None and rows[2]["grad_norm"] is None  # JSON null, not NaN
    assert all(r["loss"] is not None for r in rows[3:])
    for k, v in weights(result.last_checkpoint).items():
        assert torch.isfinite(v).all(), k  # BatchNorm statistics included


def test_too_many_non_finite_steps_stop_with_last_good_checkpoint(tmp_path):
    bad = tuple((1, i) for i in range(6))
    with pytest.raises(TrainingDivergedError, match="3 steps in a row.*step_00000006"):
        train(tmp_path, loader_kwargs={"nan_batches": bad}, max_nonfinite_in_a_row=3)
    newest = ckpt.list_checkpoints(tmp_path / "checkpoints")[-1]
    assert newest.name == "step_00000006"
    ckpt.verify_checkpoint(newest, ckpt.TRAINING_FILES)


def test_init_from_keeps_or_resets_heads(reference):
    from dubclr.train.state import init_weights_from

    ref_run, _ = reference
    source = weights(ref_run / "checkpoints/step_00000018")
    torch.manual_seed(0)
    fresh = TinyAV().state_dict()
    for heads in ("keep", "reset"):
        torch.manual_seed(0)
        model = TinyAV()
        used = init_weights_from(model, ref_run, heads=heads)  # a run dir: newest valid
        assert used.name == "step_00000018"
        for k, v in model.state_dict().items():
            expected = fresh[k] if heads == "reset" and "head" in k else source[k]
            assert torch.equal(v, expected), (heads, k)
    with pytest.raises(CheckpointError, match="shape"):
        init_weights_from(TinyAV(hidden=5), ref_run)


def test_gradient_accumulation_averages_micro_batch_gradients():
    from toydata import RandomClips

    from dubclr.data.transforms import ViewTransforms
    from dubclr.train.loop.step import TrainStep
    from dubclr.train.loss import DubContrastiveLoss, LossConfig

    loss = DubContrastiveLoss(LossConfig(lambda_a=0.3))
    data = RandomClips(batch_size=4)
    b1, b2 = data.batch(0, 0), data.batch(0, 1)
    torch.manual_seed(0)
    model = TinyAV().double()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    expected = {k: torch.zeros_like(v) for k, v in start.items()}
    for b in (b1, b2):  # the mean of the two micro-batches' gradients
        model.zero_grad()
        loss(_embed(model, b)).objective.backward()
        for k, p in model.named_parameters():
            expected[k] += p.grad / 2
    model.zero_grad()
    sgd = torch.optim.SGD(model.parameters(), lr=1.0)
    runner = TrainStep(model, loss, sgd, DistEnv(), transforms=ViewTransforms(),
                       grad_clip=None, autocast_dtype=None)
    result = runner.run([{k: v.double() for k, v in b.items()} for b in (b1, b2)], False)
    assert result.finite and result.count == 8
    for k, p in model.named_parameters():
        torch.testing.assert_close(start[k] - p.detach(), expected[k], rtol=1e-9, atol=1e-12)


def _embed(model, batch):
    batch = {k: v.double() for k, v in batch.items()}
    out = model(video=torch.cat([batch["video_p"], batch["video_s"]]),
                audio=torch.cat([batch["audio_p"], batch["audio_s"]]))
    v_p, v_s = out["video"].chunk(2)
    a_p, a_s = out["audio"].chunk(2)
    return {"video_p": v_p, "video_s": v_s, "audio_p": a_p, "audio_s": a_s}


def test_divergence_message_reads_with_and_without_a_checkpoint():
    from dubclr.train.guards import NonFiniteGuard

    for last, expected in (("runs/x/checkpoints/step_00000006",
                            "The last good checkpoint is runs/x/checkpoints/step_00000006; "
                            "continue from it with --resume auto after lowering optim.lr"),
                           (None, "No checkpoint was written yet; start the run again after")):
        guard = NonFiniteGuard(limit=2)
        guard.record(1, False, last)
        with pytest.raises(TrainingDivergedError) as err:
            guard.record(2, False, last)
        assert expected in str(err.value) and "is none was" not in str(err.value)
