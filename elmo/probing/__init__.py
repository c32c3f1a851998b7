"""Notebook 06's stage: linear probes of each biLM layer, the learned mix, GloVe and a random-biLM control.
"""
