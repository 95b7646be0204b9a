"""SIGKILL at a known place, whatever the machine's speed: the run blocks in its loader
before the batch of step 10 (checkpoints at steps 4, 6 and 8 are written by then) and is
killed there; `--resume auto` continues from step 8 and logs exactly the losses, and ends
with exactly the weights, of an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dubclr.train import checkpoint as ckpt

SCRIPT = Path(__file__).with_name("toydata.py")


def launch(run_dir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "DUBCLR_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(SCRIPT), str(run_dir), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


TIMING = ("clips_per_s", "time_s", "mfu")  # the only values allowed to differ


def logged(run_dir: Path) -> list[dict]:
    rows = map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


@pytest.mark.timeout(180)
def test_sigkill_at_a_known_step_then_resume_auto_is_bitwise_identical(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    reference = launch(straight)
    victim = launch(killed, "--block-at", "1,3")  # epoch 1, batch 3: optimizer step 10
    marker = Path(f"{killed}.blocked")
    deadline = time.monotonic() + 120
    while not marker.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), victim.communicate()[1][-2000:]
    victim.send_signal(signal.SIGKILL)
    victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    names = [p.name for p in ckpt.list_checkpoints(killed / "checkpoints")]
    assert names == ["step_00000004", "step_00000006", "step_00000008"]
    assert len(logged(killed)) == 9  # step 9 was logged after the newest checkpoint

    _, err = reference.communicate(timeout=120)
    assert reference.returncode == 0, err
    resumed = launch(killed, "--resume", "auto")
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert f"resuming from {killed / 'checkpoints' / 'step_00000008'} (step 8)" in err
    assert logged(killed) == logged(straight)  # every logged value, to the last digit
    assert [r["step"] for r in logged(killed)] == list(range(1, 19))
    final_killed = ckpt.read_model_weights(killed / "checkpoints/step_00000018")
    final_straight = ckpt.read_model_weights(straight / "checkpoints/step_00000018")
    assert final_killed.keys() == final_straight.keys()
    for name, tensor in final_straight.items():
        assert torch.equal(final_killed[name], tensor), name
