"""Experiment tracking: every training run logs to MLflow on a local sqlite store beside its outputs."""

from __future__ import annotations

from pathlib import Path

from pytorch_lightning.loggers import MLFlowLogger

from elmo.core.runs import quiet_lightning


def mlflow_logger(experiment: str, run_name: str, directory: Path) -> MLFlowLogger:
    """MLflow on a local sqlite store (MLflow 3 refuses Lightning's default ./mlruns file store)."""
    quiet_lightning()  # before the logger first creates its experiment (and says so)
    db = Path(directory).resolve() / "mlflow.db"
    return MLFlowLogger(experiment_name=experiment, tracking_uri=f"sqlite:///{db}", run_name=run_name)
