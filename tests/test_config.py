"""Config loading: the complete default, overlays in order, `--set` last, and a clear error for
an unknown key, a wrong type or a bad value before anything runs."""

import pytest
import torch
import yaml

from mtl_aug.config import (
    CONFIG_DIR,
    LEGACY,
    REMOVED,
    REMOVED_CHOICES,
    default_config,
    flat,
    load_config,
    upgrade,
)
from mtl_aug.errors import ConfigError


def test_shipped_corpus_configs_load():
    """Each corpus overlay loads, and every value it sets is the one the loaded config has."""
    for path in (CONFIG_DIR / "corpus").glob("*.yaml"):
        cfg = load_config(path.stem).to_dict()
        for section, values in yaml.safe_load(path.read_text()).items():
            for key, value in values.items() if isinstance(values, dict) else [(None, values)]:
                assert (cfg[section] if key is None else cfg[section][key]) == value, (
                    path.name,
                    section,
                    key,
                )
    assert load_config("emodb").data.classes == "emodb7"


def test_overlays_apply_in_order_and_set_overrides_them(tmp_path):
    """Default < corpus overlay < each --config overlay in the order given < --set."""
    (tmp_path / "a.yaml").write_text(
        "train: {lr: 0.01}\nfeatures: {n_mels: 64}\ndata: {classes: four_class}\n"
    )
    (tmp_path / "b.yaml").write_text("train: {lr: 0.02}\n")
    a, b = str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")
    cfg = load_config("emodb", [a, b])
    assert cfg.train.lr == 0.02 and cfg.features.n_mels == 64
    assert cfg.data.classes == "four_class"  # the overlay over the corpus's emodb7
    assert cfg.train.max_epochs == load_config("emodb").train.max_epochs  # untouched keys stay
    assert load_config("emodb", [b, a]).train.lr == 0.01
    assert load_config("emodb", [b, a], ["train.lr=0.5"]).train.lr == 0.5


def test_the_variant_names_every_overlay_that_names_one_in_any_order(tmp_path):
    """Overlays that name a variant share run folders only when they are the same overlays, and
    may not disagree on a value (the name could not say which won); the default's own name
    stays out of a combination; a retired overlay says what replaced it."""
    assert load_config("emodb").variant == load_config("emodb", ["mtl_aug"]).variant == "mtl_aug"
    assert load_config("emodb", ["stl"]).variant == "stl"
    assert load_config("emodb", ["speaker", "stl"]).variant == "speaker_stl"
    assert load_config("emodb", ["stl", "speaker"]).variant == "speaker_stl"
    assert load_config("emodb", ["mtl_aug", "speaker"]).variant == "speaker"
    assert load_config("emodb", ["debug", "multi"]).variant == "multi"  # debug names none
    assert load_config("emodb", ["stl"], ["variant=mine"]).variant == "mine"
    (tmp_path / "mine.yaml").write_text("variant: mine\ndata: {unlabelled: null}\n")
    assert load_config("emodb", [str(tmp_path / "mine.yaml"), "stl"]).variant == "mine_stl"
    with pytest.raises(ConfigError, match="'paper' and 'speaker' both set model.centre_embedding"):
        load_config("emodb", ["paper", "speaker"])
    with pytest.raises(ConfigError, match="'svm_corpus' and 'speaker' both set features.normalise"):
        load_config("emodb", ["svm_corpus", "speaker"])
    with pytest.raises(ConfigError, match="no config 'portable' any more: .* default config"):
        load_config("emodb", ["portable"])
    with pytest.raises(ConfigError, match="'stl_portable' any more: .* `stl`"):
        load_config("emodb", ["stl_portable"])


def test_the_speaker_and_paper_overlays_restore_per_speaker_statistics():
    """The default is the setting for a new corpus and a lone file; `speaker` differs from it in
    exactly the values the defaults had before they changed; `paper` differs from `speaker`
    only in not centring the embeddings."""
    before = {
        "features.normalise": "speaker",
        "features.silence_db": None,
        "features.trim_silence": False,
        "model.centre_embedding": True,
        "corrupt.noise_prob": 0.0,
        "corrupt.reverb_prob": 0.0,
        "loss.weights.speaker": 0.0,
    }
    default, speaker, paper = (
        flat(load_config("emodb", o).to_dict()) for o in ([], ["speaker"], ["paper"])
    )

    def diff(a, b):
        return {k: b[k] for k in a if a[k] != b[k] and k != "variant"}

    assert diff(default, speaker) == before
    assert diff(speaker, paper) == {"model.centre_embedding": False}


