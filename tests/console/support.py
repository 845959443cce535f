"""The console's test world: the API's small world (tests/api/support.py) served by ``create_site``,
with one signed-in browser (a TestClient holding the session cookie) per role."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from engine.api.roles import Role
from engine.console.app import create_site
from tests.api.support import World

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> TestClient:
    """Sign ``client`` in through the form, as a browser does."""
    form = client.get("/console/signin")
    answer = client.post("/console/signin", data={"csrf": csrf_of(form.text), "token": token, "next": "/console/"},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return client


@dataclass
class Console:
    world: World
    browsers: dict[Role, TestClient] = field(default_factory=dict)

    def anonymous(self) -> TestClient:
        return TestClient(create_site(self.world.eiso))

    def browser(self, role: Role) -> TestClient:
        """A client signed in as the world's user of ``role`` (bound to USER_AGENCY)."""
        if role not in self.browsers:
            self.browsers[role] = sign_in(TestClient(create_site(self.world.eiso)), self.world.tokens[role])
        return self.browsers[role]

    def form(self, role: Role, url: str, data: dict[str, str], follow: bool = False) -> object:
        """POST ``data`` to ``url`` with the CSRF token of the page at ``url``."""
        client = self.browser(role)
        token = csrf_of(client.get(url).text)
        return client.post(url, data={"csrf": token, **data}, follow_redirects=follow)
