"""Trained models shipped as data: ``complaints.json`` (``auditor.analysis.complaint_model``)."""