def test_unknown_keys_are_refused_wherever_they_are_set(tmp_path):
    with pytest.raises(ConfigError, match="unknown config key 'train.learning_rate'"):
        load_config("synthetic_demo", overrides=["train.learning_rate=1"])
    (tmp_path / "typo.yaml").write_text("features: {n_mel: 64}\n")
    with pytest.raises(ConfigError, match="typo.yaml: unknown config key 'features.n_mel'"):
        load_config("synthetic_demo", [str(tmp_path / "typo.yaml")])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("synthetic_demo", [str(tmp_path / "absent.yaml")])


def test_config_values_are_type_checked():
    assert load_config("emodb", overrides=["train.lr=1e-3"]).train.lr == pytest.approx(0.001)
    for bad, msg in (
        ("train.lr=fast", r"'train.lr' expects a float, got 'fast' \(the default: 0.003\)"),
        (
            "loss.weights=0",
            "'loss.weights' is a section \\(keys ce, center, recon, aug, speaker\\)",
        ),
        ("data.styles=improvised", "'data.styles' expects a list of str or null"),
        ("train.patience=0", "train.patience must be null"),
        ("train.select=first", "train.select must be 'last'"),
        ("model.lstm_hidden=-3", "model.lstm_hidden must be a positive integer"),
        ("model.time_pool=[2,0,1]", "model.time_pool must be a positive integer"),
        ("data.batch_size=0", "data.batch_size must be a positive integer"),
        ("data.batch_size=2.5", "'data.batch_size' expects an int, got 2.5"),
        ("model.time_pool=[2,x,1]", "'model.time_pool' expects a list of int"),
        ("augment.time_masks=-1", "augment.time_masks must be a non-negative integer"),
        ("augment.mixup_alpha=0", "augment.mixup_alpha must be a positive number"),
        ("augment.speed_factors=[]", "augment.speed_factors must be a non-empty list"),
        ("augment.time_mask_fraction=1.5", "augment.time_mask_fraction must be a fraction"),
        ("loss.weights.ce=0", "loss.weights must be non-negative, with ce above 0"),
        ("loss.weights.recon=-1", "loss.weights must be non-negative"),
        ("data.max_train_seconds=0", "data.max_train_seconds must be null or a positive"),
        ("features.trim_silence=yes please", "'features.trim_silence' expects a bool"),
        ("features.prosody=true", "unknown config key 'features.prosody'"),
        ("train.scheduler=plateau", "train.scheduler must be 'onecycle' or 'none', got 'plateau'"),
        (
            "train.precision=bf16-true",
            "half precision, which torch's FFT does not support: use 16-mixed",
        ),
        ("train.lr=[1", "not valid YAML"),
    ):
        with pytest.raises(ConfigError, match=msg):
            load_config("emodb", overrides=[bad])


def test_loaded_sections_are_typed_and_frozen():
    """Each section is its own typed object; a float key given an int is a float; the config
    cannot be changed in place, only replaced (as the protocols do per seed)."""
    cfg = load_config("emodb", overrides=["train.lr=1", "train.devices=4"])
    assert type(cfg.train.lr) is float and cfg.train.lr == 1.0 and cfg.train.devices == 4
    assert type(cfg.corrupt.snr_db[0]) is float and type(cfg.model.cnn_channels[0]) is int
    with pytest.raises(AttributeError):
        cfg.train.lr = 0.5
    assert cfg.replace(seed=3).seed == 3 and cfg.seed == 0
    assert load_config("emodb").to_dict() == load_config("emodb", overrides=["seed=0"]).to_dict()


