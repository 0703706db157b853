"""The system of record: kommuner, people and roles, the systems register and (later) tickets."""
