import os
from pathlib import Path

import pytest
import torch

# Tiny models run faster on one thread, and a shared 2-core machine stays responsive.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parent.parent


def real_data_root() -> Path | None:
    """The real data: $ELMO_DATA, else ../shared/data beside the repo; None if neither exists."""
    for cand in (os.environ.get("ELMO_DATA"), REPO.parent / "shared" / "data"):
        if cand and (Path(cand) / "SHA256SUMS").exists():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = real_data_root()
    if root is None:
        pytest.skip("real data not found: set ELMO_DATA (see README)")
    os.environ["ELMO_DATA"] = str(root)
    return root
