"""SLA: Norwegian business calendars, SLA policies and clocks, measured availability."""
