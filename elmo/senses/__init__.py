"""Notebook 05's stage: word senses and the geometry of the biLM's layers, and the interactive explorer.
"""
