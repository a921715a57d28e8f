"""Firmware updates over the air: upgrade paths, version matching, nRF Cloud FOTA jobs."""
