"""What is wrong with a procedure file, one line per problem: file, element id, message."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from lxml import etree

__all__ = ["Problem", "ProcedureInvalid", "Report", "element_id"]

Severity = Literal["error", "warning"]


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Problem:
    """One finding about one file; ``str()`` is the line ``eiso procedures validate`` prints."""

    file: str
    element_id: str | None
    message: str
    severity: Severity = "error"

    def __post_init__(self) -> None:
        # Everything here comes from an uploaded file: keep each problem on exactly one line.
        object.__setattr__(self, "message", _one_line(self.message))
        if self.element_id is not None:
            object.__setattr__(self, "element_id", _one_line(self.element_id) or None)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = f"{self.file}: {self.element_id}: " if self.element_id else f"{self.file}: "
        return where + ("warning: " if self.severity == "warning" else "") + self.message


class ProcedureInvalid(ValueError):
    """A procedure file was refused; ``problems`` says why (errors and warnings)."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        errors = [p for p in self.problems if p.is_error] or self.problems
        super().__init__("\n".join(str(p) for p in errors))


def element_id(element: etree._Element | None) -> str | None:
    """The id of ``element`` or of its nearest ancestor that has one."""
    while element is not None:
        value = element.get("id")
        if value:
            return str(value)
        element = element.getparent()
    return None


class Report:
    """Collects problems for one file; hands them back in document order, without duplicates.

    ``deployed`` reads back a version already deployed: a bound added after it was deployed
    (``exceeds``) is then only a warning, so that the cases following it keep their procedure.
    """

    def __init__(self, filename: str, root: etree._Element | None = None, *, deployed: bool = False):
        self.filename = filename
        self.deployed = deployed
        self._order = {el: i for i, el in enumerate(root.iter())} if root is not None else {}
        self._found: list[tuple[int, int, Problem]] = []

    def add(
        self,
        element: etree._Element | None,
        message: str,
        severity: Severity = "error",
        *,
        owner: str | None = None,
    ) -> None:
        """Report ``message`` about ``element`` (named by ``owner`` if given, else its id)."""
        name = owner if owner is not None else element_id(element)
        position = self._order.get(element, -1) if element is not None else -1
        problem = Problem(self.filename, name, message, severity)
        self._found.append((position, len(self._found), problem))

    @property
    def size(self) -> int:
        """Nodes in the document (elements, comments, processing instructions)."""
        return len(self._order)

    def exceeds(self, element: etree._Element | None, message: str, *, owner: str | None = None) -> None:
        """Report a size bound passed: an error, or a warning on a version already deployed."""
        self.add(element, message, "warning" if self.deployed else "error", owner=owner)

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self._found.append((len(self._order), len(self._found), problem))

    @property
    def has_errors(self) -> bool:
        return any(problem.is_error for _, _, problem in self._found)

    def problems(self) -> list[Problem]:
        seen: set[Problem] = set()
        ordered: list[Problem] = []
        for _, _, problem in sorted(self._found, key=lambda found: (found[0], found[1])):
            if problem not in seen:
                seen.add(problem)
                ordered.append(problem)
        return ordered
