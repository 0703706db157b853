"""Billing: price model, counts, invoice runs and credit notes, and their outputs (PDF, CSV, EHF);
the monthly reports per kommune.

Layer: above servicedesk, sla, register and the kernel, which it may import; below the assembly.
"""
