"""Model heads, padding invariance, losses and the unlabelled-gradient rule."""

import pytest
import torch

from mtl_aug.config import load_config, upgrade
from mtl_aug.data.audio import LogMel
from mtl_aug.model import MTLAug
from mtl_aug.model.heads import REFERENCE_WINDOW
from mtl_aug.model.losses import center_loss, soft_cross_entropy
from mtl_aug.training.distributed import gather_once
from mtl_aug.training.lit import LitMTLAug

NAMES = ["angry", "happy", "neutral", "sad"]
COUNTS = [1, 1, 1, 1]  # training utterances per class: equal, so class-balanced CE is plain CE


def debug_cfg(*overlays):
    """The tiny model with per-speaker statistics and no speaker adversary (`speaker`): the
    batches below carry each item's own statistics and no training-speaker index."""
    return load_config("synthetic_demo", ["debug", "speaker", *overlays])


def batch(lengths, labels, aug=None, cfg=None):
    b = len(lengths)
    torch.manual_seed(0)
    waves = torch.zeros(b, max(lengths))
    for i, n in enumerate(lengths):
        waves[i, :n] = torch.randn(n) * 0.1
    logmel = LogMel.from_config(
        (cfg or debug_cfg()).features, 16000
    )  # each item is its own "speaker"
    stats = torch.stack([logmel.stats([waves[i, :n]]) for i, n in enumerate(lengths)])
    return {
        "waves": waves,
        "lengths": torch.tensor(lengths),
        "labels": torch.tensor(labels),
        "stats": stats,
        "aug": torch.tensor(aug or [0] * b),
        "lam": torch.ones(b),
        "freq_masks": torch.zeros(b, 2, 2, dtype=torch.long),
        "time_masks": torch.zeros(b, 2, 2),
        "index": torch.arange(b),
    }


def test_head_shapes_for_variable_length_batch():
    lit = LitMTLAug(debug_cfg(), NAMES, COUNTS)
    b = batch([16000, 9000, 4100], [0, 1, 2])
    feats, n, _ = lit.features(b, train=False)
    out = lit.model(feats, n)
    assert out["logits"].shape == (3, 4)
    assert out["embedding"].shape == (3, lit.cfg.model.embedding_dim)
    assert out["aug_logits"].shape == (3, 4)
    assert out["recon"].shape == out["input"].shape  # (B, F, T) back to the input
    assert out["input"].shape[1] == lit.cfg.features.n_mels
    assert torch.equal(out["lengths"], torch.tensor([26, 15, 7]))  # ceil(frames / time stride 4)
    att = out["attention"]
    assert torch.allclose(att.sum(1), torch.ones(3))
    assert (att[1, 15:] == 0).all() and (att[2, 7:] == 0).all()  # padding frames get zero weight


@pytest.mark.parametrize("normalise", ["speaker", "utterance", "corpus"])
@pytest.mark.parametrize(
    "silence",
    [
        [],
        ["features.silence_db=20", "features.trim_silence=true"],
    ],
)
def test_emotion_logits_do_not_change_with_more_padding(normalise, silence):
    for variant, pool_first in (([], True), (["stl"], True), ([], False)):
        cfg = load_config(
            "synthetic_demo",
            ["debug", "speaker", *variant],
            [f"features.normalise={normalise}", f"model.pool_before_norm={pool_first}", *silence],
        )
        lit = LitMTLAug(cfg, NAMES, COUNTS).eval()
        torch.manual_seed(1)
        for bn in lit.modules():  # trained-like batch norm: shifts zero padding well off zero
            if isinstance(bn, torch.nn.BatchNorm2d):
                bn.running_mean.normal_()
                bn.running_var.uniform_(0.5, 2.0)
                bn.bias.data.normal_()
        # 44 frames fill the pooling windows exactly; 46 leave the last one part padding
        for samples in (7000, 7300):
            short = batch([samples], [0], cfg=cfg)
            padded = dict(short, waves=torch.nn.functional.pad(short["waves"], (0, 9000)))
            with torch.no_grad():
                a = lit.model(*lit.features(short, train=False)[:2])["logits"]
                b = lit.model(*lit.features(padded, train=False)[:2])["logits"]
                # the encoder frames too: a difference at the last frame can be too small to see
                # in logits
                enc = lit.model.encoder
                (fs, ns), (fp, n_p) = (lit.features(x, train=False)[:2] for x in (short, padded))
                fa, fb = enc(enc.pad_time(fs), ns)[0], enc(enc.pad_time(fp), n_p)[0]
            assert torch.allclose(a, b, atol=1e-5), (a, b)
            assert torch.allclose(fa, fb[:, : fa.shape[1]], atol=1e-5)


