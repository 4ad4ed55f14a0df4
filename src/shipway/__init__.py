"""Shipway: build and launch serverless monorepos, one release per push."""

__version__ = "0.1.0"
