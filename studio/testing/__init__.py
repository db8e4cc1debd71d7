"""Helpers for tests and benchmarks: random models of real architectures, browser gestures."""
