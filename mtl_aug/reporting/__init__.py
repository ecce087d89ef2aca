"""Reporting: metrics, tables and plots, benchmarks."""
