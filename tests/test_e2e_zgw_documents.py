"""Open Zaak's document write flow through the sidecar, against the demo upstream behaving like
Open Zaak: lock, unlock, a create with ``inhoud`` null and ``bestandsomvang`` that answers with
a lock and bestandsdelen, the upload of the parts (``PUT /bestandsdelen/{uuid}``), and the
Documenten API's ``objectinformatieobjecten``. Every one of them is a write to (or a read of a link
of) the document, decided on the document and the caller's relation."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

from sidecar.devtools.upstream.app import DEFAULT_PART_SIZE
from sidecar.devtools.upstream.seed import seed_uuid
from tests.helpers import DOCS, HULP, SEED, UNRELATED_SUB, Reply, Running, catalogue_base, document_body

PARTS = "/documenten/api/v1/bestandsdelen"
OIO = "/documenten/api/v1/objectinformatieobjecten"


def _multipart(fields: dict[str, bytes]) -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex
    out = b""
    for name, value in fields.items():
        extra = b'; filename="deel.bin"' if name == "inhoud" else b""
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"".encode() + extra
                + b"\r\n\r\n" + value + b"\r\n")
    return f"multipart/form-data; boundary={boundary}", out + f"--{boundary}--\r\n".encode()


def _upload(run: Running, h: dict[str, str], part: dict[str, Any], lock: str, data: bytes) -> Reply:
    ctype, body = _multipart({"lock": lock.encode(), "inhoud": data})
    return run.proxy("PUT", urlsplit(part["url"]).path, {**h, "Content-Type": ctype}, body)


def _json(h: dict[str, str]) -> dict[str, str]:
    return {**h, "Content-Type": "application/json"}


def _new_chunked(run: Running, h: dict[str, str], size: int) -> dict[str, Any]:
    body = document_body(f"{catalogue_base(run)}/informatieobjecttypen/algemeen", "in delen",
                         inhoud=None, bestandsomvang=size)
    r = run.proxy("POST", DOCS, _json(h), body)
    assert r.status == 201, r.body[:300]
    doc: dict[str, Any] = r.json()
    return doc


def test_a_document_uploaded_in_parts_through_the_sidecar(knmg: Running) -> None:
    h = knmg.headers("consulent", HULP)
    proxy_base = f"http://127.0.0.1:{knmg.stack.ports.proxy}"
    content = bytes(range(256)) * (DEFAULT_PART_SIZE // 256) + b"staart"
    doc = _new_chunked(knmg, h, len(content))
    # Open Zaak's answer: locked, the lock, and the parts to upload, on the sidecar's URLs.
    assert doc["locked"] is True and doc["lock"] and doc["inhoud"] is None
    parts = doc["bestandsdelen"]
    assert [p["omvang"] for p in parts] == [DEFAULT_PART_SIZE, 6]
    assert all(p["url"].startswith(proxy_base + PARTS + "/") and p["voltooid"] is False for p in parts)
    path = urlsplit(doc["url"]).path

    first = _upload(knmg, h, parts[0], doc["lock"], content[:DEFAULT_PART_SIZE])
    assert first.status == 200, first.body[:300]
    assert first.json()["voltooid"] is True and first.json()["url"] == parts[0]["url"]
    # Each upload is a write to the document, decided on it (its id in the record, not the part's).
    (rec,) = [r for r in knmg.records_of(first) if r["phase"] == "response"]
    assert rec["decision"] == "allow" and rec["action"] == "update"
    assert rec["resource"]["type"] == "enkelvoudiginformatieobject" and rec["resource"]["id"] == path.rsplit("/", 1)[1]

    # Not every part is there: the upstream refuses to unlock, and the refusal is passed on and recorded.
    early = knmg.proxy("POST", f"{path}/unlock", _json(h), json.dumps({"lock": doc["lock"]}).encode())
    assert early.status == 400, early.body[:300]
    assert knmg.records_of(early)[-1]["reasons"] == ["UPSTREAM_REJECTED"]
    assert knmg.upstream("GET", path).json()["locked"] is True

    wrong_size = _upload(knmg, h, parts[1], doc["lock"], b"te lang, dit deel")
    assert wrong_size.status == 400
    assert _upload(knmg, h, parts[1], doc["lock"], content[DEFAULT_PART_SIZE:]).status == 200
    done = knmg.proxy("POST", f"{path}/unlock", _json(h), json.dumps({"lock": doc["lock"]}).encode())
    assert done.status == 204, done.body[:300]
    now = knmg.proxy("GET", path, h).json()
    assert now["locked"] is False and now["bestandsomvang"] == len(content) and now["bestandsdelen"] == []
    down = knmg.proxy("GET", urlsplit(now["inhoud"]).path, h)
    assert down.status == 200 and down.body == content


def test_a_part_is_written_only_by_whom_may_write_its_document(knmg: Running) -> None:
    h = knmg.headers("consulent", HULP)
    doc = _new_chunked(knmg, h, 10)
    (part,) = doc["bestandsdelen"]
    # Another consulent, related to no zaak and not the writer: N1, nothing reaches the upstream.
    other = knmg.headers("consulent", HULP, sub=UNRELATED_SUB)
    denied = _upload(knmg, other, part, doc["lock"], b"0123456789")
    assert denied.status == 403 and "N1" in knmg.records_of(denied)[-1]["reasons"]
    upstream_doc = knmg.upstream("GET", urlsplit(doc["url"]).path).json()
    assert upstream_doc["bestandsdelen"][0]["voltooid"] is False
    for action in ("lock", "unlock"):
        r = knmg.proxy("POST", f"{urlsplit(doc['url']).path}/{action}", _json(other), b"{}")
        assert r.status == 403 and "N1" in knmg.records_of(r)[-1]["reasons"], action
    # A part the sidecar never saw created has no document it can decide on: not forwarded.
    mark = knmg.mark_upstream()
    unknown = _upload(knmg, h, {"url": f"{PARTS}/{uuid.uuid4()}"}, doc["lock"], b"0123456789")
    assert unknown.status == 404
    assert not [ln for ln in knmg.upstream_since(mark) if "bestandsdelen" in ln]


def test_lock_change_unlock_of_a_related_document(knmg: Running) -> None:
    h = knmg.headers("consulent", HULP)
    body = document_body(f"{catalogue_base(knmg)}/informatieobjecttypen/algemeen", "te wijzigen")
    made = knmg.proxy("POST", DOCS, _json(h), body)
    assert made.status == 201, made.body[:300]
    path = urlsplit(made.json()["url"]).path  # its writer relates to it
    locked = knmg.proxy("POST", f"{path}/lock", _json(h), b"")
    assert locked.status == 200, locked.body[:300]
    lock = locked.json()["lock"]
    try:
        again = knmg.proxy("POST", f"{path}/lock", _json(h), b"{}")
        assert again.status == 400  # the upstream's existing-lock, passed on
        no_lock = knmg.proxy("PATCH", path, _json(h), json.dumps({"beschrijving": "zonder lock"}).encode())
        assert no_lock.status == 400
        ok = knmg.proxy("PATCH", path, _json(h), json.dumps({"beschrijving": "met lock", "lock": lock}).encode())
        assert ok.status == 200 and ok.json()["locked"] is True
    finally:
        assert knmg.proxy("POST", f"{path}/unlock", _json(h), json.dumps({"lock": lock}).encode()).status == 204
    assert knmg.upstream("GET", path).json()["locked"] is False


def test_objectinformatieobjecten_are_read_like_zaakinformatieobjecten(knmg: Running) -> None:
    proxy_base = f"http://127.0.0.1:{knmg.stack.ports.proxy}"
    doc_uuid = seed_uuid("document", "folder-schuldhulp")  # in bijstand and coordinatie, both c.jansen's
    doc_url = f"{proxy_base}{DOCS}/{doc_uuid}"
    h = knmg.headers("consulent", HULP)
    r = knmg.proxy("GET", f"{OIO}?informatieobject={quote(doc_url, safe='')}", h)
    assert r.status == 200, r.body[:300]
    links = r.json()
    assert {link["object"].rsplit("/", 1)[1] for link in links} == set(SEED["document_zaken"][doc_uuid])
    assert all(link["url"].startswith(proxy_base + OIO + "/") and link["informatieobject"] == doc_url
               for link in links)
    detail = knmg.proxy("GET", urlsplit(links[0]["url"]).path, h)
    assert detail.status == 200 and detail.json() == links[0]
    # The same links for a consulent related to neither zaak: left out of the list, 403 in detail.
    other = knmg.headers("consulent", HULP, sub=UNRELATED_SUB)
    r = knmg.proxy("GET", f"{OIO}?informatieobject={quote(doc_url, safe='')}", other)
    assert r.status == 200 and r.json() == []
    denied = knmg.proxy("GET", urlsplit(links[0]["url"]).path, other)
    assert denied.status == 403 and "N1" in knmg.records_of(denied)[-1]["reasons"]
    # A link of a zaak only b.smit relates to is not released to c.jansen.
    hidden = SEED["examples"]["unrelated_documenten"]["algemeen"]
    r = knmg.proxy("GET", f"{OIO}?informatieobject={quote(f'{proxy_base}{DOCS}/{hidden}', safe='')}", h)
    assert r.status == 200 and r.json() == []
    assert knmg.upstream("GET", f"{OIO}?informatieobject={quote(f'{proxy_base}{DOCS}/{hidden}', safe='')}").json()


def test_a_documents_audit_trail_is_read_as_the_document(knmg: Running) -> None:
    h = knmg.headers("consulent", HULP)
    proxy_base = f"http://127.0.0.1:{knmg.stack.ports.proxy}"
    made = knmg.proxy("POST", DOCS, _json(h), document_body(
        f"{catalogue_base(knmg)}/informatieobjecttypen/algemeen", "met geschiedenis"))
    assert made.status == 201, made.body[:300]
    path = urlsplit(made.json()["url"]).path
    patched = knmg.proxy("PATCH", path, _json(h), json.dumps({"titel": "nieuwe titel"}).encode())
    assert patched.status == 200, patched.body[:300]
    trail = knmg.proxy("GET", f"{path}/audittrail", h)
    assert trail.status == 200, trail.body[:300]
    entries = trail.json()
    assert [e["actie"] for e in entries] == ["create", "partial_update"]
    assert entries[1]["wijzigingen"]["oud"]["titel"] == "met geschiedenis"
    assert entries[1]["wijzigingen"]["nieuw"]["titel"] == "nieuwe titel"
    assert all(e["hoofdObject"] == f"{proxy_base}{path}" and e["bron"] == "DRC" for e in entries)
    (rec,) = [x for x in knmg.records_of(trail) if x["phase"] == "response"]
    assert rec["resource"]["type"] == "enkelvoudiginformatieobject" and rec["decision"] == "allow"
    assert rec["resource"]["id"] == path.rsplit("/", 1)[1]
    entry = knmg.proxy("GET", f"{path}/audittrail/{entries[0]['uuid']}", h)
    assert entry.status == 200 and entry.json()["uuid"] == entries[0]["uuid"], entry.body[:300]
    # Someone with no relation to the document, and a consulent asking for a medical document's
    # history: denied on the document before the trail is asked for.
    med = knmg.doc_of("medisch")["url"]
    for who, target in ((knmg.headers("consulent", HULP, sub=UNRELATED_SUB), f"{path}/audittrail"),
                        (knmg.headers("consulent", HULP, sub=UNRELATED_SUB),
                         f"{path}/audittrail/{entries[0]['uuid']}"),
                        (h, f"{urlsplit(med).path}/audittrail")):
        mark = knmg.mark_upstream()
        denied = knmg.proxy("GET", target, who)
        assert denied.status == 403, (target, denied.body[:300])
        assert knmg.records_of(denied)[-1]["decision"] == "deny"
        assert not [ln for ln in knmg.upstream_since(mark) if "audittrail" in ln]
