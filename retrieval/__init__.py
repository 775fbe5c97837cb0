"""Search, quote selection and abstention. Never imports `bot`."""
