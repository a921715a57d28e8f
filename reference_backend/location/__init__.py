"""Location history: nRF Cloud's location history polled for connected devices (14201),
kept, and queried with or without a trail (REAL-SUITE.md §2.4)."""
