"""GET /reports/procedure-review: what `eiso procedures review --format json` prints, as JSON (the same rows),
CSV and XLSX, for the caller's agencies. SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

from openpyxl import load_workbook
from typer.testing import CliRunner

from engine.api.roles import Role
from engine.application.catalogue import import_catalogue
from engine.cli.app import app as cli
from engine.cli.context import get_app
from tests.api.support import OTHER_AGENCY, PROCEDURE, World, second_procedure
from tests.conftest import ROOT

AT = "2026-03-20T09:00:00+07:00"


def cli_review(database_url: str) -> Any:
    get_app.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["procedures", "review", "--at", AT, "--format", "json"],
                                    env={"EISO_DATABASE_URL": database_url})
    finally:
        if get_app.cache_info().currsize:
            get_app().engine.dispose()
        get_app.cache_clear()
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_review_report_is_the_commands_review_scoped_to_the_caller(database_url: str,
                                                                        bare_world: World) -> None:
    eiso = bare_world.eiso
    deployed = datetime.fromisoformat("2026-03-02T08:00:00+07:00")
    eiso.catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, deployed)  # every agency, not in the catalogue
    eiso.catalog.deploy(second_procedure(), "second.bpmn", deployed, agencies=[OTHER_AGENCY])  # another agency's
    import_catalogue(eiso.engine, ROOT / "config" / "catalogue-sample.csv", deployed)
    printed = cli_review(database_url)
    kinds = {(row["kind"], row["code"], row["scope"]) for row in printed}
    assert {("not_in_catalogue", "9.000001", "*"), ("not_in_catalogue", "9.000002", OTHER_AGENCY)} <= kinds
    assert any(kind == "not_deployed" for kind, _, _ in kinds)

    everything = bare_world.call(Role.admin, "GET", "/reports/procedure-review", params={"at": AT})
    assert everything.status_code == 200
    assert everything.json()["findings"] == printed
    assert everything.json()["at"] == AT
    own = bare_world.call(Role.leader, "GET", "/reports/procedure-review", params={"at": AT}).json()["findings"]
    assert own == [row for row in printed if row["scope"] != OTHER_AGENCY]  # another agency's version left out

    text = bare_world.call(Role.leader, "GET", "/reports/procedure-review", params={"at": AT, "format": "csv"}).text
    assert text.splitlines()[0] == ("Nội dung cần xem xét,Mã thủ tục,Ngày thay đổi,Phiên bản,Cơ quan áp dụng,"
                                    "Thời hạn đang áp dụng,Thời hạn theo CSDL quốc gia,Chi tiết")
    assert len(text.splitlines()) == 1 + len(own)
    sheet = bare_world.call(Role.leader, "GET", "/reports/procedure-review",
                            params={"at": AT, "format": "xlsx", "lang": "en"})
    rows = list(load_workbook(io.BytesIO(sheet.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("Finding", "Code", "Changed on") and len(rows) == 1 + len(own)
