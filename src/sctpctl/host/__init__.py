"""The only code that runs ``ip``/``nft``, starts processes or enters network namespaces."""
