"""What the notebooks measured, as `results.json` and the README's tables beside the paper's numbers.
"""
