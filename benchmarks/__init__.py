"""Benchmarks: `make bench` runs them side by side and prints one table of ratios."""
