"""What Peters et al. (2018) reported, beside what this repo measured, as one README table.

The paper's numbers are constants typed from its text (arXiv 1802.05365v2, Tables 1, 2, 3, 5
and 6 and Section 3.4); ours come from the results the notebooks wrote, never from here. The two
are not the same experiment (English tasks and a 1B-word biLM there, Korean YNAT and a
2.5 M-token petitions biLM here); the table compares the *findings*, finding by finding.
"""

from __future__ import annotations

import math
from statistics import mean

from elmo.ynat.results import holdout_pick, label

SOURCE = "Peters et al. 2018, arXiv:1802.05365v2"

# Table 1 (test sets): task -> (metric, baseline, ELMo + baseline).
TABLE1 = {
    "SQuAD": ("F1", 81.1, 85.8),
    "SNLI": ("accuracy", 88.0, 88.7),
    "SRL": ("F1", 81.4, 84.6),
    "Coref": ("average F1", 67.2, 70.4),
    "NER": ("F1", 90.15, 92.22),
    "SST-5": ("accuracy", 51.4, 54.7),
}
# Table 2 (dev sets): task -> (baseline, last only, all layers λ=1, all layers λ=0.001).
TABLE2 = {"SQuAD": (80.8, 84.7, 85.0, 85.2), "SNLI": (88.1, 89.1, 89.3, 89.5), "SRL": (81.6, 84.1, 84.6, 84.8)}
# Table 3 (dev sets): task -> (input only, input & output, output only).
TABLE3 = {"SQuAD": (85.1, 85.6, 84.8), "SNLI": (88.9, 89.5, 88.7), "SRL": (84.7, 84.3, 80.9)}
# Table 6 (PTB POS accuracy) and Table 5 (WSD F1) from the biLM's first and second layer.
POS_LAYERS = (97.3, 96.8)
WSD_LAYERS = (67.4, 69.0)
# Section 3.4: forward/backward perplexity averaged, 1B Word Benchmark, after 10 epochs.
PERPLEXITY = 39.7
# What the study-group seed reported (../shared/seed/study-group-README.md), none of it reproduced:
# a pretraining train loss of 0.343 from an LM that saw its own targets, and a YNAT "valid"
# F1 of 0.7639 on a filtered dev set, averaged over batches. It made no probing claim.
SEED_LM_LOSS = 0.343
SEED_YNAT_F1 = 76.39


def _by_task(table: dict, fmt) -> str:
    return "; ".join(f"{task} {fmt(v)}" for task, v in table.items())


def _ablation_f1(results: dict, key: str) -> float:
    return results["ablation"]["summary"][key]["macro_f1"]["mean"]


def _finetune_f1(results: dict, key: str) -> float:
    return results["finetune"]["summary"][key]["macro_f1"]["mean"]


def _efficiency(results: dict, model: str, fraction: float) -> float:
    """Mean dev macro-F1 of arm `model` ("elmo" or "no_elmo") at `fraction` of the fit rows."""
    runs = results["ablation"]["sample_efficiency"]
    return mean(r["macro_f1"] for r in runs if r["model"] == model and r["fraction"] == fraction)


def _probe(results: dict, layer: str) -> float:
    return results["probing"]["results"]["POS"][layer]["accuracy"]["mean"]


def comparison_rows(r: dict) -> list[tuple[str, str, str]]:
    """(finding, the paper's numbers, ours) for each finding whose results `r` holds."""
    rows = []
    if "pretrain" in r:
        p = r["pretrain"]
        rows.append((
            "biLM perplexity (forward/backward mean)",
            f"{PERPLEXITY} (1B Word Benchmark, 10 epochs, LSTM 4096/512)",
            f"{p['biLM']['test']['ppl']:.1f} test petitions, {p['biLM']['epochs']} epochs, "
            f"{p['parameters'] / 1e6:.1f} M parameters (Kneser–Ney 3-gram: "
            f"{mean(p['ngram3']['test'].values()):.1f})",
        ))  # fmt: skip
    if "finetune" in r:
        f = r["finetune"]
        base, elmo = _finetune_f1(r, "no_elmo"), _finetune_f1(r, "elmo_input_output")
        gain = elmo - base
        rows.append((
            "ELMo added to the same task model (test; ours: YNAT dev macro-F1)",
            _by_task(TABLE1, lambda v: f"{v[1]} → {v[2]}"),
            f"{base:.1f} → {elmo:.1f} ({gain:+.1f}; ELMo at input and output, as the paper's SST-5 model)",
        ))  # fmt: skip
    if "ablation" in r:
        grid = r["ablation"]["grid_fraction"]  # the grid's share of the fit rows
        share = f"{grid * 100:g} %"
        last, main = _ablation_f1(r, "last_layer"), _ablation_f1(r, "main")
        lam1, none = _ablation_f1(r, "l2_1"), _ablation_f1(r, "no_elmo")
        rows.append((
            "baseline / last layer only / all layers λ=1 / λ=0.001 (dev)",
            _by_task(TABLE2, lambda v: " / ".join(map(str, v))),
            f"{none:.1f} / {last:.1f} / {lam1:.1f} / {main:.1f} (grid on {share} of the fit rows)",
        ))  # fmt: skip
        io = _ablation_f1(r, "input_output")
        rows.append((
            "ELMo at the input only / input and output (dev)",
            _by_task(TABLE3, lambda v: f"{v[0]} / {v[1]}"),
            f"{main:.1f} / {io:.1f} ({share} grid)" + _full_data_placement(r),
        ))  # fmt: skip
        rows.append((
            "sample efficiency",
            "SRL: with 1 % of the training set, ELMo about matches the baseline trained on 10 %",
            f"1 %: {_efficiency(r, 'elmo', 0.01):.1f} with ELMo vs {_efficiency(r, 'no_elmo', 0.01):.1f} "
            f"without; the baseline at {share} reaches {_efficiency(r, 'no_elmo', grid):.1f}",
        ))  # fmt: skip
    if "probing" in r:
        rows.append((
            "POS from the first / second biLM layer",
            f"{POS_LAYERS[0]} / {POS_LAYERS[1]} (PTB accuracy; WSD F1 the other way: {WSD_LAYERS[0]} / {WSD_LAYERS[1]})",
            f"{_probe(r, 'layer1'):.1f} / {_probe(r, 'layer2'):.1f} (KLUE-DP accuracy per eojeol, linear probe)",
        ))  # fmt: skip
    return rows


