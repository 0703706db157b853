"""The service desk: tickets (incidents, service requests, problems), their portal, workspace
and API, and alerts -> incidents; changes and the CAB come next.

Layer: above sla, register and the kernel, which it may import; below billing and the assembly.
"""
