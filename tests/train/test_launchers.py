"""The launches the README promises, with the real loader, decoder and tiny MViT towers on
the tiny corpus: torchrun with `--resume auto`, srun-style SLURM variables (the same run
bitwise), Ctrl-C (SIGINT) and `--resume PATH`."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from procs import free_ports

from dubclr.train import checkpoint as ckpt

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "toy" / "EFJ.yaml"
LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
VALUES = ("step", "epoch", "loss", "L", "L_v", "L_a", "lr", "grad_norm")


@pytest.fixture(scope="module")
def catalog(tiny_corpus, tmp_path_factory) -> Path:
    from dubclr.data.indexer import index_folder

    path = tmp_path_factory.mktemp("launch_catalog") / "catalog.sqlite"
    index_folder(tiny_corpus, path, show_progress=False)
    return path


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in LAUNCH_VARS and not k.startswith("SLURM_")}
    return {**env, "DUBCLR_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1", **extra}


def train_args(catalog: Path, run_dir: Path, *extra: str) -> list[str]:
    return ["train", str(CONFIG), f"data.catalog={catalog}", f"run_dir={run_dir}",
            "data.sampler.batch_size=2", "data.sampler.same_title=1", "data.num_workers=0",
            "checkpoint.every_steps=1", *extra]


def torchrun(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "dubclr", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=base_env(), timeout=240)


def rows(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: r[k] for k in VALUES} for r in map(json.loads, lines)]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_torchrun_resume_auto_and_slurm_tasks_train_the_same_run(catalog, tmp_path):
    by_torchrun, by_slurm = tmp_path / "torchrun", tmp_path / "slurm"
    first = torchrun(*train_args(catalog, by_torchrun, "schedule.max_steps=1"))
    assert first.returncode == 0, first.stderr[-3000:]
    again = torchrun(*train_args(catalog, by_torchrun, "schedule.max_steps=3"), "--resume", "auto")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming from" in again.stderr and "(step 1)" in again.stderr
    assert "trained steps 2..3" in again.stdout

    # srun --ntasks 2 without torchrun: SLURM_* variables, MASTER_* from the job script
    port = free_ports(1)[0]
    tasks = [subprocess.Popen([sys.executable, "-m", "dubclr",
                               *train_args(catalog, by_slurm, "schedule.max_steps=3")],
                              env=base_env(SLURM_PROCID=str(r), SLURM_NTASKS="2",
                                           SLURM_LOCALID=str(r), MASTER_ADDR="127.0.0.1",
                                           MASTER_PORT=str(port)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(2)]
    outputs = [t.communicate(timeout=240) for t in tasks]
    for task, (_, err) in zip(tasks, outputs):
        assert task.returncode == 0, err[-3000:]

    assert [r["step"] for r in rows(by_torchrun)] == [1, 2, 3]
    assert rows(by_torchrun) == rows(by_slurm)  # resumed torchrun run == straight SLURM run
    for run in (by_torchrun, by_slurm):
        newest = ckpt.list_checkpoints(run / "checkpoints")[-1]
        state = ckpt.read_trainer_state(newest)
        assert newest.name == "step_00000003" and state["world_size"] == 2


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_ctrl_c_writes_a_checkpoint_and_resume_path_continues_from_it(catalog, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "dubclr",
                             *train_args(catalog, run, "schedule.max_steps=60")],
                            env=base_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    first = run / "checkpoints" / "step_00000001"
    deadline = time.monotonic() + 200
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.exists() and proc.poll() is None, proc.communicate()[1][-3000:]
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    out, err = proc.communicate(timeout=200)
    assert proc.returncode == 128 + signal.SIGINT, err[-3000:]
    newest = ckpt.list_checkpoints(run / "checkpoints")[-1]
    stopped_at = ckpt.read_trainer_state(newest)["step"]
    assert 1 <= stopped_at < 60 and newest.name == f"step_{stopped_at:08d}"
    assert f"checkpoint:  {newest}" in out
    assert "stopped by SIGINT; continue with: dubclr train" in err and "--resume auto" in err
    assert [r["step"] for r in rows(run)] == list(range(1, stopped_at + 1))

    resumed = subprocess.run(
        [sys.executable, "-m", "dubclr",
         *train_args(catalog, run, f"schedule.max_steps={stopped_at + 2}"), "--resume",
         str(newest)], env=base_env(), capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {newest} (step {stopped_at})" in resumed.stderr
    assert [r["step"] for r in rows(run)] == list(range(1, stopped_at + 3))
