"""Benchmarks for carecall (see bench/README.md)."""
