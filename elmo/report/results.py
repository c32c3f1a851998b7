"""Collect what the notebooks measured into `results.json` and the README's results tables.

    python -m elmo.results --profile cpu [--readme]

Reads each stage's results from `runs/<profile>/` through that stage's results class (written by
the notebooks; `elmo.core.results`), writes `runs/<profile>/results.json` (and `results.json` at the repo root for the
committed `cpu` profile), and with `--readme` rewrites the block between the
`<!-- results:begin -->` and `<!-- results:end -->` markers of README.md. Every number in that
block therefore comes from a run that `make reproduce` repeats.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from elmo.ablations.results import AblationResults
from elmo.ablations.significance import paired
from elmo.bilm.results import PretrainResults
from elmo.core.figures import COMMITTED_PROFILE
from elmo.core.runs import REPO, git_revision
from elmo.data.results import DataStats
from elmo.probing.report import results_table as probe_table
from elmo.probing.results import ProbeResults
from elmo.report.ablations import ablation_markdown
from elmo.report.paper import SOURCE, comparison_markdown, headline_markdown
from elmo.senses.results import SensesResults
from elmo.ynat.report import markdown_row
from elmo.ynat.results import ELMO_PAIRS, FinetuneResults, row_labels

# The part of results.json each stage's results fill, in notebook order.
STAGES = {
    "data": DataStats,
    "pretrain": PretrainResults,
    "finetune": FinetuneResults,
    "ablation": AblationResults,
    "senses": SensesResults,
    "probing": ProbeResults,
}
# Written by command lines, not notebooks: the bench (`python -m elmo.bench --compare step`), the
# trade-off, the corpus comparison, and the runner's notebook times.
OTHER_FILES = {"bench": "bench_results.json", "notebook_times": "notebook_times.json", "tradeoff": "tradeoff.json",
               "corpus_mix": "corpus_mix.json"}
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def collect(profile: str) -> dict:
    """Everything the notebooks of `profile` wrote, in one dict (missing parts are skipped); each
    stage's part is read by that stage's own results class."""
    root = REPO / "runs" / profile
    out: dict = {"profile": profile, "git": git_revision()}
    for key, kind in STAGES.items():
        record = kind.read(root)
        if record is not None:
            out[key] = record.to_dict()
    return {**out, **command_outputs(profile)}


def command_outputs(profile: str) -> dict:
    """{key: record} of the command lines' JSON files (`OTHER_FILES`) in `runs/<profile>/`."""
    root = REPO / "runs" / profile
    return {key: json.loads((root / name).read_text()) for key, name in OTHER_FILES.items() if (root / name).exists()}


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
        if "one_sentence" in p["biLM"]:
            o = p["biLM"]["one_sentence"][split]
            rows.append(f"| the same biLM, one sentence at a time | {split} | {o['forward_ppl']:.1f} | {o['backward_ppl']:.1f} |")
        rows.append(f"| Kneser–Ney 3-gram, same tokens | {split} | {n['forward_ppl']:.1f} | {n['backward_ppl']:.1f} |")
    for source, splits in p.get("ngram3_sources", {}).items() if "sources" in p["biLM"] else ():
        for split, n in splits.items():
            b = p["biLM"]["sources"].get(source, {}).get(split)
            if b:
                rows.append(f"| biLM (this repo) | {source} {split} | {b['forward_ppl']:.1f} | {b['backward_ppl']:.1f} |")
            rows.append(f"| Kneser–Ney 3-gram, same tokens | {source} {split} | {n['forward_ppl']:.1f} | {n['backward_ppl']:.1f} |")
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
    configurations = [("before (LSTMP, fp32 softmax)", b["before"])]
    if "before_kept_memory" in b:  # bench records from before elmo.core.reuse have no such row
        configurations.append(("before, freed memory and kernels kept", b["before_kept_memory"]))
    for name, r in (*configurations, ("now (this profile)", b["after"])):
        parts = r["seconds_by_part"]
        total = sum(parts.values())
        shares = " | ".join(f"{parts[k] / total:.0%}" for k in ("encoder", "lstm", "softmax", "optimizer"))
        rows.append(f"| {name} | {r['recurrence']} | {r['softmax']} | {r['tokens_per_s']:,.0f} | {r['gflop_per_step']:.1f} | "
                    f"{r['achieved_gflops']:.0f} | {r['fraction_of_bf16_peak']:.1%} | {shares} |")  # fmt: skip
    peak = b["peak_gflops"]
    rows.append("")
    rows.append(f"Speed-up **{b['speedup']:.2f}x** (now against before) on one batch of {b['batch'][0]} x {b['batch'][1]} "
                f"tokens, timed in one run on {b['after']['threads']} threads, each configuration in its own process (the "
                "allocator setting, `elmo.core.reuse`, is process-wide)"
                + (f"; each configuration's median of {b['rounds']} alternating rounds (the rounds' ratios: "
                   + ", ".join(f"{x:.2f}x" for x in b["ratios"]) + ")" if "rounds" in b else "")
                + "; matmul peak measured in that run: "
                f"fp32 {peak['fp32']:.0f}, "
                f"bf16 {peak['bf16']:.0f} GFLOP/s. FLOPs are matmul and convolution FLOPs, the LSTMs' counted "
                "analytically (`torch.utils.flop_counter` does not see oneDNN's LSTM); the parts are each timed alone.")  # fmt: skip
    return "\n".join(rows)


