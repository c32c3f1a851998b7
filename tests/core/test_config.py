import json

import pytest

from elmo.core.config import PROFILES, Config, TaskVariant, get_config


def test_profiles_resolve_and_differ():
    tiny, cpu, gpu = (get_config(p) for p in PROFILES)
    assert tiny.model.lstm_dim < cpu.model.lstm_dim < gpu.model.lstm_dim
    assert gpu.model.filters[-1] == (7, 1024)  # the paper's widest filter bank
    assert cpu.profile == "cpu" and tiny.data.max_petitions


def test_overrides_and_round_trip():
    cfg = get_config("tiny", train={"max_epochs": 7}, seed=3)
    assert cfg.train.max_epochs == 7 and cfg.seed == 3
    again = Config.from_dict(json.loads(cfg.to_json()))
    assert again == cfg  # tuples restored from JSON lists


def test_bad_profile_and_field():
    with pytest.raises(ValueError, match="unknown profile"):
        get_config("laptop")
    with pytest.raises(ValueError, match="lstm_size"):
        get_config("cpu", model={"lstm_size": 3})


def test_task_variants_probe_and_senses_sizes_live_in_the_profiles():
    """03's models, 05's sizes and 06's probe sizes are typed config, and survive a JSON round trip."""
    tiny, cpu = get_config("tiny"), get_config("cpu")
    assert tiny.probe.folds == 3 and cpu.probe.folds == 5 and tiny.senses.per_word < cpu.senses.per_word
    assert cpu.finetune.models["elmo_input_output"] == TaskVariant(elmo=True, placement="input_output")
    assert {cpu.finetune.main_model, cpu.finetune.probe_model} <= set(cpu.finetune.models)
    again = Config.from_dict(json.loads(cpu.to_json()))
    assert again == cpu and isinstance(again.finetune.models["no_elmo"], TaskVariant)
    with pytest.raises(ValueError, match="unknown TaskVariant"):
        get_config("cpu", finetune={"models": {"x": {"elmo": True, "placment": "input"}}})


def test_command_line_overrides_reach_the_config_and_typos_are_errors(capsys):
    from elmo.core.config import parse_overrides
    from elmo.pretrain import main

    sets = parse_overrides(["model.lstm_dim=256", "train.max_epochs=4", "train.precision=32-true"])
    assert sets == {"model": {"lstm_dim": 256}, "train": {"max_epochs": 4, "precision": "32-true"}}
    cfg = get_config("cpu", **sets)
    assert (cfg.model.lstm_dim, cfg.train.max_epochs, cfg.train.precision) == (256, 4, "32-true")
    with pytest.raises(ValueError, match="SECTION.FIELD=VALUE"):
        parse_overrides(["lstm_dim=256"])
    assert main(["--set", "model.lstm_dm=256"]) == 1  # refused before anything trains
    assert "lstm_dm" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--set", "model.lstm_dim"])
