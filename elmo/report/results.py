"""Collect what the notebooks measured into `results.json` and the README's results tables.

    python -m elmo.results --profile cpu [--readme]

Reads `runs/<profile>/{data_stats,pretrain_results,finetune_results}.json` (written by the
notebooks), writes `runs/<profile>/results.json` (and `results.json` at the repo root for the
committed `cpu` profile), and with `--readme` rewrites the block between the
`<!-- results:begin -->` and `<!-- results:end -->` markers of README.md. Every number in that
block therefore comes from a run that `make reproduce` repeats.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from elmo.core.figures import COMMITTED_PROFILE
from elmo.core.runs import REPO, git_revision
from elmo.report.ablations import ablation_markdown
from elmo.report.paper import SOURCE, comparison_markdown
from elmo.ynat.report import markdown_row

SOURCES = {
    "data": "data_stats.json",
    "pretrain": "pretrain_results.json",
    "bench": "bench_results.json",
    "finetune": "finetune_results.json",
    "ablation": "ablation_results.json",
    "probing": "probe_results.json",
    "senses": "senses_results.json",
    "notebook_times": "notebook_times.json",
    "tradeoff": "tradeoff.json",
}
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def collect(profile: str) -> dict:
    """Everything the notebooks of `profile` wrote, in one dict (missing parts are skipped)."""
    root = REPO / "runs" / profile
    out: dict = {"profile": profile, "git": git_revision()}
    for key, name in SOURCES.items():
        path = root / name
        if path.exists():
            out[key] = json.loads(path.read_text())
    return out


def write(results: dict) -> list[Path]:
    paths = [REPO / "runs" / results["profile"] / "results.json"]
    if results["profile"] == COMMITTED_PROFILE:
        paths.append(REPO / "results.json")
    for p in paths:
        p.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=float))
    return paths


def pretrain_markdown(p: dict) -> str:
    rows = ["| model | split | forward ppl | backward ppl |", "|---|---|---:|---:|"]
    for split in ("valid", "test"):
        b, n = p["biLM"][split], p["ngram3"][split]
        rows.append(f"| biLM (this repo) | {split} | {b['forward_ppl']:.1f} | {b['backward_ppl']:.1f} |")
        rows.append(f"| Kneser–Ney 3-gram, same tokens | {split} | {n['forward_ppl']:.1f} | {n['backward_ppl']:.1f} |")
    minutes = p["biLM"]["train_seconds"] / 60
    rows.append("")
    rows.append(f"biLM: {p['parameters'] / 1e6:.1f} M parameters, vocabulary {p['vocab']:,}, "
                f"{p['biLM']['epochs']} epochs ({p['biLM']['global_step']:,} steps) in {minutes:.0f} min. "
                "Seed's reported train loss 0.343 (perplexity 1.4) came from a leaking LM and is not comparable.")  # fmt: skip
    return "\n".join(rows)


def bench_markdown(b: dict) -> str:
    """`python -m elmo.bench --compare step`: the configuration before issue 14 against the profile's."""
    rows = ["| configuration | recurrence | softmax | tokens/s | GFLOP/step | GFLOP/s | of bf16 peak | "
            "encoder | LSTMs | softmax | optimizer |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, r in (("before (LSTMP, fp32 softmax)", b["before"]), ("now (this profile)", b["after"])):
        parts = r["seconds_by_part"]
        total = sum(parts.values())
        shares = " | ".join(f"{parts[k] / total:.0%}" for k in ("encoder", "lstm", "softmax", "optimizer"))
        rows.append(f"| {name} | {r['recurrence']} | {r['softmax']} | {r['tokens_per_s']:,.0f} | {r['gflop_per_step']:.1f} | "
                    f"{r['achieved_gflops']:.0f} | {r['fraction_of_bf16_peak']:.1%} | {shares} |")  # fmt: skip
    peak = b["peak_gflops"]
    rows.append("")
    rows.append(f"Speed-up **{b['speedup']:.2f}x** on one batch of {b['batch'][0]} x {b['batch'][1]} tokens, both timed in "
                f"one run on {b['after']['threads']} threads; matmul peak measured in that run: fp32 {peak['fp32']:.0f}, "
                f"bf16 {peak['bf16']:.0f} GFLOP/s. FLOPs are matmul and convolution FLOPs, the LSTMs' counted "
                "analytically (`torch.utils.flop_counter` does not see oneDNN's LSTM); the parts are each timed alone.")  # fmt: skip
    return "\n".join(rows)


def finetune_markdown(f: dict) -> str:
    rows = ["| model | runs | dev macro-F1 | dev accuracy |", "|---|---:|---:|---:|"]
    for name, entry in f.items():
        if name.startswith("_"):
            continue
        rows.append(markdown_row(name, entry["table"]))
    rows += [
        "| *seed implementation (reported, not reproduced; filtered dev, mean of batch F1s)* | 1 | *76.4* | *79* |",
        "| *KLUE paper: mBERT / KLUE-BERT-base* | – | *81.55 / 85.73* | – |",
    ]
    return "\n".join(rows)


def probing_markdown(p: dict) -> str:
    """Feature rows × metric columns of `probe_results.json`'s preformatted "mean ± std" table."""
    table = p["table"]
    metrics = list(table)
    rows = ["| features | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    for feature in table[metrics[0]]:
        rows.append(f"| {feature} | " + " | ".join(table[m][feature] for m in metrics) + " |")
    return "\n".join(rows)


def geometry_markdown(s: dict) -> str:
    rows = ["| layer | anisotropy (random pairs) | self-similarity | self-sim. − anisotropy |", "|---|---:|---:|---:|"]
    for g in s["geometry_by_layer"]:
        rows.append(f"| {g['layer']} | {g['anisotropy']:.3f} | {g['self_similarity']:.3f} | {g['adjusted']:.3f} |")
    rows.append(f"| GloVe | {s['glove_anisotropy']:.3f} | – | – |")
    return "\n".join(rows)


def timings_markdown(times: dict) -> str:
    rows = ["| notebook | wall time |", "|---|---:|"]
    rows += [f"| `{name}` | {t['seconds'] / 60:.1f} min |" for name, t in times.items()]
    total = sum(t["seconds"] for t in times.values())
    rows.append(f"| **all** | **{total / 60:.1f} min** |")
    return "\n".join(rows)


def tradeoff_markdown(rows: dict) -> str:
    out = ["| biLM pretraining | its minutes | valid ppl | finetuning minutes | dev macro-F1 | seed ensemble |",
           "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in sorted(rows.values(), key=lambda r: r["pretrain_epochs"]):
        f1 = r["dev_macro_f1"]
        n = r["pretrain_epochs"]
        out.append(f"| {n} epoch{'s' if n != 1 else ''} | {r['pretrain_minutes']:.0f} | {r['valid_ppl']:.1f} | "
                   f"{r['finetune_minutes']:.0f} | {f1['mean']:.1f} ± {f1['std']:.1f} | {r['ensemble']['macro_f1']:.1f} |")  # fmt: skip
    return "\n".join(out)


def _ablation_markdown(summary: dict) -> str:
    return ablation_markdown(summary)


# (key in results.json, caption of its table (given that part), the table). In README order;
# key "*" gives the whole results dict (a table that draws on several notebooks).
SECTIONS = (
    ("pretrain", lambda p: "**biLM perplexity** on held-out petitions (per token, pads excluded; "
     "[figure](figures/02_perplexity.png), [curves](figures/02_learning_curves.png)):", pretrain_markdown),
    ("bench", lambda b: "**Training-step speed** of the biLM (`python -m elmo.bench --profile cpu --compare step`; "
     "time by part as shares of their sum):", bench_markdown),
    ("finetune", lambda f: "**KLUE YNAT** (full official dev set, 9,107 headlines; selection on a 10 % holdout "
     "of train; mean ± std over seeds; [figure](figures/03_results.png), "
     "[confusions](figures/03_confusion.png)):", finetune_markdown),
    ("ablation", lambda a: "**Ablations** on YNAT (same protocol; [figure](figures/04_ablations.png), "
     "[layer weights](figures/04_layer_weights.png), "
     "[sample efficiency](figures/04_sample_efficiency.png)):", _ablation_markdown),
    ("probing", lambda p: f"**Linear probes** on KLUE dev, per eojeol ({p['settings']['max_sentences']:,} "
     f"sentences a task, {p['settings']['folds']} sentence-level folds, mean ± std; NER is per eojeol, "
     "not KLUE's span F1; [figure](figures/06_probing.png)):", probing_markdown),
    ("senses", lambda s: "**Geometry of the layers** (Ethayarajh 2019; held-out petition sentences; "
     "[figure](figures/05_anisotropy.png), [homographs](figures/05_homograph_umap.png)):", geometry_markdown),
    ("*", lambda r: f"**Beside the paper** ({SOURCE}; its numbers typed from the paper's text in "
     "`elmo/report/paper.py`, ours from this profile's runs; different languages, tasks and scales, so compare "
     "the direction of each finding, not the values):", comparison_markdown),
    ("tradeoff", lambda t: "**Minutes against macro-F1**: the biLM pretrained for different lengths, then 03's "
     "ELMo model (input + output) over its seeds (`python -m elmo.tradeoff --profile cpu --epochs "
     f"{' '.join(sorted(t, key=int))}`, not part of `make reproduce`; the profile's own length reuses 02's "
     "biLM and 03's runs). Minutes are wall clock as recorded while each part ran on 2 cores:", tradeoff_markdown),
    ("notebook_times", lambda t: "**Wall time** of each notebook on this profile, as the runner recorded "
     "its last run on 2 cores (`runs/<profile>/notebook_times.json`; a rerun reuses the tokenized corpus, "
     "the biLM, the layer caches and GloVe, so its 01, 02, 05 and 06 take less):", timings_markdown),
)  # fmt: skip


def markdown(results: dict) -> str:
    parts = [f"Profile `{results['profile']}`, commit `{(results['git']['commit'] or 'unknown')[:10]}`."]
    for key, caption, table in SECTIONS:
        part = results if key == "*" else results.get(key)
        if part is not None:
            parts += ["", caption(part), "", table(part)]
    return "\n".join(parts)


def update_readme(block: str, path: Path = REPO / "README.md") -> None:
    text = path.read_text()
    if BEGIN not in text or END not in text:
        raise ValueError(f"README.md has no {BEGIN} ... {END} block to fill")
    new = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: f"{BEGIN}\n{block}\n{END}", text, flags=re.S)
    path.write_text(new)
