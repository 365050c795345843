"""Parts of the handoff benchmark (``benchmarks.handoff``)."""
