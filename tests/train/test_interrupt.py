"""Ctrl-C on `dubclr train ... 2>&1 | tee log`, for real: the terminal sends SIGINT to the
whole process group (the trainer, its loader workers and tee), so the pipe closes while the
step finishes. The step's checkpoint is still written, and the run stops within that step."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dubclr.cli import main
from dubclr.train import checkpoint as ckpt

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "toy" / "EN.yaml"


def _steps_logged(run: Path) -> int:
    try:
        return len((run / "metrics.jsonl").read_text().splitlines())
    except OSError:
        return 0


@pytest.mark.timeout(240)
def test_ctrl_c_with_a_closed_pipe_still_checkpoints_the_step(tiny_catalog, tmp_path, capsys):
    run = tmp_path / "run"
    args = [str(CONFIG), f"data.catalog={tiny_catalog}", f"run_dir={run}",
            "data.sampler.batch_size=2", "data.sampler.same_title=1",
            "checkpoint.every_steps=1000"]
    env = {k: v for k, v in os.environ.items() if k != "DUBCLR_NO_PROGRESS"}  # a live bar
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "dubclr", "train", *args,
                             "data.num_workers=1", "schedule.max_steps=500"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)  # its own process group, as in a terminal
    deadline = time.monotonic() + 180
    while _steps_logged(run) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
    proc.stdout.close()  # tee ends...
    logged = _steps_logged(run)
    os.killpg(proc.pid, signal.SIGINT)  # ...with the trainer and its worker
    assert proc.wait(timeout=120) == 128 + signal.SIGINT
    last = _steps_logged(run)
    assert logged <= last <= logged + 2  # within the step that was running
    (newest,) = ckpt.list_checkpoints(run / "checkpoints")  # (periodic ones: every 1000)
    assert ckpt.read_trainer_state(newest)["step"] == last
    assert json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] == last

    # resuming with another setting is an error naming it; asked for, it goes on
    capsys.readouterr()
    assert main(["train", *args, "data.num_workers=0", f"schedule.max_steps={last + 1}",
                 "optim.lr=0.01", "--resume", "auto"]) == 2
    assert "optim.lr: 0.001 -> 0.01" in capsys.readouterr().err
    assert main(["train", *args, "data.num_workers=0", f"schedule.max_steps={last + 1}",
                 "optim.lr=0.01", "--resume-with-changes"]) == 0
    assert (run / f"config.until_step_{last:08d}.yaml").is_file()
    assert ckpt.list_checkpoints(run / "checkpoints")[-1].name == f"step_{last + 1:08d}"
