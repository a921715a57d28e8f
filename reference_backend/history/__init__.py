"""Resource history: numeric LwM2M resources stored per device as they are reported, and
queried in time bins (REAL-SUITE.md §2.3)."""
