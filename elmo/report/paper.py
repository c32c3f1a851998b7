"""What Peters et al. (2018) reported, beside what this repo measured, as one README table.

The paper's numbers are constants typed from its text (arXiv 1802.05365v2, Tables 1, 2, 3, 5
and 6 and Section 3.4); ours come from the results the notebooks wrote, never from here. The two
are not the same experiment (English tasks and a 1B-word biLM there, Korean YNAT and a
2.5 M-token petitions biLM here); the table compares the *findings*, finding by finding.
"""

from __future__ import annotations

from statistics import mean

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
    if "finetune" not in r:
        return ""
    return f"; all the data (03): {_finetune_f1(r, 'elmo_input'):.1f} / {_finetune_f1(r, 'elmo_input_output'):.1f}"


def comparison_markdown(results: dict) -> str:
    rows = ["| finding | the paper (English) | this repo (Korean, this profile) |", "|---|---|---|"]
    rows += [f"| {a} | {b} | {c} |" for a, b, c in comparison_rows(results)]
    return "\n".join(rows)
