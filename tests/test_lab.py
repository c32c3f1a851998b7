"""The notebooks as JupyterLab sees them: a save through jupytext changes nothing, the shipped
settings open a notebook source as a notebook, the profile comes from the environment."""

import json
import shutil
from pathlib import Path

import pytest

from elmo.core.config import profile_from_env
from elmo.notebooks import notebook_sources
from elmo.core.runs import REPO

OVERRIDES = REPO / "lab" / "settings" / "overrides.json"


def test_saving_through_jupytext_leaves_every_notebook_source_unchanged(tmp_path):
    """What JupyterLab's autosave does: jupytext's contents manager reads the .py, the running
    kernel sets its kernelspec and language_info, the notebook is saved back to the .py."""
    from jupyter_server.services.contents.largefilemanager import LargeFileManager
    from jupytext.sync_contentsmanager import build_sync_jupytext_contents_manager_class

    for src in notebook_sources():
        shutil.copy(src, tmp_path / src.name)
    manager = build_sync_jupytext_contents_manager_class(LargeFileManager)(root_dir=str(tmp_path))
    for src in notebook_sources():
        nb = manager.get(src.name)["content"]
        nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
        nb.metadata["language_info"] = {"name": "python", "version": "3.11", "mimetype": "text/x-python"}
        manager.save({"type": "notebook", "format": "json", "content": nb}, src.name)
        assert (tmp_path / src.name).read_text() == src.read_text(), f"{src.name} changes when JupyterLab saves it"


def test_shipped_lab_settings_open_python_sources_as_notebooks():
    overrides = json.loads(OVERRIDES.read_text())
    assert overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]["python"] == "Jupytext Notebook"
    assert f'app_settings_dir="$(CURDIR)/{OVERRIDES.parent.relative_to(REPO)}"' in (REPO / "Makefile").read_text()


def test_profile_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("ELMO_PROFILE", raising=False)
    assert profile_from_env() == "cpu"
    monkeypatch.setenv("ELMO_PROFILE", "tiny")
    assert profile_from_env() == "tiny"
    monkeypatch.setenv("ELMO_PROFILE", "huge")
    with pytest.raises(ValueError, match="huge"):
        profile_from_env()


def test_parameters_cell_reads_the_environment():
    for src in notebook_sources():
        text = src.read_text()
        cell = text.split('# %% tags=["parameters"]', 1)[1].split("# %%", 1)[0]
        assert "profile = profile_from_env()" in cell, src.name


def test_quiet_lightning_drops_banners_and_keeps_real_messages(caplog):
    import logging
    import warnings

    from elmo.core.runs import quiet_lightning

    quiet_lightning()
    quiet_lightning()  # idempotent: one filter, not two
    log = logging.getLogger("pytorch_lightning.utilities.rank_zero")
    assert len(log.filters) == 1
    with caplog.at_level(logging.INFO, logger="pytorch_lightning"):
        for line in ("GPU available: False, used: False", "TPU available: False, using: 0 TPU cores",
                     "💡 Tip: For seamless cloud logging", "`Trainer.fit` stopped: `max_epochs=1` reached.",
                     "Restoring states from the checkpoint path at x.ckpt"):  # fmt: skip
            log.info(line)
        mlflow = logging.getLogger("pytorch_lightning.loggers.mlflow")
        mlflow.warning("Experiment with name ynat not found. Creating it.")
        mlflow.warning("a real MLflow problem")
        log.info("`Trainer(limit_train_batches=1.0)` was configured so 100% of the batches per epoch will be used..")
        log.info("`Trainer(limit_train_batches=0.1)` was configured so 10% of the batches per epoch will be used..")
    assert [r.getMessage() for r in caplog.records] == [
        "Restoring states from the checkpoint path at x.ckpt", "a real MLflow problem",
        "`Trainer(limit_train_batches=0.1)` was configured so 10% of the batches per epoch will be used..",
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        quiet_lightning()  # after a reset of the filters, as a fresh process would be
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning)
        warnings.warn("a real problem", UserWarning)
    assert [str(w.message) for w in caught] == ["a real problem"]
