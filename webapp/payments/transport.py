"""How the adapters and the simulated providers reach each other: real HTTP, or in-process WSGI."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from werkzeug.datastructures import Headers
from werkzeug.test import Client

from .base import PaymentError


@dataclass(frozen=True)
class TransportResponse:
    """A provider's (or app's) HTTP answer."""

    status: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        """The body as JSON."""
        import json

        return json.loads(self.body or b"null")


class Transport(Protocol):
    """Sends one HTTP request."""

    def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes = b"") -> TransportResponse:
        """Send it; raise PaymentError when nothing comes back."""


class RequestsTransport:
    """Real HTTP with short timeouts."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout

    def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes = b"") -> TransportResponse:
        """Send over the network."""
        try:
            r = requests.request(
                method, url, headers=dict(headers), data=body, timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as e:
            raise PaymentError(f"{method} {url}: {e}") from e
        return TransportResponse(r.status_code, Headers(list(r.headers.items())), r.content)


class WsgiTransport:
    """In-process dispatch to WSGI apps by host (tests: the app and the providers, each its own app)."""

    def __init__(self, routes: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.routes: dict[str, Callable[..., Any]] = dict(routes or {})

    def mount(self, netloc: str, app: Callable[..., Any]) -> None:
        """Send requests for ``netloc`` (``host:port``) to ``app``."""
        self.routes[netloc] = app

    def request(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes = b"") -> TransportResponse:
        """Send to the app mounted for the URL's host; nothing mounted there is a network error."""
        parts = urlsplit(url)
        app = self.routes.get(parts.netloc)
        if app is None:
            raise PaymentError(f"{method} {url}: no route to host")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        r = Client(app).open(
            path, method=method, headers=dict(headers), data=body, base_url=f"{parts.scheme}://{parts.netloc}"
        )
        return TransportResponse(r.status_code, Headers(list(r.headers.items())), r.get_data())
