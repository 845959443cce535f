"""What a Form 04 slip reads: the case row, its first extension, the name of its procedure version."""

from __future__ import annotations

from sqlmodel import Session, col, select

from engine.core.events import EXTENDED
from engine.store.tables import CaseRow, JournalEntry, ProcedureVersion


class SqlApologyReads:
    def __init__(self, session: Session):
        self.session = session

    def case(self, case_id: str) -> CaseRow | None:
        return self.session.get(CaseRow, case_id)

    def first_extension(self, case_id: str) -> JournalEntry | None:
        return self.session.exec(select(JournalEntry).where(JournalEntry.case_id == case_id,
                                                            JournalEntry.type == EXTENDED)
                                 .order_by(col(JournalEntry.seq))).first()

    def procedure_name(self, code: str, scope: str, version: int) -> str | None:
        return self.session.exec(select(ProcedureVersion.name).where(
            ProcedureVersion.code == code, ProcedureVersion.scope == scope,
            ProcedureVersion.version == version)).first()