def test_config_from_before_the_newer_model_options_builds_the_older_model():
    """A checkpoint's saved config without model.deltas / pool_before_norm / decoder_refine was
    trained with the layout these options' defaults-if-absent build: it must load and compute
    as trained (state-dict keys alike, so a wrong default would load silently)."""
    tree = debug_cfg().to_dict()
    for key in ("deltas", "pool_before_norm", "decoder_refine", "centre_embedding"):
        del tree["model"][key]
    old = MTLAug.from_config(upgrade(tree), 4)
    assert old.encoder.blocks[0][0].in_channels == 1 and not old.encoder.pool_before_norm
    assert isinstance(old.decoder.net[-1], torch.nn.Conv2d) and old.decoder.net[-1].kernel_size == (
        3,
        3,
    )
    assert not old.emotion.centre and "emotion.reference" not in old.state_dict()
    new = MTLAug.from_config(debug_cfg(), 4)
    assert new.encoder.blocks[0][0].in_channels == 3 and new.encoder.pool_before_norm
    assert (
        isinstance(new.decoder.net[-1], torch.nn.ConvTranspose2d)
        and new.decoder.net[-1].out_channels == 1
    )
    assert new.emotion.centre and "emotion.reference" in new.state_dict()


def test_centring_moves_each_speakers_mean_embedding_to_the_running_training_mean():
    head = MTLAug.from_config(debug_cfg(), 4).emotion
    torch.manual_seed(0)
    batches = [torch.randn(5, 8) + 3 for _ in range(3)]
    for b in batches:
        head.track(b)
    assert torch.allclose(
        head.reference, torch.stack([b.mean(0) for b in batches]).mean(0), atol=1e-6
    )
    x, offset = torch.randn(12, 8), torch.randn(8) * 5
    logits = head.classify(torch.cat([x, x + offset]), torch.tensor([0] * 12 + [1] * 12))
    assert torch.allclose(logits[:12], logits[12:], atol=1e-5)  # the speaker's offset is gone
    assert torch.allclose(logits[:12], head.out(x - x.mean(0) + head.reference), atol=1e-5)
    assert torch.allclose(
        head.classify(x + offset), head.out(x + offset)
    )  # no speakers: plain classifier
    with pytest.warns(UserWarning, match="3 of 15 utterances"):  # too few to centre: counted
        few = head.classify(torch.cat([x, x[:3] + offset]), torch.tensor([0] * 12 + [1] * 3))
    assert torch.allclose(few[12:], head.out(x[:3] + offset)) and torch.allclose(
        few[:12], logits[:12]
    )
    head.reference.zero_()
    head.reference_steps.fill_(REFERENCE_WINDOW)  # past the window: a running mean
    head.track(torch.ones(2, 8))
    assert torch.allclose(head.reference, torch.full((8,), 1 / REFERENCE_WINDOW))
    plain = MTLAug.from_config(debug_cfg(), 4)
    plain.emotion.centre = False
    assert torch.allclose(
        plain.emotion.classify(x + offset, torch.zeros(12, dtype=torch.long)),
        plain.emotion.out(x + offset),
    )


def test_centring_is_skipped_with_a_warning_before_any_training_step_and_takes_half_precision():
    head = MTLAug.from_config(debug_cfg(), 4).emotion
    x, speakers = torch.randn(12, 8) + 2, torch.zeros(12, dtype=torch.long)
    with pytest.warns(UserWarning, match="has not seen a training step"):
        assert torch.allclose(
            head.classify(x, speakers), head.out(x)
        )  # not centred on a zero reference
    head.track(x.bfloat16())  # bf16 / fp16 embeddings (mixed precision)
    assert head.reference.dtype == torch.float32
    assert torch.allclose(head.reference, x.bfloat16().float().mean(0))
    logits = head.classify((x + 5).half(), speakers)
    assert logits.dtype == torch.float32
    assert torch.allclose(logits, head.out(x - x.mean(0) + head.reference), atol=1e-2)
    head.bfloat16()  # train.precision: bf16-true
    head.track(x)
    assert (
        head.reference.dtype == torch.bfloat16
        and head.classify(x, speakers).dtype == torch.bfloat16
    )


