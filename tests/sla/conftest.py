"""Fixtures of the SLA tests: an agreements file for two kommuner and a critical system."""

from __future__ import annotations

from textwrap import dedent

AGREEMENTS = dedent(
    """\
    agreements:
      - name: Standard
        valid_from: 2024-01-01
        default_level: standard
        closed_days: ["12-24"]
        leadership: [driftsleder@drift.no]
        levels:
          - key: standard
            name: Standard
            calendar: service_desk
            pause_on: [user, vendor]
            targets:
              1: {response: 30m, resolution: 4h}
              2: {response: 1h, resolution: 8h}
              3: {response: 4h, resolution: 16h}
              4: {response: 8h, resolution: 40h}
      - name: Alfa 2024
        kommune: alfa
        valid_from: 2024-01-01
        leadership: [leder@alfa.no]
        levels:
          - key: kritisk
            name: Liv og helse
            calendar: round_the_clock
            pause_on: [vendor]
            warn_at: [50, 100]
            targets:
              1: {response: 15m, resolution: 2h}
              2: {response: 30m, resolution: 4h}
              3: {response: 1h, resolution: 8h}
              4: {response: 2h, resolution: 24h}
        services:
          - system: journal
            level: kritisk
            availability: 99.9
    """
)
