"""Articles -> chunks -> vectors -> store. Never imports `retrieval` or `bot`."""
