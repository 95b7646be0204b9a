"""Two gloo processes (as torchrun starts them) train the same model as one process on the
same global batches, and resume from their own checkpoint."""

import json
import os

import torch
from procs import free_ports, spawn
from toydata import train

from dubclr.train import checkpoint as ckpt

STEPS = {"schedule.epochs": 2, "schedule.max_steps": 8}


def _worker(rank: int, world: int, ports: tuple[int, int], run_dir: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1")
    torch.set_num_threads(1)
    kwargs = {"loader_kwargs": {"batch_size": 4}, "model_kwargs": {"dropout": 0.0},
              "dist_timeout_s": 60}
    os.environ["MASTER_PORT"] = str(ports[0])  # each launch its own rendezvous, as torchrun
    train(run_dir, **kwargs, **{**STEPS, "schedule.max_steps": 5})  # stops at step 5...
    os.environ["MASTER_PORT"] = str(ports[1])
    train(run_dir, resume="auto", **kwargs, **STEPS)  # ...and resumes from its checkpoint


def rows(run_dir) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_two_ranks_train_like_one_process_on_the_global_batch(tmp_path):
    single, double = tmp_path / "single", tmp_path / "double"
    train(single, loader_kwargs={"batch_size": 8}, model_kwargs={"dropout": 0.0}, **STEPS)
    spawn(_worker, (2, tuple(free_ports(2)), str(double)), nprocs=2)

    one, two = rows(single), rows(double)
    assert [r["step"] for r in two] == list(range(1, 9))
    for a, b in zip(one, two):
        for key in ("loss", "L_v", "L_a", "grad_norm", "lr"):
            assert abs(a[key] - b[key]) <= 1e-5 * max(1.0, abs(a[key])), (a["step"], key)
    final_one = ckpt.read_model_weights(single / "checkpoints/step_00000008")
    final_two = ckpt.read_model_weights(double / "checkpoints/step_00000008")
    for k in final_one:
        torch.testing.assert_close(final_two[k], final_one[k], rtol=1e-4, atol=1e-5)
    names = [p.name for p in ckpt.list_checkpoints(double / "checkpoints")]
    assert names == ["step_00000005", "step_00000006", "step_00000008"]  # keep_last=3
    state = ckpt.read_trainer_state(double / "checkpoints/step_00000008")
    assert state["world_size"] == 2 and len(state["ranks"]) == 2
    assert state["ranks"][1]["loader"] == {"epoch": 1, "position": 2}
