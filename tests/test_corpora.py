"""Corpus preparers on fake corpora in each native layout (plus the real shared copies where
present): what each manifest holds, what is skipped and reported, strict mode. Bad audio by
every preparer: test_manifest.py."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from builders import (
    EMODB_FILES,
    IEMOCAP_UTTS,
    MSP_ENTRIES,
    REAL_DATA,
    iemocap_label_file,
    iemocap_label_line,
    iemocap_wav,
    make_demand,
    make_emodb,
    make_generic,
    make_iemocap,
    make_librispeech,
    make_msp_improv,
    msp_wav,
    requires_real_data,
    sidecar,
    skip_reason_of,
    skipped_items,
    write_audio,
)

from mtl_aug.cli import main
from mtl_aug.config import load_config
from mtl_aug.data.audio import load_audio
from mtl_aug.data.corpora import (
    prepare_emodb,
    prepare_folders,
    prepare_generic,
    prepare_iemocap,
    prepare_librispeech,
    prepare_msp_improv,
    prepare_noise,
    prepare_synthetic,
)
from mtl_aug.data.corpora import synthetic as synthetic_module
from mtl_aug.data.datamodule import EmotionDataModule, load_labelled
from mtl_aug.data.manifest import COLUMNS, apply_class_map, read_manifest
from mtl_aug.errors import DataError


def rows_by_id(out: Path) -> dict[str, dict]:
    df = read_manifest(out)
    assert list(df.columns) == COLUMNS
    return {r["utt_id"]: r for r in df.to_dict("records")}


# ================================================================ IEMOCAP


def test_iemocap_rows_speakers_sessions_styles(tmp_path):
    root = make_iemocap(tmp_path)
    out = tmp_path / "m" / "iemocap.csv"
    prepare_iemocap(root, out)
    rows = rows_by_id(out)
    assert set(rows) == set(IEMOCAP_UTTS)  # every labelled turn, evaluator lines ignored
    for utt, (session, dialog, gender, emo) in IEMOCAP_UTTS.items():
        r = rows[utt]
        assert r["speaker"] == f"Ses0{session}{gender}", utt
        assert r["gender"] == gender and r["session"] == str(session), utt
        assert r["emotion"] == emo, utt  # native code kept (exc, fru, xxx too)
        assert r["style"] == ("scripted" if "script" in dialog else "improvised"), utt
        assert r["corpus"] == "iemocap"
        assert Path(r["path"]) == iemocap_wav(root, utt) and Path(r["path"]).is_file()
    # the a/b dialogs: the speaker is the utterance's own speaker, not the dialog's
    assert rows["Ses03M_impro05a_F001"]["speaker"] == "Ses03F"
    assert rows["Ses03M_impro05b_M002"]["speaker"] == "Ses03M"
    assert rows["Ses02F_script01_1_M000"]["speaker"] == "Ses02M"
    assert rows["Ses02F_script01_1_M000"]["style"] == "scripted"
    assert len({r["speaker"] for r in rows.values()}) == 10
    assert sidecar(out)["skipped"] == {}
    assert sidecar(out)["speakers"] == 10


def test_iemocap_clean_fake_corpus_passes_strict(tmp_path):
    df = prepare_iemocap(make_iemocap(tmp_path), tmp_path / "iemocap.csv", strict=True)
    assert len(df) == len(IEMOCAP_UTTS)


def test_iemocap_four_class_view_merges_exc_and_drops_others(tmp_path):
    out = tmp_path / "iemocap.csv"
    prepare_iemocap(make_iemocap(tmp_path), out)
    df = read_manifest(out)
    kept, names, dropped = apply_class_map(df, "four_class")
    assert names == ["angry", "happy", "neutral", "sad"]
    assert dropped == Counter({"fru": 1, "xxx": 1})
    by_id = dict(zip(kept["utt_id"], kept["label"], strict=True))
    happy = names.index("happy")
    for utt, (_, _, _, emo) in IEMOCAP_UTTS.items():
        if emo in ("hap", "exc"):
            assert by_id[utt] == happy, utt
        elif emo in ("fru", "xxx"):
            assert utt not in by_id
        else:
            assert names[by_id[utt]] == {"ang": "angry", "neu": "neutral", "sad": "sad"}[emo]
    assert len(kept) == 12
    assert sidecar(out)["four_class_count"] == len(kept)
    # data.styles=[improvised]: scripted turns are dropped and counted by style, then the labels
    cfg = load_config(
        "iemocap", overrides=[f"data.manifest_dir={tmp_path}", "data.styles=[improvised]"]
    )
    kept, _, dropped = load_labelled(cfg)
    scripted = sum("script" in dialog for _, dialog, _, _ in IEMOCAP_UTTS.values())
    outside = Counter(
        emo
        for _, dialog, _, emo in IEMOCAP_UTTS.values()
        if "script" not in dialog and emo in ("fru", "xxx")
    )
    assert scripted and dropped == Counter({"style scripted": scripted, **outside})
    assert len(kept) == len(IEMOCAP_UTTS) - scripted - sum(outside.values())


def test_iemocap_wrong_root_names_expected_layout(tmp_path):
    make_iemocap(tmp_path)
    with pytest.raises(DataError) as err:
        prepare_iemocap(tmp_path, tmp_path / "iemocap.csv")  # the parent, not the release folder
    assert "Session1..Session5" in str(err.value)
    assert "IEMOCAP_full_release" in str(err.value)


def _iemocap_missing_label_file(root):
    write_audio(iemocap_wav(root, "Ses01M_impro02_F000"))  # wav folder, no label file
    return "Ses01M_impro02.txt"


def _iemocap_unknown_code(root):
    label_file = iemocap_label_file(root, "Ses05M_script02_2")
    write_audio(iemocap_wav(root, "Ses05M_script02_2_M001"))
    label_file.write_text(
        label_file.read_text() + iemocap_label_line("Ses05M_script02_2_M001", "zzz", 9.0) + "\n"
    )
    return "Ses05M_script02_2.txt"


def _iemocap_missing_audio(root):
    label_file = iemocap_label_file(root, "Ses04F_impro01")
    label_file.write_text(
        label_file.read_text() + iemocap_label_line("Ses04F_impro01_M001", "ang", 9.0) + "\n"
    )
    return "Ses04F_impro01_M001.wav"


IEMOCAP_DEFECTS = {
    "missing label file": _iemocap_missing_label_file,
    "unknown label code": _iemocap_unknown_code,
    "missing audio": _iemocap_missing_audio,
}


def test_iemocap_defects_are_skipped_and_counted(tmp_path):
    root = make_iemocap(tmp_path)
    names = [add(root) for add in IEMOCAP_DEFECTS.values()]
    out = tmp_path / "iemocap.csv"
    df = prepare_iemocap(root, out)
    assert set(df["utt_id"]) == set(IEMOCAP_UTTS)  # the good ones are all kept
    items = skipped_items(out)
    assert len(items) == 3
    for name in names:
        assert any(name in item for item in items), name
    assert "zzz" in skip_reason_of(out, "Ses05M_script02_2.txt")
    assert "label file" in skip_reason_of(out, "Ses01M_impro02.txt")
    assert "missing" in skip_reason_of(out, "Ses04F_impro01_M001.wav")


@pytest.mark.parametrize("defect", list(IEMOCAP_DEFECTS))
def test_iemocap_defects_raise_in_strict_mode(tmp_path, defect):
    root = make_iemocap(tmp_path)
    name = IEMOCAP_DEFECTS[defect](root)
    with pytest.raises(DataError, match=name.replace(".", r"\.")):
        prepare_iemocap(root, tmp_path / "iemocap.csv", strict=True)


# ================================================================ MSP-IMPROV


def test_msp_improv_rows_and_dropped_labels(tmp_path):
    root = make_msp_improv(tmp_path)
    out = tmp_path / "msp_improv.csv"
    prepare_msp_improv(root, out)
    rows = rows_by_id(out)
    kept = {n: lab for n, lab in MSP_ENTRIES.items() if lab in "AHNS"}
    assert set(rows) == {f"MSP-IMPROV-{n}" for n in kept}
    for name, label in kept.items():
        r = rows[f"MSP-IMPROV-{name}"]
        speaker = name.split("-")[1]
        assert r["speaker"] == speaker and r["gender"] == speaker[0]
        assert r["session"] == str(int(speaker[1:]))
        assert r["emotion"] == label
        assert Path(r["path"]) == msp_wav(root, name)
    r = rows["MSP-IMPROV-S01A-F01-P-FM01"]
    assert (r["speaker"], r["session"], r["gender"]) == ("F01", "1", "F")
    assert {r["session"] for r in rows.values()} == {"1", "2"}
    assert {r["gender"] for r in rows.values()} == {"F", "M"}
    assert {r["speaker"] for r in rows.values()} == {"F01", "M01", "F02", "M02"}
    # O and X are dropped, each counted under its own reason with the utterance named
    assert skip_reason_of(out, "S03A-F01-P-FM02").startswith("consensus label O")
    assert skip_reason_of(out, "S04H-M02-P-MF02").startswith("consensus label X")
    assert len(skipped_items(out)) == 2
    # a second copy of an utterance's audio is skipped and counted; a second Evaluation.txt is an
    # error
    copy = root / "backup" / f"MSP-IMPROV-{next(iter(kept))}.wav"
    write_audio(copy)
    prepare_msp_improv(root, out)
    assert skip_reason_of(out, "backup/" + copy.name).startswith(
        "a second copy of an utterance's audio"
    )
    assert Path(rows_by_id(out)[f"MSP-IMPROV-{next(iter(kept))}"]["path"]) == msp_wav(
        root, next(iter(kept))
    )
    (root / "backup" / "Evaluation.txt").write_text((root / "Evaluation.txt").read_text())
    with pytest.raises(DataError, match="2 Evaluation.txt files under"):
        prepare_msp_improv(root, out)


def test_msp_improv_four_class(tmp_path):
    out = tmp_path / "msp_improv.csv"
    prepare_msp_improv(make_msp_improv(tmp_path), out)
    kept, names, dropped = apply_class_map(read_manifest(out), "four_class")
    assert dropped == Counter()
    assert Counter(names[i] for i in kept["label"]) == Counter(
        {"angry": 2, "happy": 2, "neutral": 2, "sad": 2}
    )


# ================================================================ EMODB


def test_emodb_rows_gender_and_bad_names(tmp_path, capsys):
    root = make_emodb(tmp_path)
    write_audio(root / "wav" / "recording_7.wav")  # not SSTTTEV
    write_audio(root / "wav" / "99a01Wa.wav")  # unknown speaker
    (root / "wav" / "03a01Wa.mp3").write_bytes(b"ID3")  # not a .wav
    out = tmp_path / "emodb.csv"
    assert main(["prepare", "emodb", str(root), "--out-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out  # `mtl-aug prepare` reports every skip, by reason and file
    assert "skipped 3:" in printed
    assert "not a .wav file  (03a01Wa.mp3)" in printed and "unknown speaker" in printed
    rows = rows_by_id(out)
    assert set(rows) == set(EMODB_FILES)
    male, female = {"03", "10", "11", "12", "15"}, {"08", "09", "13", "14", "16"}
    for stem, r in rows.items():
        assert r["speaker"] == stem[:2] and r["emotion"] == stem[5]
        assert r["gender"] == ("M" if stem[:2] in male else "F")
        assert stem[:2] in male | female
    assert {r["speaker"] for r in rows.values()} == male | female
    items = skipped_items(out)
    assert len(items) == 3
    assert any("recording_7.wav" in i for i in items) and any("99a01Wa.wav" in i for i in items)
    assert skip_reason_of(out, "03a01Wa.mp3") == "not a .wav file"
    with pytest.raises(DataError, match="03a01Wa.mp3: not a .wav file"):
        prepare_emodb(root, tmp_path / "strict.csv", strict=True)
    (root / "wav" / "03a01Wa.mp3").unlink()
    with pytest.raises(DataError, match="99a01Wa.wav: unknown speaker"):
        prepare_emodb(root, tmp_path / "strict.csv", strict=True)
    (root / "wav" / "99a01Wa.wav").unlink()
    with pytest.raises(DataError, match="recording_7.wav: file name not of the form"):
        prepare_emodb(root, tmp_path / "strict.csv", strict=True)


def test_emodb_four_class_maps_w_f_n_t(tmp_path):
    out = tmp_path / "emodb.csv"
    prepare_emodb(make_emodb(tmp_path), out)
    kept, names, dropped = apply_class_map(read_manifest(out), "four_class")
    expect = {"W": "angry", "F": "happy", "N": "neutral", "T": "sad"}
    assert all(
        names[lab] == expect[emo] for emo, lab in zip(kept["emotion"], kept["label"], strict=True)
    )
    assert Counter(kept["emotion"]) == Counter({"W": 2, "F": 2, "N": 2, "T": 2})
    assert dropped == Counter({"L": 1, "A": 1, "E": 2})


def test_emodb_without_wav_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="wav/"):
        prepare_emodb(tmp_path, tmp_path / "emodb.csv")


# ================================================================ LibriSpeech


def test_librispeech_reads_all_flac_unlabelled(tmp_path):
    root = make_librispeech(tmp_path)
    out = tmp_path / "librispeech.csv"
    prepare_librispeech(root, out)
    rows = rows_by_id(out)
    assert len(rows) == 24
    r = rows["121-1210-0002"]
    assert (r["speaker"], r["session"], r["style"], r["emotion"]) == (
        "121",
        "1210",
        "test-clean",
        "",
    )
    assert rows["533-5331-0000"]["style"] == "test-other"
    assert all(
        Path(r["path"]).suffix == ".flac" and Path(r["path"]).is_file() for r in rows.values()
    )
    assert {r["emotion"] for r in rows.values()} == {""}


def test_librispeech_hours_cap_is_seeded_and_reaches_the_cap(tmp_path):
    root = make_librispeech(tmp_path)
    cap_s = 3.0
    hours = cap_s / 3600

    def subset(seed, name):
        out = tmp_path / f"{name}.csv"
        df = prepare_librispeech(root, out, hours=hours, seed=seed)
        return out, df

    out_a, a = subset(0, "a")
    out_b, b = subset(0, "b")
    assert out_a.read_bytes() == out_b.read_bytes()  # same seed -> same subset
    assert a["duration"].sum() >= cap_s  # enough data: the cap is reached
    assert len(a) < 24  # ... and it is a subset
    assert a["duration"].sum() - a["duration"].max() < cap_s  # it stops once the cap is reached
    others = [set(subset(seed, f"s{seed}")[1]["utt_id"]) for seed in (1, 2, 3)]
    assert any(o != set(a["utt_id"]) for o in others)  # another seed picks differently
    assert sidecar(out_a)["seed"] == 0 and sidecar(out_a)["hours_cap"] == hours


def test_librispeech_cap_above_the_data_keeps_everything_and_says_so(tmp_path, capsys):
    df = prepare_librispeech(make_librispeech(tmp_path), tmp_path / "l.csv", hours=1.0, seed=5)
    assert len(df) == 24
    assert (
        "HOURS=1 asked for, but its usable audio is 0.00 h: all of it is kept"
        in capsys.readouterr().err
    )


# ================================================================ DEMAND / noise folders


def test_demand_16k_and_48k_folders(tmp_path):
    root = make_demand(tmp_path)
    out = tmp_path / "demand.csv"
    prepare_noise(root, out)
    rows = rows_by_id(out)
    assert set(rows) == {
        "DKITCHEN_ch01",
        "DKITCHEN_ch02",
        "DKITCHEN_ch03",
        "OMEETING_ch01",
        "OMEETING_ch02",
    }
    for utt, r in rows.items():
        env = utt.split("_")[0]
        assert r["speaker"] == env and r["style"] == "noise" and r["emotion"] == ""
        assert r["sample_rate"] == (48000 if env == "OMEETING" else 16000)
    r = rows["OMEETING_ch01"]
    assert r["duration"] == pytest.approx(0.4)
    wave = load_audio(r["path"])
    assert wave.ndim == 1 and abs(len(wave) - 0.4 * 16000) <= 3


def test_flat_noise_folder(tmp_path):
    root = tmp_path / "noise"
    write_audio(root / "hum.wav", seconds=0.3)
    write_audio(root / "fan.flac", seconds=0.2, fmt="FLAC")
    (root / "notes.txt").write_text("not audio, not an audio suffix either\n")
    out = tmp_path / "noise.csv"
    prepare_noise(root, out, corpus="noise")
    rows = rows_by_id(out)
    assert set(rows) == {"hum", "fan"}
    assert {r["speaker"] for r in rows.values()} == {"hum", "fan"}
    assert {r["corpus"] for r in rows.values()} == {"noise"}


def test_noise_folder_without_audio_is_a_data_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no audio files"):
        prepare_noise(tmp_path / "empty", tmp_path / "noise.csv")


# ================================================================ generic CSV


def test_generic_csv_relative_and_absolute_paths(tmp_path):
    csv = make_generic(tmp_path)
    out = tmp_path / "m" / "mycorpus.csv"
    prepare_generic(csv, out)
    rows = rows_by_id(out)
    outside = (
        (tmp_path / "elsewhere" / "d1").resolve().relative_to("/").as_posix().replace("/", "_")
    )
    assert set(rows) == {"audio_a1", "audio_sub_b1", "c1", outside}  # ids: the paths
    assert Path(rows["audio_sub_b1"]["path"]) == csv.parent / "audio" / "sub" / "b1.wav"
    assert Path(rows[outside]["path"]) == (tmp_path / "elsewhere" / "d1.wav").resolve()
    assert all(Path(r["path"]).is_file() for r in rows.values())
    assert (
        rows["audio_a1"]["speaker"],
        rows["audio_a1"]["emotion"],
        rows["audio_a1"]["gender"],
        rows["audio_a1"]["session"],
    ) == ("spkA", "angry", "F", "1")
    assert rows["c1"]["session"] == "2" and rows[outside]["gender"] == "M"
    assert {r["corpus"] for r in rows.values()} == {"mycorpus"}
    assert rows["c1"]["duration"] == pytest.approx(0.35)


def test_generic_csv_speaker_folders_repeating_file_names(tmp_path):
    """<speaker>/utt001.wav: the same file name for every speaker."""
    folder = tmp_path / "corpus"
    lines = ["path,speaker,emotion"]
    for spk, emo in (("s1", "angry"), ("s2", "sad")):
        write_audio(folder / spk / "utt001.wav")
        lines.append(f"{spk}/utt001.wav,{spk},{emo}")
    (folder / "corpus.csv").write_text("\n".join(lines) + "\n")
    prepare_generic(folder / "corpus.csv", tmp_path / "g.csv")
    assert set(rows_by_id(tmp_path / "g.csv")) == {"s1_utt001", "s2_utt001"}
    # a utt_id column names the rows itself; where two rows share one, both files are named
    (folder / "corpus.csv").write_text(
        "path,speaker,emotion,utt_id\ns1/utt001.wav,s1,angry,a\ns2/utt001.wav,s2,sad,b\n"
    )
    prepare_generic(folder / "corpus.csv", tmp_path / "g.csv")
    assert set(rows_by_id(tmp_path / "g.csv")) == {"a", "b"}
    (folder / "corpus.csv").write_text(
        "path,speaker,emotion,utt_id\ns1/utt001.wav,s1,angry,a\ns2/utt001.wav,s2,sad,a\n"
    )
    with pytest.raises(
        DataError,
        match=r"1 utterance ids name more than one file .*\(a: .*s1/utt001.wav, "
        r".*s2/utt001.wav\).* utt_id column",
    ):
        prepare_generic(folder / "corpus.csv", tmp_path / "g.csv")


def test_generic_csv_in_another_encoding_names_the_line(tmp_path):
    csv = make_generic(tmp_path)
    write_audio(csv.parent / "e1.wav")
    csv.write_bytes(csv.read_bytes() + "e1.wav,J\u00fcrgen,happy,M,2\n".encode("latin-1"))
    with pytest.raises(
        DataError, match=r"corpus.csv, line 6: byte b'\\xfc' is not utf-8; .*--encoding latin-1"
    ):
        prepare_generic(csv, tmp_path / "g.csv")
    assert (
        main(
            [
                "prepare",
                "generic",
                str(csv),
                "--encoding",
                "latin-1",
                "--out-dir",
                str(tmp_path / "m"),
            ]
        )
        == 0
    )
    assert "J\u00fcrgen" in set(read_manifest(tmp_path / "m" / "generic.csv")["speaker"])
    with pytest.raises(DataError, match="--encoding latin-9x: not an encoding"):
        prepare_generic(csv, tmp_path / "g.csv", encoding="latin-9x")


def test_labels_outside_the_class_set_are_reported_at_prepare_as_training_reports_them(
    tmp_path, capsys
):
    """A label outside the class set (furious) is kept in the manifest, and counted and named by
    `prepare` with the class set it was checked against; training's description of the corpus
    says the same, so its speaker count does not contradict prepare's."""
    folder = tmp_path / "corpus"
    lines = ["path,speaker,emotion"]
    for speaker in ("s1", "s2", "s3", "s4"):
        for emotion in ("angry", "happy", "neutral", "sad"):
            write_audio(folder / f"{speaker}_{emotion}.wav", seconds=0.3)
            lines.append(f"{speaker}_{emotion}.wav,{speaker},{emotion}")
    for name, speaker in (("s1_x", "s1"), ("s5_a", "s5"), ("s5_b", "s5")):  # s5: furious only
        write_audio(folder / f"{name}.wav", seconds=0.3)
        lines.append(f"{name}.wav,{speaker},furious")
    (folder / "corpus.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "m"
    args = ["prepare", "generic", str(folder / "corpus.csv"), "--name", "mine"]
    assert main([*args, "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    said = (
        "mine: class set four_class (angry, happy, neutral, sad): 16 of 19 utterances and 4 of 5 "
        "speakers in it; 1 label(s) outside it, dropped in training: furious 3"
    )
    assert "wrote" in printed and "19 utterances, 5 speakers" in printed and said in printed
    assert len(read_manifest(out / "mine.csv")) == 19  # kept: another class set may take them
    dm = EmotionDataModule(
        load_config("mine", [], [f"data.manifest_dir={out}", "data.unlabelled=null"])
    )
    assert said in dm.describe().splitlines()
    # another class set, named: every label is checked against it
    assert main([*args, "--out-dir", str(out), "--classes", "emodb7"]) == 0
    assert (
        "4 of 19 utterances and 4 of 5 speakers in it; 4 label(s) outside it, dropped in "
        "training: angry 4, furious 3, happy 4, sad 4" in (capsys.readouterr().out)
    )
    assert main([*args, "--out-dir", str(out), "--classes", "nine"]) == 2
    assert "--classes: unknown class set 'nine' (known: four_class," in capsys.readouterr().err


def test_generic_given_a_folder_says_it_needs_the_csv(tmp_path):
    csv = make_generic(tmp_path)
    with pytest.raises(
        DataError, match="is a folder: CORPUS=generic reads a CSV file .* CORPUS=folders"
    ):
        prepare_generic(csv.parent, tmp_path / "g.csv")


def test_generic_csv_optional_columns_may_be_absent(tmp_path):
    out = tmp_path / "g.csv"
    prepare_generic(make_generic(tmp_path, with_optional=False), out)
    rows = rows_by_id(out)
    assert len(rows) == 4
    assert {(r["gender"], r["session"]) for r in rows.values()} == {("", "")}


@pytest.mark.parametrize("column", ["path", "speaker", "emotion"])
def test_generic_csv_missing_required_column(tmp_path, column):
    csv = make_generic(tmp_path)
    pd.read_csv(csv, dtype=str).drop(columns=[column]).to_csv(csv, index=False)
    with pytest.raises(DataError, match=f"'{column}'"):
        prepare_generic(csv, tmp_path / "g.csv")


def test_generic_csv_missing_audio_is_counted_and_strict_raises(tmp_path):
    csv = make_generic(tmp_path)
    csv.write_text(csv.read_text() + "audio/ghost.wav,spkE,sad,F,3\n")
    out = tmp_path / "g.csv"
    prepare_generic(csv, out)
    assert "missing" in skip_reason_of(out, "ghost.wav")
    with pytest.raises(DataError, match="ghost.wav"):
        prepare_generic(csv, tmp_path / "s.csv", strict=True)


# ================================================================ one folder per emotion


def make_folders(root: Path) -> Path:
    """<Emotion>/<speaker>_<n>.wav, with one file name in two emotion folders, a file outside
    any emotion folder and a file whose name has no speaker."""
    for emo, spk, n in (
        ("Angry", "s1", 1),
        ("Angry", "s2", 1),
        ("Sad", "s1", 1),
        ("Sad", "s2", 2),
        ("Neutral", "s1", 3),
    ):
        write_audio(root / emo / f"{spk}_{n}.wav", freq=200 + 30 * n)
    write_audio(root / "loose_1.wav")
    write_audio(root / "Sad" / "nospeaker.wav")
    return root


def test_folders_emotion_from_folder_speaker_from_regex(tmp_path, capsys):
    out = tmp_path / "m" / "mine.csv"
    assert (
        main(
            [
                "prepare",
                "folders",
                str(make_folders(tmp_path / "c")),
                "--name",
                "mine",
                "--speaker",
                r"(?P<speaker>s\d)_",
                "--out-dir",
                str(out.parent),
            ]
        )
        == 0
    )
    rows = rows_by_id(out)
    # s1_1.wav is in Angry and in Sad: the ids keep them apart
    assert sorted(rows) == ["Angry_s1_1", "Angry_s2_1", "Neutral_s1_3", "Sad_s1_1", "Sad_s2_2"]
    assert (
        rows["Sad_s1_1"]["emotion"],
        rows["Sad_s1_1"]["speaker"],
        rows["Sad_s1_1"]["corpus"],
    ) == ("sad", "s1", "mine")
    assert "not in an emotion folder" in skip_reason_of(out, "loose_1.wav")
    assert "does not match" in skip_reason_of(out, "nospeaker.wav")
    assert "skipped 2" in capsys.readouterr().out
    df, names, dropped = load_labelled(load_config("mine", [], [f"data.manifest_dir={out.parent}"]))
    assert len(df) == 5 and names == ["angry", "happy", "neutral", "sad"] and not dropped


def test_folders_needs_a_speaker_regex_with_a_named_group(tmp_path):
    root = make_folders(tmp_path / "c")
    with pytest.raises(DataError, match="needs SPEAKER="):
        prepare_folders(root, tmp_path / "x.csv")
    with pytest.raises(DataError, match=r"named group \(\?P<speaker>"):
        prepare_folders(root, tmp_path / "x.csv", speaker=r"(s\d)_")
    with pytest.raises(DataError, match="not a valid regular expression"):
        prepare_folders(root, tmp_path / "x.csv", speaker=r"(?P<speaker>s\d")


# ================================================================ synthetic demo


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """The demo as prepare_synthetic generates it (default speakers and emotions), with one
    utterance per speaker and emotion instead of ten to keep the test fast."""
    base = tmp_path_factory.mktemp("synthetic")
    out = base / "synthetic_demo.csv"
    generate = synthetic_module.generate_synthetic
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            synthetic_module,
            "generate_synthetic",
            lambda root, **kw: generate(root, **{"per_emotion": 1, **kw}),
        )
        df = prepare_synthetic(base / "corpus", out)
    return base / "corpus", out, df


def test_synthetic_demo_generates_a_labelled_corpus(synthetic):
    root, out, df = synthetic
    assert (root / "corpus.csv").is_file()
    assert "SYNTHETIC" in (root / "README.txt").read_text()
    rows = read_manifest(out)
    assert rows["speaker"].nunique() >= 3
    assert len(rows) == rows["speaker"].nunique() * 4
    assert set(rows["emotion"]) == {"angry", "happy", "neutral", "sad"}
    assert set(rows["corpus"]) == {"synthetic_demo"}
    assert all(Path(p).is_file() for p in rows["path"])
    kept, _, dropped = apply_class_map(rows, "four_class")  # native labels are the class names
    assert len(kept) == len(rows) and not dropped


def test_synthetic_demo_is_not_regenerated(synthetic, tmp_path):
    root, out, _ = synthetic
    again = tmp_path / "again.csv"
    prepare_synthetic(root, again)
    assert again.read_bytes() == out.read_bytes()


# ================================================================ real data


@requires_real_data
def test_real_emodb_manifest(tmp_path):
    out = tmp_path / "emodb.csv"
    prepare_emodb(REAL_DATA / "emodb", out, strict=True)
    df = read_manifest(out)
    assert len(df) == 535
    assert df["speaker"].nunique() == 10
    assert Counter(df["emotion"]) == Counter(
        {"W": 127, "L": 81, "E": 46, "A": 69, "F": 71, "T": 62, "N": 79}
    )
    assert Counter(df.drop_duplicates("speaker")["gender"]) == Counter({"M": 5, "F": 5})


@requires_real_data
def test_real_librispeech_sample(tmp_path):
    out = tmp_path / "librispeech.csv"
    prepare_librispeech(REAL_DATA / "librispeech_sample", out)
    df = read_manifest(out)
    assert len(df) == 355
    assert all(p.endswith(".flac") and Path(p).is_file() for p in df["path"])
    assert set(df["emotion"]) == {""}
    assert sidecar(out)["skipped"] == {}


@requires_real_data
def test_real_urdu_and_turev(tmp_path):
    from mtl_aug.data.corpora import prepare_turev, prepare_urdu

    prepare_urdu(REAL_DATA / "urdu", tmp_path / "urdu.csv", strict=True)
    urdu = read_manifest(tmp_path / "urdu.csv")
    assert len(urdu) == 400 and urdu["speaker"].nunique() == 29
    assert set(urdu["gender"]) == {"M", "F"} and urdu["speaker"].str.match(r"^[MF]\d+$").all()
    assert Counter(urdu["emotion"]) == Counter(
        {"angry": 100, "happy": 100, "neutral": 100, "sad": 100}
    )
    prepare_turev(REAL_DATA / "turev", tmp_path / "turev.csv", strict=True)
    turev = read_manifest(tmp_path / "turev.csv")
    assert len(turev) == 1735
    assert sorted(turev["speaker"].unique()) == ["1157", "1234", "1358", "1984", "6783", "7895"]
    kept, names, dropped = apply_class_map(turev, "four_class")
    assert len(kept) == 1735 - 408 and dropped == Counter(
        {"calm": 408}
    )  # calm has no four_class class
