"""The interposed ``claude``: launcher, live relay, SDK lookup redirect."""
