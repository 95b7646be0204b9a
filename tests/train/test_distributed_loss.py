"""Two gloo ranks, each holding half of a global batch, equal one process holding all of it."""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from procs import free_ports, spawn

from dubclr.train.distributed import all_reduce_sum, gather_with_grad
from dubclr.train.loss import DubContrastiveLoss, LossConfig

B, D_IN, D = 8, 5, 4
CFG = LossConfig(temperature=0.1, lambda_v=0.5, lambda_a=0.25)


def inputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {k: torch.randn(B, D_IN, generator=g, dtype=torch.float64)
            for k in ("video_p", "video_s", "audio_p", "audio_s")}


def encoder() -> torch.nn.Linear:
    torch.manual_seed(1)
    return torch.nn.Linear(D_IN, D).double()


def loss_and_grads(rank: int, world: int):
    """The objective and the encoder's gradients as DDP would average them."""
    enc = encoder()
    n = B // world
    emb = {k: F.normalize(enc(x[rank * n:(rank + 1) * n]), dim=1) for k, x in inputs().items()}
    gather = gather_with_grad if world > 1 else (lambda t: (t, 0))
    out = DubContrastiveLoss(CFG)(emb, gather=gather, world_size=world)
    out.objective.backward()
    grads = torch.cat([enc.weight.grad.flatten(), enc.bias.grad])
    all_reduce_sum(grads)
    logged = all_reduce_sum(torch.stack([out.sums["loss"], out.sums["L_v"],
                                         torch.tensor(float(out.count), dtype=torch.float64)]))
    return logged, grads / world


def _worker(rank: int, world: int, port: int, queue) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}",
                            rank=rank, world_size=world)
    try:
        logged, grads = loss_and_grads(rank, world)
        if rank == 0:
            queue.put((logged.tolist(), grads.tolist()))  # no shared memory across exit
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_equal_one_process():
    single_logged, single_grads = loss_and_grads(0, 1)
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    spawn(_worker, (2, free_ports(1)[0], queue), nprocs=2)
    logged, grads = (torch.tensor(v, dtype=torch.float64) for v in queue.get())
    torch.testing.assert_close(logged, single_logged, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grads, single_grads, rtol=1e-10, atol=1e-12)
    assert logged[2].item() == B