def test_upgrade_gives_an_older_config_the_behaviour_it_was_trained_with():
    """A saved tree lacking options added later: LEGACY keys take their old behaviour, every
    other absent key its default; a key this version does not know is an error naming the file."""
    tree = load_config("emodb").to_dict()

    def node(root, sections):
        for section in sections:
            root = root[section] if isinstance(root, dict) else getattr(root, section)
        return root

    for *sections, key in LEGACY:
        del node(tree, sections)[key]
    del tree["data"]["balance_corpora"]
    old = upgrade(tree, "old.yaml")
    assert all(getattr(node(old, s), k) == v for (*s, k), v in LEGACY.items())
    assert any(node(default_config(), s)[k] != v for (*s, k), v in LEGACY.items())
    assert old.data.balance_corpora is False and old.loss.weights.speaker == 0.0
    assert old.data == load_config("emodb").data
    tree["model"]["kernel"] = 3
    with pytest.raises(ConfigError, match="old.yaml: unknown config key 'model.kernel'"):
        upgrade(tree, "old.yaml")
    with pytest.raises(ConfigError, match="'model' is a section"):
        upgrade({"model": None}, "old.yaml")
    assert load_config("emodb", overrides=["train.gradient_clip=null"]).train.gradient_clip is None


# a config written while the removed options existed: each at the value that left it off
OFF = {
    "features": {"corpus_stats": "pooled", "lone_prob": 0.0, "prosody": False},
    "model": {"functionals": False},
    "train": {"scheduler": "onecycle", "plateau_factor": 0.5, "plateau_patience": 4},
}


def written_before_the_removal(**changes) -> dict:
    """emodb's config as saved before the removal, with `changes` ({"section.key": value})."""
    tree = load_config("emodb").to_dict()
    for section, values in OFF.items():
        tree[section].update(values)
    for key, value in changes.items():
        section, name = key.split(".")
        tree[section][name] = value
    return tree


def test_a_config_from_before_the_removal_loads_where_the_removed_options_were_off():
    """Old checkpoints and run folders hold the removed options: off, they load as the config
    they computed (the plateau scheduler's settings, inert under onecycle, whatever their
    value); and every removed key is gone from the schema."""
    now = load_config("emodb")
    assert upgrade(written_before_the_removal(), "old.yaml") == now
    assert upgrade(written_before_the_removal(**{"train.plateau_patience": 9}), "old.yaml") == now
    assert upgrade(written_before_the_removal(**{"features.lone_prob": 0}), "old.yaml") == now
    keys = set(flat(default_config()))
    assert {".".join(k) for k in REMOVED} == {
        f"{s}.{k}" for s, v in OFF.items() for k in v if k != "scheduler"
    }
    assert not keys & {".".join(k) for k in REMOVED}
    assert {".".join(k) for k in REMOVED_CHOICES} <= keys
    shipped = CONFIG_DIR.parent / "shipped" / "model.ckpt"  # a real one: trained before it
    if shipped.is_file():
        saved = torch.load(shipped, map_location="cpu", weights_only=False)
        cfg = saved["hyper_parameters"]["cfg"]
        assert cfg["features"]["prosody"] is False and "functionals" in cfg["model"]
        assert upgrade(cfg, "the shipped model's config").features.normalise == "corpus"


@pytest.mark.parametrize(
    "key,value,shown",
    [
        ("features.prosody", True, "features.prosody=true"),
        ("features.lone_prob", 0.5, "features.lone_prob=0.5"),
        ("features.corpus_stats", "per_corpus", "features.corpus_stats=per_corpus"),
        ("model.functionals", True, "model.functionals=true"),
        ("train.scheduler", "plateau", "train.scheduler=plateau"),
    ],
)
def test_a_config_that_used_a_removed_option_is_refused_naming_it(key, value, shown):
    with pytest.raises(ConfigError) as refused:
        upgrade(written_before_the_removal(**{key: value}), "old.yaml")
    assert str(refused.value) == (
        f"old.yaml: {shown} was removed from this version (measured and not adopted, "
        "docs/results.md), so what was trained with it cannot be loaded here"
    )


def test_a_run_folder_whose_config_this_version_cannot_read(tmp_path):
    """Nothing trained there: started again. Something trained: refused, with the way out."""
    from mtl_aug.training.runs import check_same_config

    cfg = load_config("emodb")
    tree = cfg.to_dict()
    tree["model"]["kernel"] = 3  # a key from another version
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tree))
    check_same_config(tmp_path, cfg)
    (tmp_path / "results.json").write_text("{}")
    with pytest.raises(
        ConfigError,
        match="cannot be read by this version .*unknown config key 'model.kernel'.*remove",
    ):
        check_same_config(tmp_path, cfg)
