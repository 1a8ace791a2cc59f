"""Localnet: generate, start, inspect and stop a multi-validator Optio chain on one host."""
