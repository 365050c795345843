"""Parts of ``benchmarks.pipeline``: its processes and kills, the no-op yardstick, the checks.

A package rather than ``benchmarks/pipeline_*.py`` modules: ``make bench`` runs every
``benchmarks/*.py`` as a benchmark, and these are not benchmarks of their own.
"""
