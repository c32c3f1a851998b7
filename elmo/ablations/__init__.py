"""Notebook 04's stage: ablations of ELMo on YNAT (the grid, paired tests, sample efficiency, domain
adaptation of the biLM) and the pretraining-length trade-off.
"""
