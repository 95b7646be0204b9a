"""Resuming keeps the run's promises: a changed config is an error listing what changed,
unless asked for (then both configs are kept); runtime settings may change freely."""

import pytest
import yaml
from toydata import train

from dubclr.errors import ConfigError


def test_resume_with_a_changed_schedule_is_an_error_unless_asked(tmp_path):
    run = tmp_path / "run"
    train(run, **{"schedule.max_steps": 4})
    before = (run / "config.yaml").read_text()
    with pytest.raises(ConfigError) as caught:
        train(run, resume="auto", **{"schedule.epochs": 4, "optim.lr": 1e-3})
    message = str(caught.value)
    assert "schedule.epochs: 3.0 -> 4.0" in message and "optim.lr: 0.003 -> 0.001" in message
    assert "--resume-with-changes" in message
    assert (run / "config.yaml").read_text() == before  # nothing overwritten

    # where it stops, how often it logs and checkpoints: not a change of what is trained
    result = train(run, resume="auto", **{"schedule.max_steps": 6, "log.every_steps": 2,
                                          "checkpoint.keep_last": 4})
    assert (result.start_step, result.step, result.total_steps) == (4, 6, 18)

    result = train(run, resume="auto", resume_with_changes=True, **{"schedule.epochs": 4})
    assert (result.start_step, result.step, result.total_steps) == (6, 24, 24)
    kept = yaml.safe_load((run / "config.until_step_00000006.yaml").read_text())
    assert kept["schedule"]["epochs"] == 3 and kept["schedule"]["max_steps"] == 6
    assert yaml.safe_load((run / "config.yaml").read_text())["schedule"]["epochs"] == 4
