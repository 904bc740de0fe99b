"""The calibration baseline of issue 8: a straightforward aiohttp + lxml + SQLite ACS.

Issue 8 calibrates its per-core targets against "a straightforward aiohttp + lxml +
SQLite handler" measured on the machine of the day (~1,150 periodic sessions/s then).
Machines change, so `bench.run` measures this handler in the same run as the ACS and
reports ACS/straightforward next to the target/calibration ratio of the issue (2.17x).

Written the way a competent engineer writes it the first time, neither tuned nor
sabotaged: an aiohttp application (default asyncio event loop, default settings), one
POST route; every body parsed with ``lxml.etree.fromstring`` and a hardened parser (no
entities, no network, no DTD); the inventory in a stdlib ``sqlite3`` database (WAL,
``synchronous = NORMAL`` like the ACS's store) queried on the event loop; session state
in a dict keyed by a session cookie; every answer built with lxml.

* Inform: look the device up by serial number, set its last-inform time, commit, keep
  a session, answer an InformResponse with the cookie.
* Empty POST: a ``0 BOOTSTRAP`` session gets SetParameterValues of its profile's
  parameters, then GetParameterValues of the verifiable ones; their answers are
  compared with what was set and the result inserted into ``provisionings``. Any
  other session ends with 204.

The desired values come from a fixed per-device dict built at start from the bench
fleet (`traceacs.provisioning.config_builder` on each device's plan, the same
parameters the ACS pushes and `bench.floor` cans): configuration lookup is not what
this baseline measures. Nothing is logged per request (aiohttp's default: the access
log is off unless logging is configured).

    python -m bench.straightforward --devices 1000 --seed 8 --database PATH

Prints ``listening <port>`` on stdout once bound (like `bench.floor`); runs until
SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
COOKIE_NAME = "session"
BOOTSTRAP = "0 BOOTSTRAP"

PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
)

Parameter = tuple[str, str, str]
"""Name, value as text, xsd type (without prefix)."""


@dataclass
class Session:
    serial: str
    cwmp: str
    """The cwmp namespace the CPE spoke in its Inform; every request uses it."""
    bootstrap: bool
    step: str = "inform"
    request_id: int = 0


def open_database(path: Path, devices: list[tuple[str, str, str, str]]) -> sqlite3.Connection:
    """The inventory table, ``devices`` (serial, oui, product class, plan) inserted."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS devices (serial_number TEXT PRIMARY KEY, oui TEXT,"
        " product_class TEXT, service_plan TEXT, last_inform REAL)"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS provisionings (id INTEGER PRIMARY KEY,"
        " serial_number TEXT, finished_at REAL, result TEXT)"
    )
    db.executemany(
        "INSERT OR IGNORE INTO devices (serial_number, oui, product_class, service_plan)"
        " VALUES (?, ?, ?, ?)",
        devices,
    )
    db.commit()
    return db


def fleet_parameters(
    count: int, seed: int
) -> tuple[list[tuple[str, str, str, str]], dict[str, list[Parameter]], dict[str, set[str]]]:
    """The bench fleet's inventory rows, per-device desired parameters and the names of
    those a GetParameterValues can check (hidden ones read back empty)."""
    from traceacs.cwmp.values import format_value
    from traceacs.provisioning.config_builder import build_config
    from traceacs.provisioning.config_types import ConfigTarget
    from traceacs.simulator.fleet import build_fleet

    fleet = build_fleet(count, data_model="tr181", seed=seed)
    profiles = {p.name: p for p in fleet.profiles}
    rows: list[tuple[str, str, str, str]] = []
    desired: dict[str, list[Parameter]] = {}
    verifiable: dict[str, set[str]] = {}
    for record in fleet.inventory:
        rows.append((record.serial_number, record.oui, record.product_class, record.service_plan))
        profile = profiles.get(record.service_plan)
        if profile is None:
            continue
        config = build_config(profile, ConfigTarget("Device.", record.oui, record.product_class))
        desired[record.serial_number] = [
            (p.name, format_value(p.value, p.xsd_type), p.xsd_type) for p in config.parameters
        ]
        verifiable[record.serial_number] = set(config.verifiable_names)
    return rows, desired, verifiable


def envelope(cwmp: str, request_id: str) -> tuple[etree._Element, etree._Element]:
    """A SOAP envelope with its cwmp:ID header; returns (envelope, body)."""
    nsmap = {"soap-env": SOAP_ENV, "soap-enc": SOAP_ENC, "xsd": XSD, "xsi": XSI, "cwmp": cwmp}
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=nsmap)
    header = etree.SubElement(env, f"{{{SOAP_ENV}}}Header")
    id_element = etree.SubElement(header, f"{{{cwmp}}}ID")
    id_element.set(f"{{{SOAP_ENV}}}mustUnderstand", "1")
    id_element.text = request_id
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    return env, body


def soap_response(env: etree._Element) -> web.Response:
    return web.Response(
        body=etree.tostring(env, xml_declaration=True, encoding="UTF-8"),
        content_type="text/xml",
        charset="utf-8",
    )