def finetune_markdown(f: dict) -> str:
    rows = ["| model | runs | dev macro-F1 | dev accuracy | holdout macro-F1 |", "|---|---:|---:|---:|---:|"]
    names = row_labels({k: s["n"] for k, s in f["summary"].items()})
    for key, summary in f["summary"].items():
        rows.append(markdown_row(names[key], summary, holdout=True))
    rows += [
        "| *seed implementation (reported, not reproduced; filtered dev, mean of batch F1s)* | 1 | *76.4* | *79* | – |",
        "| *KLUE's README: mBERT / KLUE-BERT-base (hidden **test** set, not dev: not comparable row for row)* | – | *81.55 / 85.73* | – | – |",
    ]
    pairs = {name: ab for name, ab in ELMO_PAIRS.items() if all(k in f["runs"] for k in ab)}
    if pairs:
        rows += ["", "Seed-matched differences of dev macro-F1 (A − B, same seeds; paired t-test over them):", "",
                 "| comparison (A − B) | per-seed differences | mean ± std | p |", "|---|---|---:|---:|"]  # fmt: skip
        for name, (a, b) in pairs.items():
            c = paired(f["runs"][a], f["runs"][b])
            diffs = ", ".join(f"{d:+.2f}" for d in c["diffs"])
            rows.append(f"| {name} | {diffs} | {c['mean']:+.2f} ± {c['std']:.2f} | {c['p']:.3f} |")
    return "\n".join(rows)


def probing_markdown(p: dict) -> str:
    """Feature rows × task-metric columns of the probes' "mean ± std" over folds."""
    table = probe_table(p["results"])
    rows = ["| features | " + " | ".join(table.columns) + " |", "|---|" + "---:|" * len(table.columns)]
    for feature, cells in table.iterrows():
        rows.append(f"| {feature} | " + " | ".join(cells.values) + " |")
    return "\n".join(rows)


def geometry_markdown(s: dict) -> str:
    rows = ["| layer | anisotropy (random pairs) | self-similarity | self-sim. − anisotropy |", "|---|---:|---:|---:|"]
    for g in s["geometry_by_layer"]:
        rows.append(f"| {g['layer']} | {g['anisotropy']:.3f} | {g['self_similarity']:.3f} | {g['adjusted']:.3f} |")
    rows.append(f"| GloVe | {s['glove_anisotropy']:.3f} | – | – |")
    return "\n".join(rows)


def timings_markdown(times: dict) -> str:
    """Wall time per notebook, and the CPU each ran on where the runner recorded it (times of
    machines with and without native bf16 differ by 2x and more: elmo.core.hardware)."""
    def machine(t: dict) -> str:
        if "cpu" not in t:
            return "not recorded"
        return f"{t['cpu']}, {'native' if t['native_bf16'] else 'no native'} bf16"

    rows = ["| notebook | wall time | machine |", "|---|---:|---|"]
    rows += [f"| `{name}` | {t['seconds'] / 60:.1f} min | {machine(t)} |" for name, t in times.items()]
    total = sum(t["seconds"] for t in times.values())
    rows.append(f"| **all** | **{total / 60:.1f} min** | |")
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


