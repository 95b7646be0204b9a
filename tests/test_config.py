"""The typed config loader: YAML, _base_ inheritance, dotted overrides, errors that name the key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from dubclr.config import apply_overrides, from_dict, load_config, save_config, to_dict
from dubclr.errors import ConfigError


@dataclass
class Optim:
    lr: float = 3e-4
    betas: tuple[float, float] = (0.9, 0.999)
    name: Literal["adamw", "sgd"] = "adamw"


@dataclass
class Exp:
    optim: Optim = field(default_factory=Optim)
    epochs: int = 12
    languages: list[str] = field(default_factory=lambda: ["en"])
    init_from: Path | None = None
    amp: bool = True


def test_defaults_and_nested_override():
    cfg = load_config(Exp, None, ["optim.lr=1e-3", "epochs=3", "languages=[es, fr]"])
    assert cfg.optim.lr == pytest.approx(1e-3)
    assert cfg.epochs == 3
    assert cfg.languages == ["es", "fr"]
    assert cfg.optim.betas == (0.9, 0.999)


def test_yaml_with_base_inheritance(tmp_path: Path):
    (tmp_path / "base.yaml").write_text("epochs: 10\noptim:\n  lr: 1.0e-3\n  name: sgd\n")
    (tmp_path / "child.yaml").write_text("_base_: base.yaml\noptim:\n  lr: 2.0e-3\n")
    cfg = load_config(Exp, tmp_path / "child.yaml")
    assert cfg.epochs == 10
    assert cfg.optim.name == "sgd"  # kept from the base
    assert cfg.optim.lr == pytest.approx(2e-3)  # the child's own key wins


def test_round_trip_through_yaml(tmp_path: Path):
    cfg = load_config(Exp, None, ["init_from=runs/b3", "optim.betas=[0.8, 0.9]"])
    save_config(cfg, tmp_path / "resolved.yaml")
    again = load_config(Exp, tmp_path / "resolved.yaml")
    assert again == cfg
    assert isinstance(again.init_from, Path)


def test_unknown_key_names_key_and_allowed():
    with pytest.raises(ConfigError) as err:
        load_config(Exp, None, ["optim.learning_rate=1"])
    msg = str(err.value)
    assert "optim.learning_rate" in msg
    assert "lr" in msg and "betas" in msg


@pytest.mark.parametrize(
    ("override", "key"),
    [("epochs=ten", "epochs"), ("amp=3", "amp"), ("optim.name=adam", "optim.name"),
     ("optim.betas=[1, 2, 3]", "optim.betas"), ("optim.lr=fast", "optim.lr")],
)
def test_ill_typed_values_name_the_key(override: str, key: str):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(Exp, None, [override])


def test_override_syntax_errors():
    with pytest.raises(ConfigError, match="key.path=value"):
        apply_overrides({}, ["epochs"])
    with pytest.raises(ConfigError, match="is a value"):
        apply_overrides({"epochs": 3}, ["epochs.sub=1"])


def test_to_dict_is_plain_data():
    data = to_dict(Exp())
    assert data["optim"] == {"lr": 3e-4, "betas": [0.9, 0.999], "name": "adamw"}
    assert from_dict(Exp, data) == Exp()


def test_missing_file_and_bad_yaml(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Exp, tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("optim: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Exp, tmp_path / "bad.yaml")


def test_a_missing_base_names_the_line_that_asked_for_it(tmp_path: Path):
    (tmp_path / "exp.yaml").write_text("# experiment\noptim:\n  lr: 1.0e-3\n_base_: ../_shared.yaml\n")
    with pytest.raises(ConfigError) as exc:
        load_config(Exp, tmp_path / "exp.yaml")
    message = str(exc.value)
    assert f"{tmp_path / 'exp.yaml'}:4: _base_: ../_shared.yaml asks for" in message
    assert str((tmp_path.parent / "_shared.yaml").resolve()) in message
