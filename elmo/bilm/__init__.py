"""Notebook 02's stage: the bidirectional LM (layers, softmax heads, the model and its artifact),
its pretraining, the n-gram yardstick and what 02 shows. Imports `elmo.core` and `elmo.data`.
"""
