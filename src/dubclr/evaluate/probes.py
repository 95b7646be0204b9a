"""Frozen-feature probes: the HEAR MLP/linear recipe and the SGD linear probe for video.

HEAR recipe (``mlp`` / ``linear``): features standardised with training statistics, then
0 (linear), 1 or 2 hidden layers of 1024 with BatchNorm, ReLU and dropout 0.1; Adam over
the learning-rate grid {3.2e-3, 1e-3, 3.2e-4, 1e-4}; batches of 1024; early stopping on
the validation score. For each seed the grid point with the best validation score is
kept and its test score reported. Video recipe (``sgd``): a linear layer trained with SGD
(lr 0.2, momentum 0.9, cosine schedule, 200 epochs, batch 1024), no grid.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dubclr.errors import ConfigError
from dubclr.evaluate.probe_data import ProbeDataset, Split
from dubclr.progress import progress

SMALL_PROBLEM = 2_000_000  # ~ samples x features x hidden / 64
METRICS = {"multiclass": "top1", "multilabel": "mAP", "regression": "mse"}


@dataclass
class ProbeConfig:
    kind: str = "mlp"  # mlp | linear | sgd
    hidden_layers: tuple[int, ...] = (1, 2)  # grid over depth for kind=mlp
    hidden_dim: int = 1024
    dropout: float = 0.1
    learning_rates: tuple[float, ...] = (3.2e-3, 1e-3, 3.2e-4, 1e-4)
    max_epochs: int = 500
    patience: int = 20  # epochs without a better validation score
    batch_size: int = 1024
    seeds: tuple[int, ...] = (0, 1, 2)
    sgd_lr: float = 0.2
    sgd_momentum: float = 0.9
    sgd_epochs: int = 200

    def __post_init__(self) -> None:
        if self.kind not in ("mlp", "linear", "sgd"):
            raise ConfigError(f"probe.kind must be mlp, linear or sgd, got {self.kind!r}")
        if not self.seeds:
            raise ConfigError("probe.seeds must name at least one seed")
        for name in ("hidden_dim", "max_epochs", "patience", "batch_size", "sgd_epochs"):
            if getattr(self, name) < 1:
                raise ConfigError(f"probe.{name} must be >= 1, got {getattr(self, name)} "
                                  f"(--{name.replace('_', '-')})")

    def grid(self) -> list[tuple[int, float]]:
        """(hidden layers, learning rate) points to search."""
        if self.kind == "sgd":
            return [(0, self.sgd_lr)]
        depths = self.hidden_layers if self.kind == "mlp" else (0,)
        return [(d, lr) for d in depths for lr in self.learning_rates]


# ---------------------------------------------------------------- metrics


def top1(scores: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == y))


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    hits = positives[order].astype(bool)
    if not hits.any():
        return float("nan")
    precision_at_hits = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
    return float(precision_at_hits.mean())


def mean_average_precision(scores: np.ndarray, y: np.ndarray) -> float:
    """Macro mAP over the classes that have at least one positive."""
    aps = [average_precision(scores[:, c], y[:, c]) for c in range(y.shape[1]) if y[:, c].any()]
    return float(np.mean(aps)) if aps else float("nan")


def score(task: str, pred: np.ndarray, y: np.ndarray) -> float:
    """The task's metric (top-1, mAP or MSE)."""
    if task == "multiclass":
        return top1(pred, y)
    if task == "multilabel":
        return mean_average_precision(pred, y)
    return float(np.mean((pred.reshape(y.shape) - y) ** 2))


def _higher_is_better(task: str, value: float) -> float:
    return -value if task == "regression" else value


# ---------------------------------------------------------------- model and training


def build_probe(in_dim: int, out_dim: int, hidden_layers: int, hidden_dim: int,
                dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(),
                   nn.Dropout(dropout)]
        width = hidden_dim
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def _loss(task: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if task == "multiclass":
        return F.cross_entropy(out, y)
    if task == "multilabel":
        return F.binary_cross_entropy_with_logits(out, y)
    return F.mse_loss(out.reshape(y.shape), y)


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor, task: str) -> np.ndarray:
    model.eval()
    out = model(x)
    if task == "multilabel":
        out = torch.sigmoid(out)
    return out.numpy()


def _batches(n: int, batch_size: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, batch_size):
        idx = perm[i:i + batch_size]
        if len(idx) > 1 or n == 1:  # BatchNorm needs two samples
            yield idx


