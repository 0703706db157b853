"""Billing: price model, invoice runs, and the invoice outputs (PDF, CSV, EHF)."""
