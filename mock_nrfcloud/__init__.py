"""A standalone mock of the nRF Cloud REST API (see docs/MOCK.md).

Serves queued responses per account (the bearer key selects it; the mock keeps and
shows only the account's id, ``accounts.py``), records every call in a bounded journal,
and has an admin API and a dashboard under ``/__admin``.
Start it with ``mock-nrfcloud`` or in-process with ``server.start_mock``; drive it
with ``client.MockClient``.
"""
