"""The trade-off runner resumes longer pretraining from the longest shorter run, never a mismatched one."""

from elmo.ablations.tradeoff import bilm_home, seed_checkpoints
from elmo.bilm.train import config_hash
from elmo.core.config import get_config


def test_bilm_home_uses_the_profile_run_for_its_own_length():
    assert bilm_home("cpu", 2, 2).name == "cpu"
    assert bilm_home("cpu", 6, 2).name == "cpu-e6"


def test_seed_checkpoints_copies_the_longest_shorter_run(tmp_path):
    cfg = get_config("tiny", train={"max_epochs": 6})
    name = f"checkpoints-{config_hash(cfg)}"
    for epochs in (2, 4):
        ckpt = tmp_path / f"e{epochs}" / "pretrain" / name
        ckpt.mkdir(parents=True)
        (ckpt / "last.ckpt").write_text(f"epoch {epochs}")
    other = tmp_path / "e5" / "pretrain" / "checkpoints-0000000000"  # another config: never resumed
    other.mkdir(parents=True)
    (other / "last.ckpt").write_text("other")
    home = tmp_path / "e6"
    seed_checkpoints(cfg, home, [tmp_path / "e2", tmp_path / "e4", tmp_path / "e5"])
    assert (home / "pretrain" / name / "last.ckpt").read_text() == "epoch 4"
    (home / "pretrain" / name / "last.ckpt").write_text("trained further")
    seed_checkpoints(cfg, home, [tmp_path / "e4"])  # an existing run is never overwritten
    assert (home / "pretrain" / name / "last.ckpt").read_text() == "trained further"
    fresh = tmp_path / "e3"
    seed_checkpoints(cfg, fresh, [tmp_path / "e5"])  # nothing to resume: starts from scratch
    assert not (fresh / "pretrain").exists()
