"""ELMo itself: `ScalarMix`, `Elmo` over a pretrained biLM, the on-disk layer cache, and the GloVe
static vectors it is compared with. Imports `elmo.core`, `elmo.data` and `elmo.bilm`.
"""