def test_gathering_two_ranks_keeps_each_item_once():
    """DDP: rank 1's predictions are faked into all_gather. Rank 1 has one item fewer (padded with
    zeros for the gather: index 0, which no real item has, so kept padding would show) and repeats
    item 1 (as DistributedSampler does when it pads): each item must count once."""
    lit = LitMTLAug(debug_cfg(), NAMES, COUNTS)
    rank0 = {
        "embedding": torch.randn(4, 8),
        "targets": torch.tensor([0, 1, 2, 3]),
        "index": torch.tensor([1, 3, 5, 6]),
    }
    rank1 = {
        "embedding": torch.randn(3, 8),
        "targets": torch.tensor([3, 0, 0]),
        "index": torch.tensor([2, 4, 1]),
    }
    # what rank 1 sends, call by call: its size, then each value padded to the longest rank's length
    sent = [torch.tensor(3)] + [
        torch.cat([v, v.new_zeros((1,) + v.shape[1:])]) for v in rank1.values()
    ]
    lit.all_gather = lambda t: torch.stack([t, sent.pop(0)])
    out = gather_once(lit, rank0)
    assert not sent
    assert out["index"].tolist() == [1, 2, 3, 4, 5, 6]
    assert out["targets"].tolist() == [0, 3, 1, 0, 2, 3]
    e0, e1 = rank0["embedding"], rank1["embedding"]
    assert torch.equal(out["embedding"], torch.stack([e0[0], e1[0], e0[1], e1[1], e0[2], e0[3]]))


def test_a_training_step_tracks_the_embeddings_of_its_clean_items_only():
    lit = LitMTLAug(debug_cfg(), NAMES, COUNTS)
    _, out = lit.step(batch([8000, 6000, 7000, 5000], [0, 1, 2, 3], aug=[0, 2, 0, 3]), train=True)
    assert int(lit.model.emotion.reference_steps) == 1
    assert torch.allclose(
        lit.model.emotion.reference, out["embedding"][[0, 2]].mean(0)
    )  # SpecAugment, mixup left out


def test_class_balanced_cross_entropy_weighs_each_class_equally():
    cfg = debug_cfg()
    assert cfg.loss.class_balanced  # the default
    with pytest.raises(ValueError, match="class_balanced"):
        LitMTLAug(cfg, NAMES)  # no counts to weigh by
    lit = LitMTLAug(cfg, NAMES, [30, 10, 20, 20])
    assert torch.allclose(lit.class_weight, torch.tensor([80 / 120, 80 / 40, 80 / 80, 80 / 80]))
    torch.manual_seed(0)
    logits, labels = torch.randn(6, 4), torch.tensor([0, 0, 0, 1, 2, 3])
    expected = torch.nn.functional.cross_entropy(logits, labels, weight=lit.class_weight)
    got = soft_cross_entropy(logits, torch.eye(4)[labels], lit.class_weight)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)
    # a mixup target lam*a + (1-lam)*b: lam*w_a*CE_a + (1-lam)*w_b*CE_b over lam*w_a + (1-lam)*w_b
    lam, w, logp = 0.3, lit.class_weight, torch.log_softmax(logits[:1], -1)[0]
    mixed = (lam * torch.eye(4)[0] + (1 - lam) * torch.eye(4)[1])[None]
    expected = -(lam * w[0] * logp[0] + (1 - lam) * w[1] * logp[1]) / (
        lam * w[0] + (1 - lam) * w[1]
    )
    assert soft_cross_entropy(logits[:1], mixed, w).item() == pytest.approx(
        expected.item(), rel=1e-6
    )
    # a batch of one class only: the weight cancels, as in the unweighted loss
    one = torch.tensor([1, 1])
    assert soft_cross_entropy(
        logits[:2], torch.eye(4)[one], lit.class_weight
    ).item() == pytest.approx(soft_cross_entropy(logits[:2], torch.eye(4)[one]).item(), rel=1e-6)


def test_stl_builds_only_the_emotion_path():
    model = MTLAug.from_config(debug_cfg("stl"), 4)
    assert model.decoder is None and model.aug_head is None and model.centers is None
    full = MTLAug.from_config(debug_cfg(), 4)
    assert full.decoder is not None and full.aug_head is not None and full.centers is not None


def test_center_loss_pulls_embeddings_to_their_class_center():
    torch.manual_seed(0)
    emb = torch.randn(6, 3, requires_grad=True)
    centers = torch.randn(2, 3)
    targets = torch.nn.functional.one_hot(torch.tensor([0, 1, 0, 1, 0, 1]), 2).float()
    before = ((emb - centers[[0, 1, 0, 1, 0, 1]]) ** 2).sum(1)
    opt = torch.optim.SGD([emb], lr=0.5)
    for _ in range(5):
        opt.zero_grad()
        center_loss(emb, centers, targets).backward()
        opt.step()
    after = ((emb - centers[[0, 1, 0, 1, 0, 1]]) ** 2).sum(1)
    assert (after < before * 0.5).all()
    assert center_loss(centers[[0, 1]], centers, targets[:2]).item() == pytest.approx(0.0)


