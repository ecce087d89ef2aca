"""Inference and deployment: evaluation, predict, export, the HTTP API, attacks."""
