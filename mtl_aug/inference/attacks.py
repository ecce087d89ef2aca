"""White-box adversarial attacks on the waveform (FGSM, PGD under an L-infinity bound), through
the evaluation path: log-mel, normalisation, encoder, emotion head with per-speaker centring.

A budget is a signal-to-perturbation ratio in dB per utterance, or a plain epsilon. The dB budget
is turned into the L-infinity bound eps = rms(x) * 10 ** (-dB / 20): a perturbation at the bound
on every sample (what FGSM makes) then has exactly that ratio to the utterance's power; any other
perturbation within the bound is quieter."""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F

from ..errors import ConfigError

ATTACKS = ("fgsm", "pgd", "random")


@dataclass(frozen=True)
class Budget:
    """`snr_db` (per utterance) or `eps` (absolute, on the [-1, 1] waveform scale)."""

    snr_db: float | None = None
    eps: float | None = None

    @classmethod
    def parse(cls, text: str) -> "Budget":
        """'30' (dB), 'inf' (no perturbation) or 'eps=0.001'."""
        text = str(text).strip()
        try:
            if text.startswith("eps="):
                value = float(text[4:])
                if value < 0 or not math.isfinite(value):
                    raise ValueError
                return cls(eps=value)
            value = float(text)
            if math.isnan(value):
                raise ValueError
            return cls(snr_db=value)
        except ValueError:
            raise ConfigError(
                f"budget '{text}': expected a signal-to-perturbation ratio in dB (e.g. 30, inf) "
                "or a plain L-infinity epsilon (e.g. eps=0.001)"
            ) from None

    @property
    def label(self) -> str:
        return f"eps={self.eps:g}" if self.eps is not None else f"{self.snr_db:g} dB"

    def epsilon(self, wave: torch.Tensor) -> float:
        """The L-infinity bound for `wave` (a 1-D waveform)."""
        if self.eps is not None:
            return self.eps
        rms = float(wave.double().pow(2).mean().sqrt())
        return rms * 10 ** (-self.snr_db / 20)


@dataclass(frozen=True)
class Attack:
    """`method`: fgsm (one step of eps * sign of the gradient), pgd (`steps` steps of
    `step_size` * eps, projected back into the eps ball, from a uniform random start if
    `random_start`), or random (eps times a random sign per sample, seeded: noise as loud as
    FGSM's perturbation, which tells what the attack adds to mere noise at the bound)."""

    method: str
    steps: int = 10
    step_size: float = 0.25
    random_start: bool = True

    def __post_init__(self):
        if self.method not in ATTACKS:
            raise ConfigError(f"unknown attack '{self.method}' (known: {', '.join(ATTACKS)})")
        if self.steps < 1 or self.step_size <= 0:
            raise ConfigError(
                f"attack {self.method}: steps must be >= 1 and step size > 0, "
                f"got {self.steps} and {self.step_size}"
            )


def _no_cudnn_rnn():
    """cuDNN computes an RNN's backward only in training mode; the attack needs it in eval mode."""
    return (
        torch.backends.cudnn.flags(enabled=False)
        if torch.cuda.is_available()
        else contextlib.nullcontext()
    )


def loss_gradient(
    lit, waves: list[torch.Tensor], labels: torch.Tensor, speakers: list[str], batch_size: int = 16
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Summed cross-entropy of the true labels on the evaluation logits of `waves` (one or more
    speakers' utterances), and its gradient with respect to each waveform.

    As at evaluation, a per-speaker model's statistics and the centring of the embedding are
    those of the audio given (the attacked audio); the gradient treats the statistics and the
    centring offset as constants (each is a mean over a speaker's utterances) and reaches the
    waveform through the log-mel, the normalisation, the encoder and the head."""
    device = lit.device
    stats = lit.logmel.item_stats(speakers, [w.detach() for w in waves].__getitem__)
    codes = torch.from_numpy(pd.factorize(pd.Series(speakers))[0])
    head = lit.model.emotion
    offset = torch.zeros(len(waves), lit.cfg.model.embedding_dim, device=device)
    order = sorted(range(len(waves)), key=lambda i: len(waves[i]))
    batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]

    def embed(idx: list[int], grad: bool) -> tuple[list[torch.Tensor], torch.Tensor]:
        inputs = [waves[i].detach().to(device).requires_grad_(grad) for i in idx]
        padded = torch.nn.utils.rnn.pad_sequence(inputs, batch_first=True)
        lengths = torch.tensor([len(w) for w in inputs], dtype=torch.long)
        feats, n = lit.logmel(
            padded.to(device),
            lengths.to(device),
            stats[idx].to(device) if stats is not None else None,
        )
        return inputs, lit.model(feats, n, aux=False)["embedding"]

    if getattr(head, "centre", False):
        with torch.no_grad():
            embedding = torch.zeros_like(offset)
            for idx in batches:
                embedding[idx] = embed(idx, grad=False)[1]
            with warnings.catch_warnings():
                warnings.simplefilter(
                    "ignore"
                )  # the uncentred-speaker warning is the evaluation's to give
                offset = head.centred(embedding, codes) - embedding
    total, grads = 0.0, [None] * len(waves)
    with _no_cudnn_rnn():
        for idx in batches:
            inputs, embedding = embed(idx, grad=True)
            logits = head.out(embedding.to(head.out.weight.dtype) + offset[idx])
            loss = F.cross_entropy(logits, labels[idx].to(device), reduction="sum")
            for i, g in zip(idx, torch.autograd.grad(loss, inputs), strict=True):
                grads[i] = g.detach().cpu()
            total += float(loss.detach())
    return torch.tensor(total), grads


def attack(
    lit,
    waves: list[torch.Tensor],
    labels: torch.Tensor,
    speakers: list[str],
    budget: Budget,
    how: Attack,
    seed: int = 0,
) -> list[torch.Tensor]:
    """Adversarial versions of `waves` (untargeted: raising the loss of the true `labels`), each
    within its own L-infinity bound and the [-1, 1] range; seeded (PGD's random start)."""
    eps = [budget.epsilon(w) for w in waves]
    if all(e == 0 for e in eps):
        return [w.clone() for w in waves]
    gen = torch.Generator().manual_seed(seed)
    if how.method == "random":
        return [
            _project(w + e * torch.randn(len(w), generator=gen).sign(), w, e)
            for w, e in zip(waves, eps, strict=True)
        ]
    adv = [w.clone() for w in waves]
    if how.method == "pgd" and how.random_start:
        adv = [
            (w + (torch.rand(len(w), generator=gen) * 2 - 1) * e).clamp(-1, 1)
            for w, e in zip(waves, eps, strict=True)
        ]
    steps, size = (1, 1.0) if how.method == "fgsm" else (how.steps, how.step_size)
    for _ in range(steps):
        _, grads = loss_gradient(lit, adv, labels, speakers)
        adv = [
            _project(a + size * e * g.sign(), w, e)
            for a, g, w, e in zip(adv, grads, waves, eps, strict=True)
        ]
    return adv


def _project(x: torch.Tensor, clean: torch.Tensor, eps: float) -> torch.Tensor:
    return torch.minimum(torch.maximum(x, clean - eps), clean + eps).clamp(-1, 1)
