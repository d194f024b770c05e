"""Benchmarks that justify the library's defaults; timing lives here, never in test assertions."""
