"""A Toxiproxy-compatible fault proxy: the 2.12 HTTP API and toxics, in asyncio.

Run it as ``pushchat toxiproxy`` or ``python -m chaos.toxiproxy``; drive it
with ``toxiproxy-python`` (through ``chaos.infra.links``) exactly like the real one.
"""

VERSION = "2.12.0"

#: Our one addition to the standard responses: the extension toxics offered,
#: comma-separated, so a client can tell this server from the real one.
EXTENSIONS_HEADER = "X-Toxiproxy-Extensions"
