"""Device messages: what nRF Cloud's message bridge delivers, turned into LwM2M objects."""
