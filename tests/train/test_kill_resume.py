"""A run killed with SIGKILL mid-training and resumed with --resume auto logs exactly the
losses of an uninterrupted run (CPU, bitwise)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("toydata.py")


def launch(run_dir: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "DUBCLR_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(SCRIPT), str(run_dir), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def logged(run_dir: Path) -> list[tuple]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r["loss"], r["L"], r["L_v"], r["L_a"], r["lr"], r["grad_norm"])
            for r in map(json.loads, lines)]


def last_step(run_dir: Path) -> int:
    try:
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
        return json.loads(lines[-1])["step"] if lines else 0
    except (OSError, ValueError):
        return 0


@pytest.mark.timeout(120)
def test_sigkill_then_resume_auto_matches_uninterrupted(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    reference = launch(straight)
    victim = launch(killed, "--sleep", "0.05")  # slowed down so the kill lands mid-run
    deadline = time.monotonic() + 90
    while last_step(killed) < 11 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert victim.poll() is None, "the run finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert 11 <= last_step(killed) < 18
    out, err = reference.communicate(timeout=90)
    assert reference.returncode == 0, err
    resumed = launch(killed, "--resume", "auto")
    out, err = resumed.communicate(timeout=90)
    assert resumed.returncode == 0, err
    assert "resuming from" in err
    assert logged(killed) == logged(straight)
    assert [r[0] for r in logged(killed)] == list(range(1, 19))
