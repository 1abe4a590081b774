"""Config resolution: precedence, --set routing, validation, parsing."""

from __future__ import annotations

import json

import pytest

from sslkit.config import PretrainConfig, load_config_file, parse_assignments, parse_policy_spec, resolve
from sslkit.errors import SSLKitError
from sslkit.methods.simsiam import SimSiam


def test_preset_then_file_then_flags_then_set(tmp_path) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"epochs": 3, "lr": 0.5, "batch_size": 64}))
    cfg = resolve("simsiam", "digits", SimSiam, preset="quick", file_values=load_config_file(path),
                  flags={"lr": 0.1, "epochs": None}, sets={"batch_size": 32, "proj_dim": 64})
    assert cfg.backbone == "smallcnn"  # preset
    assert cfg.epochs == 3  # file beats preset; a None flag does not override
    assert cfg.lr == 0.1  # flag beats file
    assert cfg.batch_size == 32  # --set beats everything
    assert cfg.method_options["proj_dim"] == 64  # unknown config key -> method option
    assert cfg.method_options["pred_hidden_dim"] == SimSiam.presets["quick"]["method"]["pred_hidden_dim"]


def test_unknown_method_option_lists_valid_ones() -> None:
    with pytest.raises(SSLKitError, match="has no option nonsense; its options: proj_dim"):
        resolve("simsiam", "digits", SimSiam, sets={"nonsense": 1})


def test_unknown_preset() -> None:
    with pytest.raises(SSLKitError, match="no preset 'fast'"):
        resolve("simsiam", "digits", SimSiam, preset="fast")


@pytest.mark.parametrize("field,value,message", [
    ("lr", -0.1, "lr must be a positive number"),
    ("epochs", 0, "epochs must be a positive number"),
    ("batch_size", -4, "batch-size must be a positive number"),
    ("weight_decay", -1.0, "weight-decay must be >= 0"),
    ("precision", "fp8", "precision must be one of"),
    ("lr", "fast", "lr must be a number"),
])
def test_bad_values_are_user_errors(field, value, message) -> None:
    with pytest.raises(SSLKitError, match=message):
        resolve("simsiam", "digits", SimSiam, sets={field: value})


def test_parsers() -> None:
    assert parse_assignments(["lr=0.1", "name=abc", "flag=true", "x=none", "l=[1,2]"], "--set") == {
        "lr": 0.1, "name": "abc", "flag": True, "x": None, "l": [1, 2]}
    with pytest.raises(SSLKitError, match="--set expects key=value"):
        parse_assignments(["lr"], "--set")
    assert parse_policy_spec("simclr:scale_min=0.2,jitter=0.4") == ("simclr", {"scale_min": 0.2, "jitter": 0.4})
    assert parse_policy_spec("weak") == ("weak", {})


def test_config_round_trips_through_a_run_file(tmp_path) -> None:
    cfg = resolve("simsiam", "digits", SimSiam, preset="quick")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"config": cfg.to_dict()}))
    assert PretrainConfig(**load_config_file(path)) == cfg


def test_aug_of_a_whole_role_replaces_the_presets_per_view_policies() -> None:
    from sslkit.methods.byol import BYOL

    paper = resolve("byol", "digits", BYOL, preset="paper")
    assert paper.aug == {"standard.1": "byol-1:blur_p=0", "standard.2": "byol-2:blur_p=0"}
    one_view = resolve("byol", "digits", BYOL, preset="paper", flags={"aug": {"standard.2": "weak"}})
    assert one_view.aug == {"standard.1": "byol-1:blur_p=0", "standard.2": "weak"}
    whole_role = resolve("byol", "digits", BYOL, preset="paper", flags={"aug": {"standard": "simclr"}})
    assert whole_role.aug == {"standard": "simclr"}


def test_a_preset_seed_is_kept_unless_a_seed_is_given() -> None:
    from sslkit.methods.sacc import SACC

    assert resolve("sacc", "digits", SACC, preset="paper").seed == 42
    assert resolve("sacc", "digits", SACC, preset="paper", flags={"seed": None}).seed == 42
    assert resolve("sacc", "digits", SACC, preset="paper", flags={"seed": 3}).seed == 3
