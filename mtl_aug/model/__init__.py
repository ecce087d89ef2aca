"""MTL-AUG: shared CNN encoder + emotion head, reconstruction decoder, augmentation classifier,
and optionally a speaker adversary on the emotion embedding. A head whose loss weight is 0 is
not built (so `stl` is the plain CNN-BLSTM-attention)."""
from __future__ import annotations

import torch
from torch import nn

from ..audio import Prosody
from .encoder import CNNEncoder
from .heads import AugmentationHead, Decoder, EmotionHead, SpeakerHead


class MTLAug(nn.Module):
    def __init__(self, cfg: dict, num_classes: int, num_speakers: int = 0):
        """`num_speakers`: training speakers, the speaker adversary's classes (loss.weights.speaker > 0)."""
        super().__init__()
        m, w = cfg["model"], cfg["loss"]["weights"]
        n_mels = cfg["features"]["n_mels"]
        prosody = Prosody.ROWS if cfg["features"].get("prosody") else 0   # .get: checkpoints from before it
        self.encoder = CNNEncoder(n_mels, m["cnn_channels"], m["freq_pool"], m["time_pool"],
                                  m["frame_dim"], m["dropout"],
                                  # .get: checkpoints from before these options
                                  m.get("deltas", False), m.get("pool_before_norm", False), prosody)
        self.emotion = EmotionHead(m["frame_dim"], m["lstm_hidden"], m["attention_dim"],
                                   m["embedding_dim"], num_classes, m["dropout"], m.get("centre_embedding", False))
        self.decoder = (Decoder(m["frame_dim"], m["cnn_channels"], m["freq_pool"], m["time_pool"],
                                self.encoder.out_freq, m.get("decoder_refine", True)) if w["recon"] > 0 else None)
        self.aug_head = AugmentationHead(m["frame_dim"], m["attention_dim"]) if w["aug"] > 0 else None
        self.speaker_head = None
        if w.get("speaker", 0) > 0:   # .get: checkpoints from before the option
            if num_speakers < 2:
                raise ValueError(f"loss.weights.speaker needs at least 2 training speakers, got {num_speakers}")
            self.speaker_head = SpeakerHead(m["embedding_dim"], m["attention_dim"], num_speakers)
        self.centers = nn.Parameter(torch.randn(num_classes, m["embedding_dim"]) * 0.1) if w["center"] > 0 else None

    def forward(self, feats: torch.Tensor, n_frames: torch.Tensor, n_labelled: int | None = None,
                aux: bool = True) -> dict:
        """feats (B, F, T), n_frames (B,). The emotion head sees only the first `n_labelled`
        items (default all): unlabelled items reach the decoder and augmentation head only.
        `aux=False` skips those two heads (evaluation needs the emotion logits alone)."""
        feats = self.encoder.pad_time(feats)
        frames, lengths = self.encoder(feats, n_frames)                     # (B, T', D), (B,)
        k = feats.shape[0] if n_labelled is None else n_labelled
        out = {"input": feats[:, : self.encoder.n_mels], "lengths": lengths}   # the decoder's target: the log-mel
        if k:
            out.update(self.emotion(frames[:k], lengths[:k]))
        if self.decoder is not None and aux:
            out["recon"] = self.decoder(frames)
        if self.aug_head is not None and aux:
            out["aug_logits"] = self.aug_head(frames, lengths)
        return out
