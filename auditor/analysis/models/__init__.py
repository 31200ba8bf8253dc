"""Trained models shipped as data, read by ``auditor.analysis.complaint_model``.

``complaints.json``: the complaint model (n-grams, idf, coefficients, threshold; no tweet
text), written by ``benchmarks/train_complaints.py``; docs/complaints.md says how it is made.

Data only: it imports nothing of the project.
"""
