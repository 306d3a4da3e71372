"""Benchmarks (not tests): `python -m bench` prints each measurement in a table."""