def train_probe(x_tr: torch.Tensor, y_tr: torch.Tensor, x_va: torch.Tensor, y_va: np.ndarray,
                task: str, out_dim: int, depth: int, lr: float, cfg: ProbeConfig,
                seed: int) -> tuple[nn.Module, float]:
    """Train one grid point; returns the model at its best validation epoch and that score."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build_probe(x_tr.shape[1], out_dim, depth, cfg.hidden_dim, cfg.dropout)
    if cfg.kind == "sgd":
        epochs = cfg.sgd_epochs
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=cfg.sgd_momentum)
        steps = epochs * max(1, -(-len(x_tr) // cfg.batch_size))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    else:
        epochs = cfg.max_epochs
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = None
    best, best_state, stale = -np.inf, copy.deepcopy(model.state_dict()), 0
    for _ in range(epochs):
        model.train()
        for idx in _batches(len(x_tr), cfg.batch_size, gen):
            opt.zero_grad(set_to_none=True)
            _loss(task, model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
            if sched is not None:
                sched.step()
        if cfg.kind == "sgd":
            continue  # fixed schedule: the last epoch is the model
        val = _higher_is_better(task, score(task, _predict(model, x_va, task), y_va))
        if val > best:
            best, best_state, stale = val, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    if cfg.kind == "sgd":  # no selection: the validation score is only reported
        best = (_higher_is_better(task, score(task, _predict(model, x_va, task), y_va))
                if len(x_va) else float("nan"))
    else:
        model.load_state_dict(best_state)
    return model, float(best)


def _standardise(x: np.ndarray, train: np.ndarray) -> np.ndarray:
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0) + 1e-6
    return (x - mean) / std


def run_split(data: ProbeDataset, split: Split, cfg: ProbeConfig, seed: int) -> dict:
    """Grid search on one split with one seed; the chosen point's test score."""
    task = data.task
    x = torch.from_numpy(_standardise(data.x, split.train).astype(np.float32))
    y = data.y
    y_scale = (0.0, 1.0)
    if task == "regression":  # fit standardised targets, report MSE in the original units
        y_scale = (float(y[split.train].mean()), float(y[split.train].std() + 1e-6))
        y = (y - y_scale[0]) / y_scale[1]
    out_dim = 1 if task == "regression" else (
        len(data.classes) if task == "multiclass" else data.y.shape[1])
    y_t = torch.from_numpy(y)
    best = None
    for depth, lr in cfg.grid():
        model, val = train_probe(x[split.train], y_t[split.train], x[split.valid],
                                 y[split.valid], task, out_dim, depth, lr, cfg, seed)
        if best is None or val > best[0]:
            best = (val, depth, lr, model)
    val, depth, lr, model = best
    pred = _predict(model, x[split.test], task)
    if task == "regression":
        pred = pred * y_scale[1] + y_scale[0]
        val = -val * y_scale[1] ** 2
    return {"split": split.name, "seed": seed, "hidden_layers": depth, "lr": lr,
            "valid": None if len(split.valid) == 0 else float(val),
            "valid_source": split.valid_source, "test": score(task, pred, data.y[split.test])}


@contextmanager
def _threads_for(size: int):
    """One thread for small problems: thread start-up dominates their tiny kernels (on a
    busy 2-core machine a 4x slow-down), and results do not depend on the count."""
    before = torch.get_num_threads()
    if size < SMALL_PROBLEM:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_probe(data: ProbeDataset, cfg: ProbeConfig, desc: str = "probe") -> dict:
    """Every split x seed; the summary is the mean and std of the test scores."""
    if cfg.kind != "sgd" and any(len(s.valid) == 0 for s in data.splits):
        raise ConfigError(f"the {cfg.kind} probe selects its grid point and stops early on a "
                          "validation split, and there is none: add 'valid' rows, or build the "
                          "dataset with a valid_fraction to hold some train rows out")
    runs = []
    jobs = [(s, seed) for s in data.splits for seed in cfg.seeds]
    with _threads_for(data.x.size * max(cfg.hidden_dim if cfg.kind == "mlp" else 1, 1) // 64):
        for split, seed in progress(jobs, desc=desc, unit="run", leave=False):
            runs.append(run_split(data, split, cfg, seed))
    tests = np.array([r["test"] for r in runs])
    config = asdict(cfg)
    notes = {s.describe_validation() for s in data.splits} - {None}
    return {"task": data.task, "metric": METRICS[data.task], "mean": float(tests.mean()),
            "std": float(tests.std()), "n_samples": len(data.keys),
            "n_classes": len(data.classes), "probe": config, "runs": runs,
            "validation": "; ".join(sorted(notes)) or None}
