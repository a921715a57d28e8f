"""Device shadows: nRF Cloud's shadow converted to LwM2M objects, kept per device, polled."""
