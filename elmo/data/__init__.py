"""Notebook 01's stage: raw data (download and checksums, readers), text (tokenizer, vocabularies),
the tokenized corpus, length-bucketed batches, and corpus statistics. Imports only `elmo.core`.
"""
