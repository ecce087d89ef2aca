"""Shared CNN encoder: log-mel (B, F, T) -> frame sequence (B, T', D)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..data.audio import frame_mask


def _zero_padding(x: torch.Tensor, n_frames: torch.Tensor) -> torch.Tensor:
    """(B, C, F, T) with the frames past each item's `n_frames` set to zero."""
    return x * frame_mask(n_frames, x.shape[-1])[:, None, None, :]


def _deltas(x: torch.Tensor) -> torch.Tensor:
    """torchaudio.functional.compute_deltas(x) (window 5, edges repeated), bit for bit, as one
    single-channel convolution: its grouped convolution has a kernel sized by the input, which
    the ONNX exporters cannot follow (export.py)."""
    padded = nn.functional.pad(x, (2, 2), mode="replicate")
    kernel = torch.arange(-2, 3, dtype=x.dtype, device=x.device).view(1, 1, 5)
    return (nn.functional.conv1d(padded.reshape(-1, 1, padded.shape[-1]), kernel) / 10).reshape(
        x.shape
    )


class CNNEncoder(nn.Module):
    def __init__(
        self,
        n_mels: int,
        channels: list[int],
        freq_pool: list[int],
        time_pool: list[int],
        frame_dim: int,
        dropout: float,
        deltas: bool = False,
        pool_before_norm: bool = False,
    ):
        super().__init__()
        self.deltas, self.pool_before_norm = deltas, pool_before_norm
        self.blocks, self.pools, c_in = nn.ModuleList(), nn.ModuleList(), 3 if deltas else 1
        for c, fp, tp in zip(channels, freq_pool, time_pool, strict=True):
            self.blocks.append(
                nn.Sequential(nn.Conv2d(c_in, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU())
            )
            self.pools.append(nn.MaxPool2d((fp, tp)))
            c_in = c
        self.time_pool = list(time_pool)
        self.time_stride = math.prod(time_pool)
        self.out_freq = n_mels // math.prod(freq_pool)
        self.out_channels = c_in
        self.proj = nn.Sequential(
            nn.Linear(c_in * self.out_freq, frame_dim), nn.ReLU(), nn.Dropout(dropout)
        )

    def pad_time(self, feats: torch.Tensor) -> torch.Tensor:
        """Zero-pad (B, F, T) so T is a multiple of the time stride."""
        extra = -feats.shape[-1] % self.time_stride
        return nn.functional.pad(feats, (0, extra)) if extra else feats

    @staticmethod
    def time_deltas(feats: torch.Tensor) -> torch.Tensor:
        """First and second time derivatives (B, 2, F, T) of the zero-padded log-mel. The 4 extra
        zero frames each side make an utterance's values the same whether or not its batch padded
        it (each derivative itself repeats the edge frame)."""
        x = nn.functional.pad(feats, (4, 4))
        d1 = _deltas(x)
        d2 = _deltas(d1)
        return torch.stack([d1, d2], 1)[..., 4:-4]

    def out_lengths(self, n_frames: torch.Tensor) -> torch.Tensor:
        return torch.div(n_frames + self.time_stride - 1, self.time_stride, rounding_mode="floor")

    def forward(
        self, feats: torch.Tensor, n_frames: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """feats (B, F, T), T a multiple of the stride -> frames (B, T', D), lengths (B,)."""
        x, n = feats[:, None], n_frames  # (B, 1, F, T)
        if self.deltas:  # deltas are non-zero just past an utterance's end: zero them there
            x = _zero_padding(torch.cat([x, self.time_deltas(feats)], 1), n)
        x = x.contiguous(
            memory_format=torch.channels_last
        )  # the faster layout for conv/pool on CPU (oneDNN)
        for block, pool, tp in zip(self.blocks, self.pools, self.time_pool, strict=True):
            # zero the padding frames: conv bias and batch norm shift them off zero, and the next
            # layer would then see different values beside an utterance depending on its padding
            m = torch.div(n + tp - 1, tp, rounding_mode="floor")
            if self.pool_before_norm:  # conv, pool, norm, ReLU: normalises 1/(fp*tp) of the values
                # (the first mask keeps conv output on padding out of a last, part-padding window)
                x = _zero_padding(block[0](x), n)
                x = _zero_padding(block[2](block[1](pool(x))), m)
            else:  # conv, norm, ReLU, pool
                x = pool(_zero_padding(block(x), n))
            n = m
        # x: (B, C, F', T')
        x = x.permute(0, 3, 1, 2).flatten(2)  # (B, T', C*F')
        return self.proj(x), self.out_lengths(n_frames)
