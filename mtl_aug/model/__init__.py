"""MTL-AUG: shared CNN encoder + emotion head, reconstruction decoder, augmentation classifier,
and optionally a speaker adversary on the emotion embedding. A head whose loss weight is 0 is
not built (so `stl` is the plain CNN-BLSTM-attention)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..config import Config, Weights
from ..config import Model as ModelConfig
from .encoder import CNNEncoder
from .heads import AugmentationHead, Decoder, EmotionHead, SpeakerHead


@dataclass(frozen=True)
class Heads:
    """The optional heads a model has: each is built only when its loss weight is above 0."""

    center: bool
    recon: bool
    aug: bool
    speaker: bool

    @classmethod
    def from_weights(cls, w: Weights) -> "Heads":
        return cls(center=w.center > 0, recon=w.recon > 0, aug=w.aug > 0, speaker=w.speaker > 0)


class MTLAug(nn.Module):
    def __init__(
        self,
        m: ModelConfig,
        n_mels: int,
        heads: Heads,
        num_classes: int,
        num_speakers: int = 0,
    ):
        """`num_speakers`: training speakers, the speaker adversary's classes."""
        super().__init__()
        self.encoder = CNNEncoder(
            n_mels,
            m.cnn_channels,
            m.freq_pool,
            m.time_pool,
            m.frame_dim,
            m.dropout,
            m.deltas,
            m.pool_before_norm,
        )
        self.emotion = EmotionHead(
            m.frame_dim,
            m.lstm_hidden,
            m.attention_dim,
            m.embedding_dim,
            num_classes,
            m.dropout,
            m.centre_embedding,
        )
        self.decoder = (
            Decoder(
                m.frame_dim,
                m.cnn_channels,
                m.freq_pool,
                m.time_pool,
                self.encoder.out_freq,
                m.decoder_refine,
            )
            if heads.recon
            else None
        )
        self.aug_head = AugmentationHead(m.frame_dim, m.attention_dim) if heads.aug else None
        self.speaker_head = None
        if heads.speaker:
            if num_speakers < 2:
                raise ValueError(
                    f"loss.weights.speaker needs at least 2 training speakers, got {num_speakers}"
                )
            self.speaker_head = SpeakerHead(m.embedding_dim, m.attention_dim, num_speakers)
        self.centers = (
            nn.Parameter(torch.randn(num_classes, m.embedding_dim) * 0.1) if heads.center else None
        )

    @classmethod
    def from_config(cls, cfg: Config, num_classes: int, num_speakers: int = 0) -> "MTLAug":
        return cls(
            cfg.model,
            cfg.features.n_mels,
            Heads.from_weights(cfg.loss.weights),
            num_classes,
            num_speakers,
        )

    def forward(
        self,
        feats: torch.Tensor,
        n_frames: torch.Tensor,
        n_labelled: int | None = None,
        aux: bool = True,
    ) -> dict:
        """feats (B, F, T), n_frames (B,). The emotion head sees only the first `n_labelled`
        items (default all): unlabelled items reach the decoder and augmentation head only.
        `aux=False` skips those two heads (evaluation needs the emotion logits alone)."""
        feats = self.encoder.pad_time(feats)
        frames, lengths = self.encoder(feats, n_frames)  # (B, T', D), (B,)
        k = feats.shape[0] if n_labelled is None else n_labelled
        out = {"input": feats, "lengths": lengths}  # the decoder's target: the log-mel
        if k:
            out.update(self.emotion(frames[:k], lengths[:k]))
        if self.decoder is not None and aux:
            out["recon"] = self.decoder(frames)
        if self.aug_head is not None and aux:
            out["aug_logits"] = self.aug_head(frames, lengths)
        return out
