"""GET /nonconformities?source=: live findings, replayed ones (eiso history import), one import, or all."""

from __future__ import annotations

from pathlib import Path

from engine.api.roles import Role
from engine.application.history.importing import HistoryImport, HistoryRequest
from engine.application.history.mapping import ActivityMap
from tests.api.support import USER_AGENCY, World
from tests.conftest import ROOT

PROCEDURE = ROOT / "bpmn" / "1.001806-cap-phep-so-cao-bang.bpmn"


def test_the_list_includes_or_excludes_replayed_findings(world: World, tmp_path: Path) -> None:
    eiso = world.eiso
    eiso.catalog.deploy(PROCEDURE.read_bytes(), PROCEDURE.name, world.clock.now())
    log = tmp_path / "old.csv"
    # received Monday 2 March 08:00, assigned Wednesday 4th 10:00: due Monday 13:30, late (step_late)
    log.write_text("case:concept:name,concept:name,time:timestamp,case:agency,case:procedure\n"
                   f"OLD-1,Tiếp nhận,2026-03-02 08:00,{USER_AGENCY},1.001806\n"
                   f"OLD-1,Phân công,2026-03-04 10:00,{USER_AGENCY},1.001806\n", encoding="utf-8")
    summary = HistoryImport(eiso.engine, eiso.catalog, eiso.calendar, world.clock, "test").run(
        HistoryRequest(log, activities=ActivityMap({"Tiếp nhận": "receive_dossier", "Phân công": "assign"})))
    assert summary.nonconformities["step_late"] == 1

    def cases(source: str) -> set[str]:
        answer = world.call(Role.auditor, "GET", f"/nonconformities?source={source}&limit=500")
        assert answer.status_code == 200, answer.text
        return {item["case_id"] for item in answer.json()["items"]}

    everything = cases("all")
    assert "OLD-1" in everything and len(everything) > 1
    assert "OLD-1" not in cases("live") and cases("live") == everything - {"OLD-1"}
    assert cases("history") == {"OLD-1"} == cases(f"history:{summary.import_id}")
    assert cases("history:19990101T000000-00000000") == set()
    bad = world.call(Role.auditor, "GET", "/nonconformities?source=elsewhere")
    assert bad.status_code == 422
