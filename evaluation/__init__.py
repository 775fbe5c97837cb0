"""Measuring newsbot: the `make eval` suite, scoring against gold files, the corpora it runs on,
fitting the abstention model and the embedding cache these runs share. Never on the answer path."""