class Acs:
    """The one route's handler and what it keeps: database, sessions, desired values."""

    def __init__(
        self,
        db: sqlite3.Connection,
        desired: dict[str, list[Parameter]],
        verifiable: dict[str, set[str]],
    ) -> None:
        self.db = db
        self.desired = desired
        self.verifiable = verifiable
        self.sessions: dict[str, Session] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        session_id = request.cookies.get(COOKIE_NAME)
        session = self.sessions.get(session_id) if session_id else None
        if not body:
            if session is None or session_id is None:
                return web.Response(status=400, text="no session")
            return self.next_request(session_id, session)
        try:
            root = etree.fromstring(body, PARSER)
        except etree.XMLSyntaxError:
            return web.Response(status=400, text="malformed XML")
        soap_body = root.find(f"{{{SOAP_ENV}}}Body")
        if soap_body is None or len(soap_body) == 0:
            return web.Response(status=400, text="no SOAP body")
        message = soap_body[0]
        qname = etree.QName(message)
        if qname.localname == "Inform":
            return self.inform(root, message, qname.namespace or "")
        if session is None or session_id is None:
            return web.Response(status=400, text="no session")
        if qname.localname == "SetParameterValuesResponse" and session.step == "spv":
            status = message.findtext("Status")
            if status not in ("0", "1"):
                return self.end(session_id, session, "spv_failed")
            return self.get_values(session)
        if qname.localname == "GetParameterValuesResponse" and session.step == "gpv":
            return self.verify(session_id, session, message)
        return self.end(session_id, session, f"unexpected {qname.localname}")

    def inform(self, root: etree._Element, inform: etree._Element, cwmp: str) -> web.Response:
        serial = inform.findtext("DeviceId/SerialNumber")
        row = self.db.execute(
            "SELECT serial_number FROM devices WHERE serial_number = ?", (serial,)
        ).fetchone()
        if row is None:
            return web.Response(status=403, text="unknown device")
        self.db.execute(
            "UPDATE devices SET last_inform = ? WHERE serial_number = ?", (time.time(), serial)
        )
        self.db.commit()
        events = [code.text for code in inform.iterfind("Event/EventStruct/EventCode")]
        session_id = secrets.token_hex(16)
        self.sessions[session_id] = Session(row[0], cwmp, BOOTSTRAP in events)

        inform_id = root.findtext(f"{{{SOAP_ENV}}}Header/{{{cwmp}}}ID") or ""
        env, body = envelope(cwmp, inform_id)
        answer = etree.SubElement(body, f"{{{cwmp}}}InformResponse")
        etree.SubElement(answer, "MaxEnvelopes").text = "1"
        response = soap_response(env)
        response.set_cookie(COOKIE_NAME, session_id, httponly=True, path="/")
        return response

    def next_request(self, session_id: str, session: Session) -> web.Response:
        """The CPE's empty POST: push the profile to a bootstrapping CPE, else done."""
        parameters = self.desired.get(session.serial)
        if not session.bootstrap or session.step != "inform" or not parameters:
            del self.sessions[session_id]
            return web.Response(status=204)
        session.step = "spv"
        env, body = self.new_request(session)
        spv = etree.SubElement(body, f"{{{session.cwmp}}}SetParameterValues")
        plist = etree.SubElement(spv, "ParameterList")
        plist.set(f"{{{SOAP_ENC}}}arrayType", f"cwmp:ParameterValueStruct[{len(parameters)}]")
        for name, text, xsd_type in parameters:
            pvs = etree.SubElement(plist, "ParameterValueStruct")
            etree.SubElement(pvs, "Name").text = name
            value = etree.SubElement(pvs, "Value")
            value.set(f"{{{XSI}}}type", f"xsd:{xsd_type}")
            value.text = text
        etree.SubElement(spv, "ParameterKey").text = "bootstrap"
        return soap_response(env)

    def get_values(self, session: Session) -> web.Response:
        session.step = "gpv"
        names = [
            n for n, _, _ in self.desired[session.serial] if n in self.verifiable[session.serial]
        ]
        env, body = self.new_request(session)
        gpv = etree.SubElement(body, f"{{{session.cwmp}}}GetParameterValues")
        plist = etree.SubElement(gpv, "ParameterNames")
        plist.set(f"{{{SOAP_ENC}}}arrayType", f"xsd:string[{len(names)}]")
        for name in names:
            etree.SubElement(plist, "string").text = name
        return soap_response(env)

    def verify(self, session_id: str, session: Session, answer: etree._Element) -> web.Response:
        """Compare the values read back with those set; record the provisioning."""
        got = {
            pvs.findtext("Name"): pvs.findtext("Value") or ""
            for pvs in answer.iterfind("ParameterList/ParameterValueStruct")
        }
        verifiable = self.verifiable[session.serial]
        ok = all(
            got.get(name) == text
            for name, text, _ in self.desired[session.serial]
            if name in verifiable
        )
        return self.end(session_id, session, "success" if ok else "mismatch")

    def end(self, session_id: str, session: Session, result: str) -> web.Response:
        if session.bootstrap:
            self.db.execute(
                "INSERT INTO provisionings (serial_number, finished_at, result) VALUES (?, ?, ?)",
                (session.serial, time.time(), result),
            )
            self.db.commit()
        del self.sessions[session_id]
        return web.Response(status=204)

    def new_request(self, session: Session) -> tuple[etree._Element, etree._Element]:
        session.request_id += 1
        return envelope(session.cwmp, f"acs-{session.request_id}")


def make_app(acs: Acs) -> web.Application:
    app = web.Application()
    app.router.add_post("/", acs.handle)
    return app


async def serve(host: str, port: int, acs: Acs) -> None:
    runner = web.AppRunner(make_app(acs))
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"listening {runner.addresses[0][1]}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def opened(path: Path, devices: int, seed: int) -> Iterator[Acs]:
    rows, desired, verifiable = fleet_parameters(devices, seed)
    db = open_database(path, rows)
    try:
        yield Acs(db, desired, verifiable)
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="straightforward aiohttp + lxml + SQLite ACS")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="event loop (asyncio: what `web.run_app` runs on, the calibration; "
        "uvloop: what `traceacs serve` runs on, for comparison only)",
    )
    args = parser.parse_args(argv)
    with opened(args.database, args.devices, args.seed) as acs:
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(serve(args.host, args.port, acs))
        else:
            asyncio.run(serve(args.host, args.port, acs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
