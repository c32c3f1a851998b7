"""Run by tests/bilm/test_train.py: two CPU processes (gloo) train one biLM under Lightning's DDP.

    python tests/bilm/ddp_train.py OUT [RECURRENCE|-] [GLOBAL_BATCH]

Each rank saves its final weights; the test checks they are identical across ranks. With a
global batch G, the config asks for G sentences per optimizer step, and each rank also records
what it saw: world size, accumulation, sentences per batch, optimizer steps.
"""

import json
import sys
from pathlib import Path

import torch
from pytorch_lightning.callbacks import Callback

sys.path[:0] = [str(Path(__file__).parents[1]), str(Path(__file__).parents[2])]  # tests/ (fixtures), the repo
from lm_fixtures import synthetic_corpus, tiny_config  # noqa: E402

from elmo.bilm.train import pretrain  # noqa: E402


class SaveWeights(Callback):
    def __init__(self, out):
        self.out = Path(out)

    def on_fit_start(self, trainer, module):
        if trainer.global_rank == 0:
            torch.save({k: v.clone() for k, v in module.model.state_dict().items()}, self.out / "init.pt")

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.sentences = getattr(self, "sentences", []) + [int(batch.token_ids.shape[0])]

    def on_train_end(self, trainer, module):
        torch.save(module.model.state_dict(), self.out / f"rank{trainer.global_rank}.pt")
        seen = {"world_size": trainer.world_size, "accumulate": trainer.accumulate_grad_batches,
                "sentences_per_batch": self.sentences, "optimizer_steps": trainer.global_step}
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(seen))


if __name__ == "__main__":
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    recurrence = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "-" else None
    global_batch = int(sys.argv[3]) if len(sys.argv) > 3 else None
    cfg = tiny_config(recurrence, max_epochs=1, global_batch_size=global_batch)
    callbacks_extra = [SaveWeights(out)]
    pretrain(
        cfg, out=out, corpus=synthetic_corpus(n_eval=64), accelerator="cpu", devices=2, strategy="ddp",
        enable_progress_bar=False, enable_model_summary=False, logger=False,
        callbacks=callbacks_extra,
    )  # fmt: skip
