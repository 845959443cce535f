"""Serving /metrics: a route for the HTTP API, a small server for the worker and ``eiso metrics serve``."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.exposition import choose_encoder


def render(registry: CollectorRegistry, accept: str | None = None) -> tuple[bytes, str]:
    """The exposition body and its content type (OpenMetrics when the scraper asks for it)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type


def metrics_route(registry: CollectorRegistry, path: str = "/metrics") -> Any:
    """A Starlette route for ``path``; the database collector runs in the thread pool, not on the event loop.

    In the API: ``api.router.routes.append(metrics_route(install(eiso).registry))``.
    """
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def metrics(request: Request) -> Response:
        body, content_type = await run_in_threadpool(render, registry, request.headers.get("accept"))
        return Response(body, headers={"Content-Type": content_type})

    return Route(path, metrics, methods=["GET"], include_in_schema=False)


def serve(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> tuple[Any, threading.Thread]:
    """Serve ``registry`` on http://host:port/metrics in a daemon thread; port 0 picks a free one
    (``server.server_port``). Stop it with ``server.shutdown(); server.server_close()``."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    return server, thread
