"""The learning-rate schedule, and every shipped config: it loads, validates and builds."""

import math
from pathlib import Path

import pytest
import torch

from dubclr.config import load_config
from dubclr.errors import ConfigError
from dubclr.models.av import build_model
from dubclr.train.config import TrainConfig
from dubclr.train.schedule import WarmupCosine, warmup_cosine

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SHIPPED = sorted(p for p in CONFIGS.rglob("*.yaml") if not p.name.startswith("_"))


def test_warmup_then_half_cosine():
    total, warm = 100, 10
    lrs = [warmup_cosine(s, total, warm) for s in range(total)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == 1.0
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:10]))  # linear rise
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # then falls
    assert lrs[10 + 45] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))  # midpoint
    assert warmup_cosine(total, total, warm, min_ratio=0.1) == pytest.approx(0.1)


def test_scheduler_sets_lr_and_round_trips():
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = WarmupCosine(opt, 2e-3, total_steps=20, warmup_steps=4)
    for _ in range(7):
        sched.step()
    other = WarmupCosine(opt, 2e-3, total_steps=20, warmup_steps=4)
    other.load_state_dict(sched.state_dict())
    assert opt.param_groups[0]["lr"] == sched.lr == pytest.approx(2e-3 * warmup_cosine(7, 20, 4))


def test_all_paper_and_controlled_variants_are_shipped():
    names = {p.relative_to(CONFIGS).with_suffix("").as_posix() for p in SHIPPED}
    for v in ("A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "B5", "C1", "C2"):
        assert f"paper/{v}" in names
    for v in ("EN", "ES", "FR", "JA", "EFJ", "SEP", "AUD", "AUD_EFJ"):
        assert f"controlled/{v}" in names
    assert {"toy/EN", "toy/EFJ"} <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(CONFIGS).as_posix())
def test_config_loads_and_builds_on_meta(path):
    cfg = load_config(TrainConfig, path)
    with torch.device("meta"):
        model = build_model(cfg.model)
    heads = [h for h in (model.video_head, model.audio_head) if h is not None]
    assert heads and all(h.out_dim == cfg.model.head.out_dim for h in heads)
    if not {"toy", "study"} & set(path.parts):  # the paper's sizes; toy and study scale down
        assert cfg.model.head.out_dim == 512 and cfg.loss.temperature == 0.07
    else:
        assert cfg.loss.temperature == 0.07


def test_paper_hyperparameters():
    b5 = load_config(TrainConfig, CONFIGS / "paper/B5.yaml")
    assert (b5.optim.lr, b5.optim.weight_decay, b5.schedule.epochs, b5.schedule.warmup_epochs) \
        == (3e-4, 0.05, 12, 2)
    assert (b5.loss.lambda_v, b5.loss.lambda_a, b5.loss.temperature) == (0.2, 0.2, 0.07)
    assert b5.data.selection.min_tracks == 2 and b5.init_from.path == Path("runs/paper/B3")
    assert b5.data.sampler.batch_size == 64 and b5.data.sampler.group_size() == 8
    c2 = load_config(TrainConfig, CONFIGS / "paper/C2.yaml")
    assert c2.model.video.preset == "B" and (c2.loss.lambda_v, c2.loss.lambda_a) == (0.1, 0.1)
    efj = load_config(TrainConfig, CONFIGS / "controlled/EFJ.yaml")
    assert efj.data.sampler.group_size() == 12 and efj.data.sampler.batch_size == 26
    assert (efj.model.audio.channels, efj.model.audio.out_dim, efj.model.video.out_dim) == (2, 1024, 1024)
    assert (efj.optim.lr, efj.schedule.epochs, efj.schedule.warmup_epochs) == (1e-3, 10, 0.5)
    assert str(efj.data.dub_policy) == "cycle:es,fr,ja" and efj.data.dub_policy.kind == "cycle"


def test_inconsistent_configs_name_the_field():
    with pytest.raises(ConfigError, match="lambda_a"):
        load_config(TrainConfig, CONFIGS / "controlled/AUD.yaml", ["loss.lambda_a=0"])
    with pytest.raises(ConfigError, match="data.audio.channels"):
        load_config(TrainConfig, CONFIGS / "controlled/EN.yaml", ["data.audio.channels=1"])
    with pytest.raises(ConfigError, match="optim.accum_steps"):
        load_config(TrainConfig, CONFIGS / "toy/EN.yaml", ["optim.accum_steps=0"])


def test_resume_hint_names_the_launcher_under_torchrun():
    import argparse

    from dubclr.cli.train_cmds import resume_hint

    args = argparse.Namespace(config="configs/toy/EN.yaml", overrides=["device=cpu"])
    assert resume_hint(args, 1) == "dubclr train configs/toy/EN.yaml device=cpu --resume auto"
    hint = resume_hint(args, 2)
    assert "2 processes" in hint and "torchrun" in hint and hint.endswith("device=cpu --resume auto")


@pytest.mark.parametrize(("override", "model_key", "data_key"), [
    ("model.video.frames=4", "model.video.frames", "data.video.num_frames"),
    ("model.video.crop=32", "model.video.crop", "data.video.crop"),
    ("model.audio.channels=2", "model.audio.channels", "data.audio.channels"),
    ("model.audio.mel_bins=64", "model.audio.mel_bins", "data.audio.n_mels"),
    ("model.audio.mel_frames=144", "model.audio.mel_frames", "data.audio.frames"),
])
def test_tower_input_must_match_what_the_loader_makes(override, model_key, data_key):
    with pytest.raises(ConfigError, match=f"{model_key}=.* but {data_key}="):
        load_config(TrainConfig, CONFIGS / "toy" / "EN.yaml", [override])
