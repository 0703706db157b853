"""fellesdrift collectors: probes on a schedule, exposed as Prometheus metrics.

The collectors need no database and import nothing from the rest of fellesdrift: their targets come
from the service desk's inventory feed (Prometheus HTTP-SD JSON) and/or a YAML file, and their
results are read by Prometheus from ``/metrics``. See ``collectors/README.md``.
"""
