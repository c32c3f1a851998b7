import pytest
import torch

from elmo.core import hardware
from elmo.core.config import get_config
from elmo.core.hardware import native_bf16, resolve_precision


@pytest.mark.parametrize("native, expected", [(True, "bf16-mixed"), (False, "32-true")])
def test_auto_precision_is_bf16_only_where_the_hardware_has_it(monkeypatch, native, expected):
    monkeypatch.setattr(hardware, "native_bf16", lambda accelerator="auto": native)
    assert resolve_precision("auto") == expected
    cfg = get_config("cpu")  # the profile says "auto": get_config settles it for this machine
    assert cfg.train.precision == cfg.finetune.precision == expected
    assert get_config("tiny").train.precision == "32-true"  # an explicit choice is kept


def test_explicit_precisions_are_kept_and_unknown_ones_refused():
    assert resolve_precision("bf16-mixed") == "bf16-mixed" and resolve_precision("32-true") == "32-true"
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("bf16")


def test_native_bf16_follows_the_cpus_feature_probes(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for amx, avx in [(False, False), (True, False), (False, True)]:
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda amx=amx: amx)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda avx=avx: avx)
        assert native_bf16() == (amx or avx)


def test_native_bf16_on_a_gpu_excludes_emulated_bf16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    asked = {}

    def supported(including_emulation=True):
        asked["including_emulation"] = including_emulation
        return including_emulation  # a pre-Ampere GPU: bf16 only by emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    assert native_bf16("auto") is False and asked == {"including_emulation": False}
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert native_bf16("cpu") is True  # accelerator="cpu": the CPU decides, not the GPU
