"""fellesdrift kernel: settings, database, CLI and web-app assembly.

The domain lives in the sibling packages (servicedesk, collectors, sla, billing); this package
only wires them together.
"""

__version__ = "0.1.0"
