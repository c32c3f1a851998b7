import json

import pytest

from elmo.core.config import PROFILES, Config, get_config


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
