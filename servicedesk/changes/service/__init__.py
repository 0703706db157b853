"""The logic of changes and the CAB: plain functions taking a session."""