def _full_data_placement(r: dict) -> str:
    """Both placements on all the data, where 03 trained both (since issue 16's time budget it
    trains only input + output)."""
    if "elmo_input" not in r.get("finetune", {}).get("summary", {}):
        return ""
    return f"; all the data (03): {_finetune_f1(r, 'elmo_input'):.1f} / {_finetune_f1(r, 'elmo_input_output'):.1f}"


def headline_rows(r: dict) -> list[tuple[str, str, str, str]]:
    """(question, this repo, the paper's finding, the seed's claim) for the three numbers a reader
    wants first: the biLM against the n-gram, ELMo on YNAT, the best probe layer. Each names its split."""
    rows = []
    if "pretrain" in r:
        p = r["pretrain"]
        # The biLM's "ppl" is exp of the mean NLL of both directions: the geometric mean of theirs.
        ours, ngram = p["biLM"]["test"]["ppl"], math.sqrt(math.prod(p["ngram3"]["test"].values()))
        rows.append((
            "Does the biLM beat a Kneser–Ney 3-gram on the same tokens? (perplexity, test petitions, "
            "mean of the directions)",
            f"biLM **{ours:.1f}** vs 3-gram **{ngram:.1f}** (the biLM {abs(ours - ngram) / ngram:.0%} "
            f"{'lower' if ours < ngram else 'higher'}), after {p['biLM']['epochs']} epochs in {p['biLM']['train_seconds'] / 60:.0f} min",
            f"{PERPLEXITY} on the 1B Word Benchmark test set after 10 epochs (no n-gram beside it)",
            f"train loss {SEED_LM_LOSS} (perplexity {math.exp(SEED_LM_LOSS):.1f}) from an LM that saw its targets: not reproduced",
        ))  # fmt: skip
    if "finetune" in r:
        f = r["finetune"]
        s, models = f["summary"], f["provenance"]["finetune"]["models"]
        pick, base = holdout_pick(s, models), holdout_pick(s, models, elmo=False)
        f1 = {k: s[k]["macro_f1"]["mean"] for k in (pick, base, "tfidf")}
        rows.append((
            "ELMo against no ELMo and TF-IDF on KLUE YNAT (dev macro-F1, single models, the holdout's pick of each)",
            f"ELMo **{f1[pick]:.1f}** ({label(pick)}) vs no ELMo **{f1[base]:.1f}** ({label(base)}) vs "
            f"TF-IDF + LR **{f1['tfidf']:.1f}**",
            "ELMo improves every task's baseline (test sets; e.g. SST-5 accuracy "
            f"{TABLE1['SST-5'][1]} → {TABLE1['SST-5'][2]})",
            f"F1 {SEED_YNAT_F1} on a filtered dev set, a mean of batch F1s: not reproduced",
        ))  # fmt: skip
    if "probing" in r:
        pos = r["probing"]["results"]["POS"]
        layers = sorted((k for k in pos if k.startswith("layer")), key=lambda k: int(k.removeprefix("layer")))
        best = max(layers, key=lambda k: pos[k]["accuracy"]["mean"])
        accs = " / ".join(f"{pos[k]['accuracy']['mean']:.1f}" for k in layers)
        rows.append((
            "Which biLM layer holds syntax? (POS, linear probe per eojeol, KLUE-DP dev)",
            f"layer **{best.removeprefix('layer')}** (accuracy by layer 0 / 1 / 2: {accs})",
            f"the first LSTM layer (PTB POS {POS_LAYERS[0]} vs {POS_LAYERS[1]} from the second, test)",
            "no probing claim",
        ))  # fmt: skip
    return rows


def headline_markdown(results: dict) -> str:
    rows = [f"| question | this repo ({results['profile']} profile) | the paper (English) | the seed's claim |", "|---|---|---|---|"]
    rows += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in headline_rows(results)]
    return "\n".join(rows)


def comparison_markdown(results: dict) -> str:
    rows = ["| finding | the paper (English) | this repo (Korean, this profile) |", "|---|---|---|"]
    rows += [f"| {a} | {b} | {c} |" for a, b, c in comparison_rows(results)]
    return "\n".join(rows)
