"""Coding: the encoder (search ICD-10-CM, HCPCS and the catalog's CPT numbers), code pages, and the
rules a code must pass before it goes on a claim."""
