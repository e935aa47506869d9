"""Raw HTTP against a server, and the shapes of its answers: no client library in between."""

from __future__ import annotations

import http.client
import json

import requests

TEXT = "text/plain; charset=utf-8"


class Api:
    """``api(method, path, body)``: one request, answered as it is."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()

    def __call__(self, method: str, path: str, body: object = None, raw: bytes | None = None,
                 headers: dict | None = None) -> requests.Response:
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        return self.session.request(method, self.url + path, data=data, headers=headers, timeout=5)

    def raw(self, method: str, path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Status, headers and body, the request line sent as given (requests resolves ``..`` itself)."""
        conn = http.client.HTTPConnection(self.url.removeprefix("http://"), timeout=5)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()


def error(resp, status: int, message: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == TEXT
    assert resp.text == json.dumps({"error": message, "status": status}, separators=(",", ":")) + "\n"


def create(api, name: str, upstream: str, **extra):
    resp = api("POST", "/proxies", {"name": name, "upstream": upstream, "listen": "127.0.0.1:0", **extra})
    assert resp.status_code == 201, resp.text
    return resp.json()