def test_mixup_loss_equals_lambda_weighted_sum():
    torch.manual_seed(0)
    logits = torch.randn(1, 4)
    lam = 0.3
    target = lam * torch.eye(4)[1] + (1 - lam) * torch.eye(4)[3]
    ce = torch.nn.functional.cross_entropy
    expected = lam * ce(logits, torch.tensor([1])) + (1 - lam) * ce(logits, torch.tensor([3]))
    assert soft_cross_entropy(logits, target[None]).item() == pytest.approx(
        expected.item(), rel=1e-6
    )
    emb, centers = torch.randn(1, 5), torch.randn(4, 5)
    expected_c = lam * center_loss(emb, centers, torch.eye(4)[[1]]) + (1 - lam) * center_loss(
        emb, centers, torch.eye(4)[[3]]
    )
    assert center_loss(emb, centers, target[None]).item() == pytest.approx(
        expected_c.item(), rel=1e-6
    )


def test_unlabelled_items_update_only_the_auxiliary_losses():
    """Through the real `step`: unlabelled items never reach the emotion head (its logits, and
    the emotion losses' gradient on it, are the same with or without them), and they do change
    the auxiliary losses' gradients on the encoder, decoder and augmentation head."""
    lit = LitMTLAug(debug_cfg(), NAMES, COUNTS)
    lit.eval()  # freeze batch-norm and dropout
    labelled = batch([8000, 6000], [0, 1])
    unlabelled = batch([9000, 7000], [-1, -1], aug=[0, 3])
    m = lit.model

    def grads(unl, loss_names, params):
        lit.zero_grad()
        losses, out = lit.step(labelled, unl, train=True)
        assert out["logits"].shape[0] == 2  # labelled items only
        sum(lit.weights[k] * losses[k] for k in loss_names).backward()
        return [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in params]

    emotion = [*m.emotion.parameters(), m.centers]
    for a, b in zip(
        grads(None, ("ce", "center"), emotion),
        grads(unlabelled, ("ce", "center"), emotion),
        strict=True,
    ):
        assert torch.allclose(a, b, atol=1e-6)
    for part in (m.encoder, m.decoder, m.aug_head):
        params = list(part.parameters())
        alone, with_unl = (
            grads(None, ("recon", "aug"), params),
            grads(unlabelled, ("recon", "aug"), params),
        )
        assert any(
            not torch.allclose(a, b, atol=1e-6) for a, b in zip(alone, with_unl, strict=True)
        ), part


@pytest.mark.parametrize("shape", [(1, 40, 7), (16, 40, 300), (3, 64, 1001)])
def test_encoder_deltas_are_torchaudios_bit_for_bit(shape):
    """The exportable time derivative (export.py needs it) computes exactly what
    torchaudio.functional.compute_deltas computed, so trained models and seeds reproduce."""
    import torchaudio

    from mtl_aug.model.encoder import _deltas

    torch.manual_seed(1)
    x = torch.randn(shape) * 4 - 8
    assert torch.equal(_deltas(x), torchaudio.functional.compute_deltas(x))
    assert torch.equal(
        _deltas(_deltas(x)),
        torchaudio.functional.compute_deltas(torchaudio.functional.compute_deltas(x)),
    )


def test_speaker_adversary_trains_its_head_and_reverses_its_gradient_into_the_network():
    """loss.weights.speaker: the head gets the speaker cross-entropy's own gradient, the network
    below the embedding its negation (gradient reversal); mixup items (two speakers) are left out;
    a config without the weight builds no head."""
    assert MTLAug.from_config(debug_cfg(), 4, num_speakers=5).speaker_head is None
    cfg = load_config("synthetic_demo", ["debug"], ["loss.weights.speaker=0.3"])
    with pytest.raises(ValueError, match="at least 2 training speakers"):
        LitMTLAug(cfg, NAMES, COUNTS, num_speakers=1)
    lit = LitMTLAug(cfg, NAMES, COUNTS, num_speakers=3)
    lit.eval()
    b = batch([8000, 6000, 7000, 9000], [0, 1, 2, 3], aug=[0, 0, 0, 3])
    b["speaker"] = torch.tensor([0, 1, 2, 1])
    head, below = list(lit.model.speaker_head.parameters()), list(lit.model.encoder.parameters())

    def grads(loss):
        lit.zero_grad()
        loss.backward()
        return [p.grad.clone() for p in head + below]

    losses, out = lit.step(b, train=True)
    reversed_ = grads(losses["speaker"])
    _, out = lit.step(b, train=True)
    plain = torch.nn.functional.cross_entropy(
        lit.model.speaker_head.net(out["embedding"][:3]), b["speaker"][:3]
    )
    assert losses["speaker"].item() == pytest.approx(plain.item(), rel=1e-6)
    expected = grads(plain)
    for got, want in zip(reversed_[: len(head)], expected[: len(head)], strict=True):
        assert torch.allclose(got, want, atol=1e-7)
    assert any(w.abs().sum() > 0 for w in expected[len(head) :])
    for got, want in zip(reversed_[len(head) :], expected[len(head) :], strict=True):
        assert torch.allclose(got, -want, atol=1e-7)
    assert "speaker" in lit.weights and losses["total"].requires_grad
