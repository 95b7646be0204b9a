"""Multi-process helpers for the gloo tests: free ports, and a spawn that cannot hang."""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack

import torch.multiprocessing as mp


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports that were free a moment ago (all bound at once, then released)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def spawn(fn, args: tuple, nprocs: int, timeout_s: float = 120) -> None:
    """mp.spawn that fails (and kills its workers) instead of hanging the test session."""
    context = mp.spawn(fn, args=args, nprocs=nprocs, join=False)
    deadline = time.monotonic() + timeout_s
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for p in context.processes:
                p.kill()
            raise AssertionError(f"the {nprocs} processes did not finish in {timeout_s} s")
