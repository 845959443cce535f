"""GET /nonconformities?source=: live findings, replayed ones (eiso history import), one import, or all."""

from __future__ import annotations

from pathlib import Path

from engine.api.roles import Role
from engine.application.history.importing import HistoryImport, HistoryRequest
from engine.application.history.mapping import ActivityMap
from tests.api.support import USER_AGENCY, World
from tests.conftest import ROOT

PROCEDURE = ROOT / "bpmn" / "1.001806-cap-phep-so-cao-bang.bpmn"


def _replayed(world: World, tmp_path: Path) -> str:
    """One old case replayed by eiso history import, with one finding (step_late); the import's id."""
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
    return summary.import_id


def test_the_list_includes_or_excludes_replayed_findings(world: World, tmp_path: Path) -> None:
    import_id = _replayed(world, tmp_path)

    def cases(source: str) -> set[str]:
        answer = world.call(Role.auditor, "GET", f"/nonconformities?source={source}&limit=500")
        assert answer.status_code == 200, answer.text
        return {item["case_id"] for item in answer.json()["items"]}

    everything = cases("all")
    assert "OLD-1" in everything and len(everything) > 1
    assert "OLD-1" not in cases("live") and cases("live") == everything - {"OLD-1"}
    assert cases("history") == {"OLD-1"} == cases(f"history:{import_id}")
    assert cases("history:19990101T000000-00000000") == set()
    bad = world.call(Role.auditor, "GET", "/nonconformities?source=elsewhere")
    assert bad.status_code == 422


def test_the_pareto_report_counts_live_findings_unless_asked(world: World, tmp_path: Path) -> None:
    """GET /reports/nonconformities?source=: live by default (as `eiso report`), history, one import, or all."""
    import_id = _replayed(world, tmp_path)

    def by_type(query: str) -> dict[str, int]:
        answer = world.call(Role.auditor, "GET", f"/reports/nonconformities?from=2026-03-01&to=2026-03-13{query}")
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert report["total"] == sum(row["count"] for row in report["by_type"])
        return {row["category"]: row["count"] for row in report["by_type"]}

    live = by_type("")
    # the world's two late cases (appraise handed over late on Friday 6 March, in both agencies; the auditor
    # sees every agency), without the replayed OLD-1 (assigned late on 4 March)
    assert live == {"step_late": 2} == by_type("&source=live")
    assert by_type("&source=history") == {"step_late": 1} == by_type(f"&source=history:{import_id}")
    assert by_type("&source=all") == {"step_late": 3}
    assert by_type("&source=history:19990101T000000-00000000") == {}
    bad = world.call(Role.auditor, "GET", "/reports/nonconformities?source=elsewhere")
    assert bad.status_code == 422
