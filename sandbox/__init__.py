"""The offline sandbox: the real bot against the local Bot API server, driven from a web page."""
