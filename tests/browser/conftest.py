"""Browser tests: the real console in Debian's Chromium, driven by Selenium through chromedriver.

``site`` (one per session): ``eiso demo`` fills a SQLite file with a simulated month (last month,
bundled procedures), ``eiso users create`` makes one user per role (the leader and the ISO secretary
bound to 000.00.12.H10, which covers 000.3x.12.H10), and ``eiso serve`` runs on a free loopback port,
exactly as a user would start it. ``browser`` is a headless Chromium whose console messages are
collected: ``browser.errors()`` lists the page's JavaScript errors and failed loads, and every test
ends by asserting there are none. ``browser.sign_in(role)`` goes through the sign-in form.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - the test extra installs it
    webdriver = None  # type: ignore[assignment]

BOUND_AGENCY = "000.00.12.H10"
OTHER_AGENCY = "000.00.13.H10"
ROLES = ("admin", "process_owner", "iso_secretary", "leader", "auditor")
BOUND_ROLES = ("process_owner", "iso_secretary", "leader")


def _required(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            raise RuntimeError(f"CI must provide {name} (scripts/test installs Debian's chromium and chromium-driver)")
        pytest.skip(f"{name} not installed (apt-get install chromium chromium-driver)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _eiso(*args: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "engine.cli.app", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"eiso {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


@dataclass
class Site:
    """A running `eiso serve` over a simulated month."""

    url: str
    database_url: str
    env: dict[str, str]
    cwd: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def api(self, method: str, path: str, role: str = "admin", body: Any = None,
            content_type: str = "application/json") -> Any:
        """Call the HTTP API as ``role`` (JSON in, JSON out)."""
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Authorization": f"Bearer {self.tokens[role]}",
                                                  "Content-Type": content_type, "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.load(answer)

    def eiso(self, *args: str) -> str:
        return _eiso(*args, env=self.env, cwd=self.cwd)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _required("chromium")
    _required("chromedriver")
    if webdriver is None:
        raise RuntimeError("selenium is not installed: pip install -e '.[test]'")
    home = tmp_path_factory.mktemp("site")
    database = home / "eiso.db"
    env = {**os.environ, "EISO_DATABASE_URL": f"sqlite:///{database}"}
    env.pop("EISO_GRAFANA_URL", None)
    _eiso("demo", "--cases", "300", "--db", str(database), env=env, cwd=home)
    port = _free_port()
    made = Site(url=f"http://127.0.0.1:{port}", database_url=env["EISO_DATABASE_URL"], env=env, cwd=home)
    for role in ROLES:
        scope = ["--agency", BOUND_AGENCY] if role in BOUND_ROLES else ["--all-agencies"] if role != "auditor" else []
        made.tokens[role] = made.eiso("users", "create", "--role", role, "--name", f"{role}-browser", *scope).strip() \
            .splitlines()[-1].strip()
    log = (home / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "engine.cli.app", "serve", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(made.url + "/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("eiso serve did not start: " + (home / "serve.log").read_text()[-3000:]) \
                        from None
                time.sleep(0.2)
        yield made
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


class Browser:
    """A headless Chromium on the site, with its console log at hand."""

    def __init__(self, driver: WebDriver, site: Site):
        self.driver = driver
        self.site = site
        self._seen: list[dict[str, Any]] = []

    def open(self, path: str) -> None:
        self.driver.get(self.site.url + path)

    def sign_in(self, role: str) -> None:
        self.open("/console/signin")
        self.driver.find_element(By.ID, "f-token").send_keys(self.site.tokens[role])
        self.driver.find_element(By.CSS_SELECTOR, "form[action='/console/signin'] button[type=submit]").click()
        self.wait_for(By.CSS_SELECTOR, "header .user")

    def sign_out(self) -> None:
        self.driver.find_element(By.CSS_SELECTOR, "form[action='/console/signout'] button").click()
        self.wait_for(By.ID, "f-token")

    def wait_for(self, by: str, what: str, timeout: float = 20) -> Any:
        return WebDriverWait(self.driver, timeout).until(expected_conditions.presence_of_element_located((by, what)))

    def wait_until(self, condition: Any, timeout: float = 20) -> Any:
        return WebDriverWait(self.driver, timeout).until(condition)

    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def log(self) -> list[dict[str, Any]]:
        self._seen.extend(self.driver.get_log("browser"))
        return self._seen

    def errors(self) -> list[str]:
        """JavaScript errors and failed loads the pages logged (severity SEVERE)."""
        return [entry["message"] for entry in self.log() if entry.get("level") == "SEVERE"]

    def screenshot(self, name: str) -> Path | None:
        """With EISO_SCREENSHOTS=DIR, save the page as DIR/NAME.png (the README's pictures: scripts/screenshots)."""
        folder = os.environ.get("EISO_SCREENSHOTS")
        if not folder:
            return None
        path = Path(folder) / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

    def print_pdf(self) -> bytes:
        """The page printed by Chromium (its print stylesheet), as PDF bytes."""
        import base64

        answer = self.driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": False, "preferCSSPageSize": True})
        return base64.b64decode(answer["data"])


@pytest.fixture
def browser(site: Site) -> Iterator[Browser]:
    options = webdriver.ChromeOptions()
    options.binary_location = _required("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1440,1000", "--lang=vi", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=_required("chromedriver")))
    driver.set_page_load_timeout(60)
    made = Browser(driver, site)
    try:
        yield made
    finally:
        driver.quit()
