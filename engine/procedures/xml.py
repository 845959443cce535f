"""Parse an uploaded BPMN file without trusting it: no DTD, no entities, no network, bounded size.

Any DOCTYPE is refused before and after parsing: a procedure never needs one, and it is how
entity expansion ("billion laughs") and external entities (XXE: reading server files or URLs)
get in.  The parser itself is hardened too, so a DOCTYPE that slipped past the byte scan (an
unusual encoding) is still never resolved, only refused.
"""

from __future__ import annotations

import codecs

from lxml import etree

__all__ = ["MAX_NODES", "MAX_SOURCE_BYTES", "UnsafeXmlError", "parse_xml"]

MAX_SOURCE_BYTES = 5 * 1024 * 1024
#: XML nodes (elements, comments, processing instructions) a procedure file may hold.  A drawn
#: procedure has 15-20 a flow node with its diagram, so 200 flow nodes come to about 4,000.
MAX_NODES = 20_000

_DOCTYPE_REFUSED = "DOCTYPE declarations are not allowed (entity expansion / external entities)"
_WIDE_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class UnsafeXmlError(ValueError):
    """The file is not XML, or is XML this product refuses to read."""


def _parser() -> etree.XMLParser:
    # A fresh parser per document: lxml parsers keep state and are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
        collect_ids=False,
    )


def _prolog_text(source: bytes) -> bytes:
    """The bytes to scan for a DOCTYPE, re-encoded as UTF-8 for UTF-16/32 files.

    Only the prolog (before the root element) can hold a DOCTYPE; a comment or CDATA in the
    body that merely mentions one is fine.  The check on ``docinfo`` after parsing backs it up.
    """
    head = source[:4]
    if head.startswith(_WIDE_BOMS) or b"\x00" in head:
        for encoding in ("utf-32", "utf-16", "utf-16-le", "utf-16-be"):
            try:
                return source.decode(encoding).encode("utf-8", "replace")
            except UnicodeDecodeError:
                continue
    return source


def _prolog_declares(text: bytes) -> bool:
    """Whether a markup declaration (``<!DOCTYPE``, ``<!ENTITY``) comes before the root element.

    Skips comments and processing instructions; linear in the size of the prolog.
    """
    i = 0
    while True:
        start = text.find(b"<", i)
        if start < 0:
            return False
        if text.startswith(b"<!--", start):
            end = text.find(b"-->", start + 4)
            i = end + 3
        elif text.startswith(b"<?", start):
            end = text.find(b"?>", start + 2)
            i = end + 2
        else:
            return text.startswith(b"<!", start) and not text.startswith(b"<![CDATA[", start)
        if end < 0:
            return False


def parse_xml(source: bytes, limit: int = MAX_SOURCE_BYTES) -> etree._ElementTree:
    """The parsed document, or ``UnsafeXmlError`` with a one-line reason."""
    if not isinstance(source, bytes | bytearray | memoryview):
        raise UnsafeXmlError(f"expected the file's bytes, got {type(source).__name__}")
    source = bytes(source)
    if len(source) > limit:
        raise UnsafeXmlError(f"file is too large ({len(source):,} bytes; the limit is {limit:,} bytes)")
    if not source.strip():
        raise UnsafeXmlError("not XML: the file is empty")
    scanned = _prolog_text(source)
    if _prolog_declares(scanned):
        raise UnsafeXmlError(_DOCTYPE_REFUSED)
    try:
        tree = etree.ElementTree(etree.fromstring(source, _parser()))
    except etree.XMLSyntaxError as err:
        message = " ".join(str(err.msg or err).split())
        if err.lineno and "line" not in message:
            message = f"{message}, line {err.lineno}"
        raise UnsafeXmlError(f"not XML: {message}") from None
    except (ValueError, MemoryError, RecursionError) as err:
        raise UnsafeXmlError(f"not XML: {err}") from None
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise UnsafeXmlError(_DOCTYPE_REFUSED)
    if any(isinstance(node, etree._Entity) for node in tree.iter(etree.Entity)):
        raise UnsafeXmlError("entity references are not allowed")
    return tree
