"""/docs and /redoc work on an offline intranet: every script, style and icon comes from this server."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from engine.api.app import create_app
from engine.bootstrap import build
from engine.settings import DatabaseSettings, Settings

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*['"]?([^'")]+)""")


def _client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(build(Settings(database=DatabaseSettings(url=f"sqlite:///{tmp_path / 'e.db'}")))))


def test_docs_and_redoc_load_nothing_from_another_host(tmp_path: Path) -> None:
    with _client(tmp_path) as client:
        for page in ("/docs", "/redoc"):
            answer = client.get(page)
            assert answer.status_code == 200, page
            html = answer.text
            assert "http://" not in html and "https://" not in html and "//cdn" not in html, (page, html)
            assets = [a or b for a, b in ASSET.findall(html)]
            assert assets, page
            for asset in assets:
                assert asset.startswith("/"), (page, asset)
                loaded = client.get(asset)
                assert loaded.status_code == 200 and len(loaded.content) > 1000, (page, asset, loaded.status_code)
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/docs/oauth2-redirect").status_code == 200
