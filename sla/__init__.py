"""SLA: Norwegian business calendars, service agreements and the clock rules tickets need.

Layer: above register and the kernel, which it may import; below servicedesk, billing and the
assembly.
"""
