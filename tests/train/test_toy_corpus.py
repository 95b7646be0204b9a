"""End to end on the synthetic corpus: `dubclr train` on a toy config with the real
decoder, loader, transforms and tiny MViT towers; a resumed run repeats an uninterrupted
one exactly, and the checkpoint loads with load_model."""

import json
from pathlib import Path

import pytest
import torch

from dubclr.cli import main
from dubclr.models.checkpoint import load_model
from dubclr.train import checkpoint as ckpt

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def catalog(tiny_catalog) -> Path:
    return tiny_catalog


@pytest.fixture(params=["originals", "shards"])
def source(request) -> str:
    """Where the clips come from: ``data.shards=null`` or the tiny corpus' shards."""
    if request.param == "originals":
        return "data.shards=null"
    return f"data.shards={request.getfixturevalue('tiny_shards')}"


def run_cli(config: str, catalog: Path, run_dir: Path, *extra: str) -> int:
    return main(["train", str(CONFIGS / config), f"data.catalog={catalog}", f"run_dir={run_dir}",
                 "data.sampler.batch_size=2", "data.sampler.same_title=1", "data.num_workers=0",
                 "checkpoint.every_steps=2",
                 *extra])


@pytest.mark.slow
def test_toy_dub_augmented_run_trains_checkpoints_and_resumes(catalog, source, tmp_path,
                                                             capsys):
    run = tmp_path / "efj"
    assert run_cli("toy/EFJ.yaml", catalog, run, "schedule.max_steps=2", source) == 0
    out = capsys.readouterr().out
    assert f"checkpoint:  {run / 'checkpoints' / 'step_00000002'}" in out
    assert f"curves:      {run / 'curves.png'}" in out and (run / "curves.png").is_file()
    state = ckpt.read_trainer_state(run / "checkpoints/step_00000002")
    assert state["optimizer_steps_per_epoch"] > 2  # so the resume below starts mid-epoch
    assert run_cli("toy/EFJ.yaml", catalog, run, "schedule.max_steps=3", source,
                   "--resume", "auto") == 0
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert all(r[k] is not None and r[k] > 0 for k in ("loss", "L", "L_v", "L_a"))
    # the same 3 steps without the interruption: real decoder, sampler and augmentations
    straight = tmp_path / "straight"
    assert run_cli("toy/EFJ.yaml", catalog, straight, "schedule.max_steps=3", source) == 0
    keys = ("step", "loss", "L", "L_v", "L_a", "lr", "grad_norm")
    rows_straight = [json.loads(x) for x in (straight / "metrics.jsonl").read_text().splitlines()]
    assert [[r[k] for k in keys] for r in rows] == [[r[k] for k in keys] for r in rows_straight]
    newest = ckpt.list_checkpoints(run / "checkpoints")[-1]
    assert newest.name == "step_00000003"
    model = load_model(newest)  # the models area reads a training checkpoint directly
    saved = ckpt.read_model_weights(newest)
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    assert model.config.video.preset == "tiny"
    from_run = load_model(run)  # a run directory means its newest valid checkpoint
    for k, v in from_run.state_dict().items():
        assert torch.equal(v, saved[k]), k


def test_a_run_built_from_its_config_hands_back_its_model_and_state(catalog, tmp_path):
    from dubclr.config import load_config
    from dubclr.models.av import AVModel
    from dubclr.train import TrainConfig, Trainer

    cfg = load_config(TrainConfig, CONFIGS / "toy/EN.yaml",
                      [f"data.catalog={catalog}", f"run_dir={tmp_path}", "data.num_workers=0",
                       "data.sampler.batch_size=2", "data.sampler.same_title=1",
                       "schedule.max_steps=1"])
    trainer = Trainer(cfg, show_progress=False)
    result = trainer.fit()
    assert isinstance(trainer.model, AVModel) and trainer.state.model is trainer.model
    assert trainer.state.step == result.step == 1
    assert trainer.state.loader.position == 1  # the loader owns its place in the epoch
    saved = ckpt.read_model_weights(result.last_checkpoint)
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, saved[k]), k
