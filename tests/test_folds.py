"""Speaker-independent folds: LOSO partitions, validation speakers, the whole-corpus fold."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest
from builders import make_emodb, make_iemocap

from mtl_aug.data.corpora import prepare_emodb, prepare_iemocap
from mtl_aug.data.folds import (
    all_speakers_fold,
    loso_fold,
    loso_folds,
    speakers,
    validation_speakers,
)
from mtl_aug.data.manifest import COLUMNS, read_manifest
from mtl_aug.errors import DataError

IEMOCAP_SPEAKERS = [f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"]
EMODB_SPEAKERS = ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]


def fake_manifest(speaker_sessions: dict[str, str], per_speaker: int = 3) -> pd.DataFrame:
    rows = []
    for spk, session in speaker_sessions.items():
        for i in range(per_speaker):
            row = {c: "" for c in COLUMNS}
            row.update(
                utt_id=f"{spk}_{i:03d}",
                path=f"{{data_root}}/{spk}_{i:03d}.wav",
                corpus="x",
                speaker=spk,
                session=session,
                emotion="neu",
                duration=1.0,
                sample_rate=16000,
                channels=1,
            )
            rows.append(row)
    # shuffled row order: folds must not depend on it
    return (
        pd.DataFrame(rows, columns=COLUMNS).sample(frac=1.0, random_state=0).reset_index(drop=True)
    )


def iemocap_like() -> pd.DataFrame:
    return fake_manifest({s: s[4] for s in IEMOCAP_SPEAKERS})


def emodb_like() -> pd.DataFrame:
    return fake_manifest({s: "" for s in EMODB_SPEAKERS})


def _prepared(tmp_path_factory, corpus, make, prepare):
    base = tmp_path_factory.mktemp(corpus)
    out = base / f"{corpus}.csv"
    prepare(make(base), out)
    return read_manifest(out)


@pytest.fixture(scope="module")
def fake_iemocap_manifest(tmp_path_factory):
    return _prepared(tmp_path_factory, "iemocap", make_iemocap, prepare_iemocap)


@pytest.fixture(scope="module")
def fake_emodb_manifest(tmp_path_factory):
    return _prepared(tmp_path_factory, "emodb", make_emodb, prepare_emodb)


MANIFESTS = ["iemocap_like", "emodb_like", "fake_iemocap_manifest", "fake_emodb_manifest"]


@pytest.fixture(params=MANIFESTS)
def manifest(request):
    name = request.param
    if name.startswith("fake_"):
        return name, request.getfixturevalue(name)
    return name, {"iemocap_like": iemocap_like, "emodb_like": emodb_like}[name]()


def test_loso_folds_partition_the_speakers(manifest):
    name, df = manifest
    everyone = speakers(df)
    assert everyone == (IEMOCAP_SPEAKERS if "iemocap" in name else EMODB_SPEAKERS)
    folds = loso_folds(df)
    assert [f.test for f in folds] == [(s,) for s in everyone]  # each speaker tested once
    for fold in folds:
        test, val, train = set(fold.test), set(fold.val), set(fold.train)
        assert len(test) == 1 and val and train
        assert not (test & val) and not (test & train) and not (val & train)
        counts = Counter(fold.test + fold.val + fold.train)
        assert set(counts) == set(everyone) and set(counts.values()) == {1}
        assert fold.name == fold.test[0]


@pytest.mark.parametrize("source", ["iemocap_like", "fake_iemocap_manifest"])
def test_iemocap_validation_is_the_session_partner(request, source):
    df = iemocap_like() if source == "iemocap_like" else request.getfixturevalue(source)
    for fold in loso_folds(df):
        test = fold.test[0]
        partner = test[:5] + ("M" if test[5] == "F" else "F")
        assert fold.val == (partner,), test
        assert len(fold.train) == 8


@pytest.mark.parametrize("source", ["emodb_like", "fake_emodb_manifest"])
def test_sessionless_corpus_gets_one_other_validation_speaker(request, source):
    df = emodb_like() if source == "emodb_like" else request.getfixturevalue(source)
    assert set(df["session"]) == {""}
    vals = []
    for fold in loso_folds(df):
        assert len(fold.val) == 1 and fold.val != fold.test
        assert fold.val[0] in EMODB_SPEAKERS
        vals.append(fold.val[0])
    assert sorted(vals) == EMODB_SPEAKERS  # every speaker validates exactly one fold


def test_validation_in_multi_speaker_sessions_is_the_rest_of_the_session():
    df = fake_manifest(
        {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B", "c1": "C", "c2": "C"}
    )
    assert validation_speakers(df, "a2") == ("a1", "a3")
    fold = loso_fold(df, "a2")
    assert fold.train == ("b1", "b2", "c1", "c2")


def test_unknown_fold_speaker_lists_the_speakers():
    df = iemocap_like()
    with pytest.raises(DataError) as err:
        loso_fold(df, "Ses06F")
    msg = str(err.value)
    assert "Ses06F" in msg
    assert all(s in msg for s in IEMOCAP_SPEAKERS)


def test_loso_needs_three_speakers():
    with pytest.raises(DataError, match="at least 3 speakers"):
        loso_fold(fake_manifest({"a": "", "b": ""}), "a")


@pytest.mark.parametrize("source", ["iemocap_like", "emodb_like", "fake_iemocap_manifest"])
def test_all_speakers_fold_has_no_test_speaker(request, source):
    df = {"iemocap_like": iemocap_like, "emodb_like": emodb_like}.get(
        source, lambda: request.getfixturevalue(source)
    )()
    fold = all_speakers_fold(df)
    assert fold.test == () and fold.name == "all"
    everyone = speakers(df)
    assert fold.val and fold.train and not set(fold.val) & set(fold.train)
    assert sorted(fold.val + fold.train) == everyone
    if "iemocap" in source:
        assert fold.val == ("Ses01F", "Ses01M")  # a whole session held out for model selection
    else:
        assert fold.val == ("03", "08")
