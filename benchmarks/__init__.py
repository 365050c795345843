"""Reproducible performance benchmarks: ``python -m benchmarks.<name> [options]``.

Each prints one JSON object of its figures as the last line of its output.
"""
