"""The objective against a literal per-instance reading of the paper's eq. 1-3."""

import math

import pytest
import torch
import torch.nn.functional as F

from dubclr.data.policies import parse_dub_policy
from dubclr.errors import ConfigError
from dubclr.train.loss import DubContrastiveLoss, LossConfig, pair_loss


def naive_l(x: torch.Tensor, y: torch.Tensor, i: int, tau: float) -> float:
    """Eq. 1 written out: positive (x_i, y_i); negatives (x_i, y_j), (x_j, y_i), j != i."""
    pos = math.exp(float(x[i] @ y[i]) / tau)
    neg = 0.0
    for j in range(x.shape[0]):
        if j != i:
            neg += math.exp(float(x[i] @ y[j]) / tau) + math.exp(float(x[j] @ y[i]) / tau)
    return -math.log(pos / (pos + neg))


def random_embeddings(b: int, d: int, seed: int, dtype=torch.float64) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    keys = ("video_p", "video_s", "audio_p", "audio_s")
    return {k: F.normalize(torch.randn(b, d, generator=g, dtype=dtype), dim=1) for k in keys}


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_total_equals_naive_loop(reduction):
    b, tau, lv, la = 6, 0.07, 0.3, 0.2
    z = random_embeddings(b, 8, seed=1)
    loss = DubContrastiveLoss(LossConfig(temperature=tau, lambda_v=lv, lambda_a=la,
                                         reduction=reduction))
    out = loss(z)
    L = 0.5 * sum(naive_l(z["video_p"], z["audio_s"], i, tau)
                  + naive_l(z["video_s"], z["audio_p"], i, tau) for i in range(b))
    Lv = sum(naive_l(z["video_p"], z["video_s"], i, tau) for i in range(b))
    La = sum(naive_l(z["audio_p"], z["audio_s"], i, tau) for i in range(b))
    total = L + lv * Lv + la * La
    assert out.sums["L"].item() == pytest.approx(L, rel=1e-10)
    assert out.sums["L_v"].item() == pytest.approx(Lv, rel=1e-10)
    assert out.sums["L_a"].item() == pytest.approx(La, rel=1e-10)
    expected = total / b if reduction == "mean" else total
    assert out.objective.item() == pytest.approx(expected, rel=1e-10)


def test_terms_logged_with_zero_weights_and_policies():
    z = random_embeddings(4, 8, seed=2)
    out = DubContrastiveLoss(LossConfig())(z)
    assert set(out.sums) == {"L", "L_v", "L_a", "loss"}
    assert out.sums["loss"].item() == pytest.approx(out.sums["L"].item())
    # separated: no a_s, so a_p pairs with both videos and L_a is undefined
    sep = {k: v for k, v in z.items() if k != "audio_s"}
    out = DubContrastiveLoss(LossConfig(), parse_dub_policy("separated").loss_terms)(sep)
    L = 0.5 * sum(naive_l(z["video_p"], z["audio_p"], i, 0.07)
                  + naive_l(z["video_s"], z["audio_p"], i, 0.07) for i in range(4))
    assert set(out.sums) == {"L", "L_v", "loss"}
    assert out.sums["L"].item() == pytest.approx(L, rel=1e-10)
    # audio only: within-audio term, which needs a weight
    aud = {k: z[k] for k in ("audio_p", "audio_s")}
    audio_only = parse_dub_policy("audio_only").loss_terms
    with pytest.raises(ConfigError, match="lambda_a"):
        DubContrastiveLoss(LossConfig(), audio_only)
    out = DubContrastiveLoss(LossConfig(lambda_a=1.0, reduction="sum"), audio_only)(aud)
    La = sum(naive_l(z["audio_p"], z["audio_s"], i, 0.07) for i in range(4))
    assert out.objective.item() == pytest.approx(La, rel=1e-10)


def test_pair_loss_gradients_float64():
    z = random_embeddings(5, 4, seed=3)
    x = z["video_p"].requires_grad_()
    y = z["audio_p"].requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: pair_loss(a, b, a, b, 0, 0.5), (x, y))


def test_total_gradients_float64():
    z = {k: v.requires_grad_() for k, v in random_embeddings(4, 3, seed=4).items()}
    loss = DubContrastiveLoss(LossConfig(temperature=0.2, lambda_v=0.5, lambda_a=0.1))
    keys = list(z)

    def total(*tensors):
        return loss(dict(zip(keys, tensors))).objective

    assert torch.autograd.gradcheck(total, tuple(z[k] for k in keys))


def test_local_rows_against_global_batch_match_full_batch():
    """The local-loss form: two halves with offsets add up to the full batch."""
    z = random_embeddings(6, 8, seed=5)
    x, y = z["video_p"], z["audio_p"]
    full = pair_loss(x, y, x, y, 0, 0.07)
    halves = torch.cat([pair_loss(x[:3], y[:3], x, y, 0, 0.07),
                        pair_loss(x[3:], y[3:], x, y, 3, 0.07)])
    torch.testing.assert_close(halves, full, rtol=0, atol=1e-12)


def test_embeddings_must_be_the_views_the_terms_need():
    z = random_embeddings(4, 8, seed=6)
    with pytest.raises(ValueError, match="need the embeddings"):
        DubContrastiveLoss(LossConfig())({k: v for k, v in z.items() if k != "audio_s"})
    with pytest.raises(ValueError, match="need the embeddings"):
        DubContrastiveLoss(LossConfig(), parse_dub_policy("separated").loss_terms)(z)


def test_bad_config_is_rejected():
    with pytest.raises(ConfigError, match="temperature"):
        LossConfig(temperature=0)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_ranks_objectives_average_to_the_global_gradient(reduction):
    """The contract with DDP: each rank backpropagates its own objective against the
    gathered global batch; DDP averages the ranks' gradients. That average must be the
    gradient of the one-process objective, for the paper's sums as for means."""
    world, n, d_in = 3, 4, 5
    cfg = LossConfig(temperature=0.1, lambda_v=0.5, lambda_a=0.25, reduction=reduction)
    g = torch.Generator().manual_seed(7)
    inputs = {k: torch.randn(world * n, d_in, generator=g, dtype=torch.float64)
              for k in ("video_p", "video_s", "audio_p", "audio_s")}
    encoder = torch.nn.Linear(d_in, 4).double()

    def gradient(objective: torch.Tensor) -> torch.Tensor:
        encoder.zero_grad()
        objective.backward()
        return torch.cat([encoder.weight.grad.flatten(), encoder.bias.grad])

    emb = {k: F.normalize(encoder(x), dim=1) for k, x in inputs.items()}
    single = gradient(DubContrastiveLoss(cfg)(emb).objective)

    emb = {k: F.normalize(encoder(x), dim=1) for k, x in inputs.items()}
    per_rank = []
    for rank in range(world):
        rows = slice(rank * n, (rank + 1) * n)
        local = {k: v[rows] for k, v in emb.items()}
        global_of = {id(local[k]): emb[k] for k in emb}

        def gather(t, global_of=global_of, rank=rank):
            # what gather_with_grad returns on this rank: the global batch, with gradient
            return global_of[id(t)], rank * n

        per_rank.append(DubContrastiveLoss(cfg)(local, gather=gather, world_size=world).objective)
    ddp_average = gradient(sum(per_rank)) / world
    torch.testing.assert_close(ddp_average, single, rtol=1e-10, atol=1e-12)
