"""The three heads on the shared encoder output (B, T', D)."""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..data.audio import frame_mask

MIN_CENTRED = 10  # a speaker with fewer utterances is classified without centring
REFERENCE_WINDOW = 100  # training steps the running mean embedding averages over, roughly


class EmotionHead(nn.Module):
    """BLSTM for context, attention pooling over valid frames, dense embedding -> logits.

    With `centre`, evaluation shifts each speaker's embeddings so that their mean is the
    running mean of the training embeddings (`reference`, kept during training) before the
    classifier: a per-speaker normalisation of the emotion embedding, from the speaker's own
    unlabelled audio. Training is unchanged by it. Under DDP each rank updates `reference` from
    its own batches; DDP's buffer broadcast before every training forward starts each step from
    rank 0's, and rank 0 saves the checkpoint: a mean over 1/world of the batches, the same
    estimate."""

    def __init__(
        self,
        frame_dim: int,
        hidden: int,
        attention_dim: int,
        embedding_dim: int,
        num_classes: int,
        dropout: float,
        centre: bool = False,
    ):
        super().__init__()
        self.centre = centre
        if centre:
            self.register_buffer("reference", torch.zeros(embedding_dim))
            self.register_buffer("reference_steps", torch.zeros((), dtype=torch.long))
        self.lstm = nn.LSTM(frame_dim, hidden, batch_first=True, bidirectional=True)
        self.score = nn.Sequential(
            nn.Linear(2 * hidden, attention_dim), nn.Tanh(), nn.Linear(attention_dim, 1, bias=False)
        )
        self.embed = nn.Sequential(nn.Linear(2 * hidden, embedding_dim), nn.ReLU())
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(embedding_dim, num_classes)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> dict:
        packed = pack_padded_sequence(frames, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = pad_packed_sequence(
            self.lstm(packed)[0], batch_first=True, total_length=frames.shape[1]
        )
        return self.pool(h, lengths)

    def pool(self, h: torch.Tensor, lengths: torch.Tensor) -> dict:
        """BLSTM states (B, T', 2H) -> logits, embedding and attention weights. For one unpadded
        utterance `self.lstm(frames)[0]` gives the same states without packing (export.py)."""
        scores = self.score(h).squeeze(-1)  # (B, T')
        scores = scores.masked_fill(~frame_mask(lengths, h.shape[1]), float("-inf"))
        alpha = torch.softmax(scores, dim=1)  # padding frames get 0
        context = (alpha.unsqueeze(-1) * h).sum(1)  # (B, 2H)
        embedding = self.embed(context)
        return {
            "logits": self.out(self.drop(embedding)),
            "embedding": embedding,
            "attention": alpha,
        }

    @torch.no_grad()
    def track(self, embedding: torch.Tensor) -> None:
        """Fold a training batch's embeddings (N, E) into `reference`: their cumulative mean
        over the first REFERENCE_WINDOW steps, then an exponential mean over about that many."""
        if not self.centre or len(embedding) == 0:
            return
        self.reference_steps += 1
        rate = 1.0 / min(int(self.reference_steps), REFERENCE_WINDOW)
        self.reference.lerp_(
            embedding.to(self.reference.dtype).mean(0), rate
        )  # mixed precision: bf16/fp16 in

    def classify(
        self, embedding: torch.Tensor, speakers: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits (N, C) for evaluation embeddings (N, E), centred per speaker (`centred`)."""
        return self.out(self.centred(embedding, speakers))

    def centred(
        self, embedding: torch.Tensor, speakers: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Evaluation embeddings (N, E) centred per speaker (codes (N,)) when the head centres
        and speakers are given. Speakers with fewer than MIN_CENTRED utterances stay uncentred,
        with a warning that counts them; so does everything when no training step has set the
        reference yet. Mixed-precision embeddings are cast to the classifier's dtype first."""
        embedding = embedding.to(self.out.weight.dtype)
        if self.centre and speakers is not None and int(self.reference_steps) == 0:
            warnings.warn(
                "the head has not seen a training step, so it has no reference embedding to "
                "centre speakers on: classified without per-speaker centring",
                stacklevel=2,
            )
        elif self.centre and speakers is not None:
            embedding, speakers, uncentred = embedding.clone(), speakers.to(embedding.device), 0
            for s in speakers.unique():
                m = speakers == s
                if int(m.sum()) < MIN_CENTRED:
                    uncentred += int(m.sum())
                else:
                    embedding[m] += self.reference - embedding[m].mean(0)
            if uncentred:
                warnings.warn(
                    f"{uncentred} of {len(speakers)} utterances are classified without per-speaker "
                    f"centring: their speaker has fewer than {MIN_CENTRED} utterances",
                    stacklevel=2,
                )
        return embedding


class Decoder(nn.Module):
    """Encoder output (B, T', D) back to the encoder input (B, F, T' * time_stride)."""

    def __init__(
        self,
        frame_dim: int,
        channels: list[int],
        freq_pool: list[int],
        time_pool: list[int],
        out_freq: int,
        refine: bool = True,
    ):
        """Transposed convolutions undo the encoder's pooling, block by block. `refine` keeps
        the last one at channels[0] and adds a 3x3 conv to one channel at full resolution;
        without it the last transposed conv outputs the one channel itself (the full-resolution
        layers were the costliest part of a training step)."""
        super().__init__()
        self.c, self.f = channels[-1], out_freq
        self.proj = nn.Linear(frame_dim, channels[-1] * out_freq)
        layers = []
        outs = list(reversed(channels[:-1])) + [channels[0] if refine else 1]
        for c_in, c_out, fp, tp in zip(
            reversed(channels), outs, reversed(freq_pool), reversed(time_pool), strict=True
        ):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, (fp, tp), stride=(fp, tp)),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
            ]
        if refine:
            layers.append(nn.Conv2d(channels[0], 1, 3, padding=1))
        else:
            layers = layers[:-2]  # a linear output: log-mels can be negative
        self.net = nn.Sequential(*layers)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t, _ = frames.shape
        x = self.proj(frames).view(b, t, self.c, self.f).permute(0, 2, 3, 1)  # (B, C, F', T')
        return self.net(x).squeeze(1)  # (B, F, T)


class AugmentationHead(nn.Module):
    """Mean over valid frames -> which of the four augmentations was applied."""

    def __init__(self, frame_dim: int, hidden: int, num_types: int = 4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(frame_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_types)
        )

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = frame_mask(lengths, frames.shape[1]).unsqueeze(-1).float()
        pooled = (frames * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.net(pooled)


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return -grad


class SpeakerHead(nn.Module):
    """Which training speaker an emotion embedding (N, E) came from, through a gradient
    reversal: the head learns to tell the speakers apart, and the network below it receives the
    negated gradient, so it learns an embedding the head cannot tell them apart by (domain-
    adversarial training, Ganin & Lempitsky 2015, with the training speakers as the domains)."""

    def __init__(self, embedding_dim: int, hidden: int, num_speakers: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(embedding_dim, hidden), nn.ReLU(), nn.Linear(hidden, num_speakers)
        )

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.net(_Reverse.apply(embedding))
