"""Notebook 03's stage: KLUE YNAT topic classification with and without ELMo (task data, model,
training, prediction, baselines, metrics, seed ensembles, parallel runs, tables and figures).
"""