def corpus_mix_markdown(record: dict) -> str:
    """One row per corpus: its pretraining, test perplexity per source (biLM | 3-gram, geometric
    mean of the directions, with the OOV share of that arm's vocabulary), YNAT dev and holdout."""
    arms = {a: r for a, r in record["arms"].items() if "ynat" in r}
    sources = list(next(iter(arms.values()))["perplexity"]) if arms else []
    head = ["corpus", "pretraining", *[f"{s} test ppl: biLM / 3-gram (OOV)" for s in sources],
            "YNAT dev macro-F1", "holdout macro-F1", "seed ensemble"]  # fmt: skip
    rows = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for arm, r in arms.items():
        p, y = r["pretrain"], r["ynat"]
        cells = [arm, f"{p['minutes']:.1f} min, {p['steps']:,} steps; {p['train_tokens'] / 1e6:.2f} M train tokens"]
        for src in sources:
            t = r["perplexity"][src]["test"]
            geo = [(t[m]["forward_ppl"] * t[m]["backward_ppl"]) ** 0.5 for m in ("biLM", "ngram3")]
            cells.append(f"{geo[0]:.1f} / {geo[1]:.1f} ({100 * t['oov']:.1f} %)")
        d, h = y["dev_macro_f1"], y["holdout_macro_f1"]
        cells += [f"{d['mean']:.1f} ± {d['std']:.1f}", f"{h['mean']:.1f} ± {h['std']:.1f}", f"{y['ensemble']['macro_f1']:.1f}"]
        rows.append("| " + " | ".join(cells) + " |")
    if "preferred" in record:
        rows += ["", f"The train holdout prefers **{record['preferred']}** (the rule: `elmo.ablations.corpus_mix.preferred`)."]
    return "\n".join(rows)


# (key in results.json, caption of its table (given that part), the table). In README order;
# key "*" gives the whole results dict (a table that draws on several notebooks).
SECTIONS = (
    ("*", lambda r: "**The three numbers first**, each beside the paper's finding and the seed's claim "
     "(every split named; the tables below give the rest):", headline_markdown),
    ("pretrain", lambda p: "**biLM perplexity** on held-out petitions (per token, pads excluded; "
     "[figure](figures/02_perplexity.png), [curves](figures/02_learning_curves.png)):", pretrain_markdown),
    ("bench", lambda b: "**Training-step speed** of the biLM (`python -m elmo.bench --profile cpu --compare step`; "
     "time by part as shares of their sum):", bench_markdown),
    ("finetune", lambda f: "**KLUE YNAT** (full official dev set, 9,107 headlines; selection on a 10 % holdout "
     "of train; mean ± std over seeds; [figure](figures/03_results.png), "
     "[confusions](figures/03_confusion.png)):", finetune_markdown),
    ("ablation", lambda a: "**Ablations** on YNAT (same protocol; [figure](figures/04_ablations.png), "
     "[layer weights](figures/04_layer_weights.png), "
     "[sample efficiency](figures/04_sample_efficiency.png)):", ablation_markdown),
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
    ("corpus_mix", lambda c: "**What more text buys**: the same biLM pretrained for the same minutes on the "
     "petitions alone and on the petitions plus a share of Korean Wikipedia, scored on the same held-out "
     "documents and with 03's main ELMo model over its seeds (`python -m elmo.corpus_mix --profile cpu`, not part "
     "of `make reproduce`; [figure](figures/02_corpus_mix.png)). A perplexity counts `<unk>` targets, so compare "
     "arms beside their OOV share:", corpus_mix_markdown),
    ("notebook_times", lambda t: "**Wall time** of each notebook on this profile on 2 cores, as the runner "
     "recorded it (`runs/<profile>/notebook_times.json`; which run each time comes from: \"Time on 2 cores\" "
     "above; a rerun reuses the tokenized corpus, the biLM, the layer caches and GloVe, so its 01, 02, 05 "
     "and 06 take less):", timings_markdown),
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
