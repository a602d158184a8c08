"""The ``sidecar`` command line. Every sub-command explains itself with ``--help``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Policy-enforcement sidecar for ZGW case-management APIs (Open Zaak and friends).
Every read and write is decided by Open Policy Agent and recorded in a hash-chained file.

  serve     run the sidecar in production (gunicorn, gthread workers)
  demo      run OPA + a demo ZGW upstream + the sidecar on this machine
  token     mint a token with the demo's dev key
  records   verify the decision records, answer a data subject's access request, export them
  consent   withdraw a consent (AVG art. 7(3)): its data is no longer used
  pseudonyms  rotate the BSN pseudonymisation key: re-key the label store, show key versions
  explain   show the OPA input the sidecar would build for a request, and the decision
  profiles  compare policy profiles on the test cases, or check them for errors
"""


def _workdir_arg(p: argparse.ArgumentParser) -> None:
    from sidecar.devtools.demo import DEFAULT_WORKDIR

    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                   help=f"the demo's folder (default: {DEFAULT_WORKDIR}; env SIDECAR_DEMO_WORKDIR)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sidecar", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    s = sub.add_parser("serve", help="run the sidecar (production entry)",
                       description="Run the proxy and admin listeners under gunicorn. The config is "
                                   "one YAML file; SIDECAR_<SECTION>__<KEY>=value environment variables "
                                   "override it (e.g. SIDECAR_OPA__TIMEOUT__READ=0.5).")
    s.add_argument("--config", type=Path, required=True, help="YAML config file")
    s.add_argument("--check", action="store_true", help="validate the config and exit")

    d = sub.add_parser("demo", help="run OPA + demo upstream + sidecar in the foreground",
                       description="Starts OPA (from PATH or .tools/bin), a ZGW-shaped demo upstream and "
                                   "the sidecar on 127.0.0.1 (proxy 8080, admin 9180, OPA 8181, upstream "
                                   "8081), generates a dev key pair in the workdir and prints curl "
                                   "commands. Ctrl-C stops all three.")
    d.add_argument("--profile", default="knmg", help="policy profile: knmg (default) or wetsvoorstel")
    _workdir_arg(d)

    t = sub.add_parser("token", help="mint a demo token (prints only the JWT)",
                       description="Signs a JWT with the demo's dev key (ES256, with its kid). --org "
                                   "defaults to the demo's controlling organisation; any other value is "
                                   "an external organisation (onward disclosure).")
    t.add_argument("--sub", required=True, help="user id")
    t.add_argument("--role", required=True, help="role claim, e.g. consulent, medisch_adviseur")
    t.add_argument("--org", default=None, help="organisation (default: the demo's controlling org)")
    t.add_argument("--secrecy", choices=["wettelijk", "beroepscode", "geen"], default=None)
    t.add_argument("--teams", default=None, metavar="T1,T2",
                   help="the teams (organisational units) the user works in, comma-separated (claim teams)")
    t.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    _workdir_arg(t)

    r = sub.add_parser("records", help="decision records: verify the chain, query by data subject")
    rsub = r.add_subparsers(dest="records_cmd", required=True, metavar="SUBCOMMAND")
    v = rsub.add_parser("verify", help="check the hash chain; exit 1 naming the first broken line",
                        description="Checks every line's hash and its link to the line before, in one file or "
                                    "in every *.jsonl file of a folder (one chain per file, e.g. one per "
                                    "replica). A folder is also checked against its manifests (*.manifest): "
                                    "every file they list exists, is not truncated and continues from the file "
                                    "rotated before it; every file of an anchored writer is listed. Only reads: "
                                    "a read-only copy is fine. Exit 0: intact; 1: a file is broken, missing, "
                                    "unlisted or truncated (named); 2: nothing to check.")
    v.add_argument("file", nargs="?", type=Path, metavar="FILE|FOLDER",
                   help="records file or folder of them (default: the live file from --config or --workdir)")
    v.add_argument("--metrics-file", type=Path, default=None, metavar="FILE",
                   help="also write the result as Prometheus gauges (sidecar_records_verify_*) to FILE, "
                        "atomically: node_exporter's textfile collector, or records.verify_status_file")
    _records_source(v)
    q = rsub.add_parser("query", help="every decision about one data subject (AVG art. 15)",
                        description="Prints dates, purposes, categories, recipients and legal grounds of "
                                    "every decision about the person, without employee identities unless "
                                    "--met-medewerkers (for the data-protection officer).")
    q.add_argument("--betrokkene", required=True, help="the person's BSN")
    q.add_argument("--met-medewerkers", action="store_true",
                   help="include employee identities (for the data-protection officer; recorded as L1)")
    q.add_argument("--door", default=None,
                   help="who runs the query (recorded; default: the login name)")
    q.add_argument("file", nargs="?", type=Path, metavar="FILE|FOLDER",
                   help="records file or folder of them to search, only read (default: every *.jsonl file in "
                        "the folder of the live file from --config or --workdir: every replica's file and "
                        "every rotated one); the query's own record always goes to the live file")
    _records_source(q)
    x = rsub.add_parser("export", help="the records as OPA decision-log events or Logboek Dataverwerkingen entries",
                        description="Writes one JSON line per record on stdout: --format opa gives OPA decision-log "
                                    "events (decision_id, labels, path, result, timestamp, metrics, bundles; no "
                                    "input, which the record does not keep); --format ldv gives Logboek "
                                    "Dataverwerkingen entries (trace_id, span_id, name, start and end time, "
                                    "status_code, dpl.core.* attributes; the data subject only as its pseudonym, "
                                    "no user identities). Only reads; run 'records verify' first to know the "
                                    "chain is intact. Exit 1 when a line could not be exported (named on stderr).")
    x.add_argument("--format", required=True, choices=["opa", "ldv"], dest="export_format")
    x.add_argument("file", nargs="?", type=Path, metavar="FILE|FOLDER",
                   help="records file or folder of them (default: every *.jsonl file in the folder of the "
                        "live file from --config or --workdir)")
    _records_source(x)
    c = sub.add_parser("consent", help="withdraw a consent (rule I10)")
    csub = c.add_subparsers(dest="consent_cmd", required=True, metavar="SUBCOMMAND")
    cr = csub.add_parser("revoke", help="withdraw a consent: every read of data given under it is denied (I10)",
                         description="Marks every provenance label stored under the consent reference as withdrawn "
                                     "(AVG art. 7(3)). From then on every read of that data is denied (rule I10), "
                                     "except to the FG for verantwoording. The withdrawal is recorded, one record "
                                     "per data subject. An unknown reference is an error (exit 2); withdrawing "
                                     "twice is harmless.")
    cr.add_argument("--toestemming", required=True, metavar="REF",
                    help="the consent reference (X-Herkomst toestemming)")
    cr.add_argument("--door", default=None, help="who withdraws it on the data subject's behalf (recorded; default: "
                                                 "the login name)")
    _records_source(cr)
    from sidecar.pseudonyms import add_parser as add_pseudonyms_parser

    add_pseudonyms_parser(sub)
    e = sub.add_parser(
        "explain", help="show the OPA input and decision for a request (no upstream call)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Builds the OPA input exactly as the sidecar would and prints it with the decision and the\n"
                    "rules that fired, for the request phase and (with --object or --category) the response\n"
                    "phase. Evaluates with 'opa eval' on the policies folder unless --opa-url is given.\n\n"
                    "Example:\n"
                    "  sidecar explain --method GET --path /documenten/api/v1/enkelvoudiginformatieobjecten/\\\n"
                    "      4f0d6a1e-8c1b-4e5a-9d55-0c2f3b7a1e01 --role consulent --org gemeente-demo \\\n"
                    "      --header 'X-Doelbinding: onderzoek_hulpvraag' --category medisch\n\n"
                    "A JSON file (--file) holds the same: {method, path, headers, claims:{sub,role,org,secrecy},\n"
                    "body, object, category, labels, relation}; flags override it.")
    e.add_argument("--file", type=Path, help="request description as JSON")
    e.add_argument("--method", help="HTTP method (default GET)")
    e.add_argument("--path", help="request path with query, e.g. /zaken/api/v1/zaken")
    e.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'", help="a request header")
    e.add_argument("--sub", help="claim sub")
    e.add_argument("--role", help="claim role")
    e.add_argument("--org", help="claim org (default: the first controlling organisation)")
    e.add_argument("--secrecy", choices=["wettelijk", "beroepscode", "geen"], help="claim secrecy")
    e.add_argument("--body", help="request body (JSON text or @FILE), for creates")
    e.add_argument("--object", help="the upstream object (JSON text or @FILE), for the response phase")
    e.add_argument("--category", help="the object's category, for the response phase (instead of --object)")
    e.add_argument("--labels", help="stored provenance labels (JSON text or @FILE)")
    e.add_argument("--relation", help="the caller's relation to the object's zaken (need-to-know), as JSON: "
                                      "kinds (list), zaken (list of uuids), writer (bool)")
    e.add_argument("--profile", help="policy profile (default: the config's, else knmg)")
    e.add_argument("--policies", type=Path, default=None, help="policy folder for opa eval (default: ./policies)")
    e.add_argument("--opa-url", help="ask a running OPA instead of opa eval")
    _records_source(e)

    pr = sub.add_parser("profiles", help="policy profiles: diff two on the test cases, check for errors")
    prs = pr.add_subparsers(dest="profiles_cmd", required=True, metavar="SUBCOMMAND")
    diff = prs.add_parser("diff", help="cases whose outcome differs between profiles A and B",
                          description="Runs every case of policies/testdata/cases under both profiles and prints "
                                      "those whose outcome (allow/deny, obligations) differs, with the rule ids.")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.add_argument("--policies", type=Path, default=None, help="policy folder (default: ./policies)")
    diff.add_argument("--json", action="store_true", help="print JSON instead of a table")
    chk = prs.add_parser("check", help="validate every profile (missing, unknown or mistyped switches)")
    chk.add_argument("--policies", type=Path, default=None, help="policy folder (default: ./policies)")
    return p


def _json_arg(value: str | None) -> Any:
    if value is None:
        return None
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    return json.loads(text)


def _policies_dir(arg: Path | None) -> Path:
    from sidecar.devtools.demo import REPO_ROOT

    for cand in (arg, Path.cwd() / "policies", REPO_ROOT / "policies"):
        if cand is not None and (cand / "wams").is_dir():
            return cand
    print("sidecar: no policy folder found; pass --policies DIR", file=sys.stderr)
    raise SystemExit(2)


def cmd_explain(args: argparse.Namespace) -> int:
    from sidecar.devtools.demo import DEFAULT_WORKDIR, find_opa
    from sidecar.explain import Evaluator, ExplainError, explain, local_evaluator
    from sidecar.herkomst import HerkomstError
    from sidecar.routes import DEFAULT_ROUTES
    from sidecar.settings import CatalogueSettings

    req: dict[str, Any] = json.loads(args.file.read_text()) if args.file else {}
    for key in ("method", "path"):
        if getattr(args, key):
            req[key] = getattr(args, key)
    if args.header:
        req["headers"] = [*(f"{k}: {v}" for k, v in (req.get("headers") or {}).items()), *args.header]
    for key, value in (("body", args.body), ("object", args.object), ("labels", args.labels),
                       ("relation", args.relation)):
        if value is not None:
            req[key] = _json_arg(value)
    if args.category:
        req["category"] = args.category
    config = args.config or ((args.workdir or DEFAULT_WORKDIR) / "config.yaml")
    settings = _load(config) if (args.config or config.exists()) else None
    controlling = settings.controlling_orgs if settings else ["gemeente-demo"]
    claims = dict(req.get("claims") or {})
    for key in ("sub", "role", "org", "secrecy"):
        if getattr(args, key):
            claims[key] = getattr(args, key)
    claims.setdefault("org", controlling[0])
    req["claims"] = claims
    profile = args.profile or (settings.policy.profile if settings else "knmg")
    evaluate: Evaluator
    if args.opa_url:
        from sidecar.opa import OpaClient
        from sidecar.settings import OpaSettings

        client = OpaClient(OpaSettings(url=args.opa_url))

        def remote(doc: dict[str, Any]) -> Any:
            return client.query("wams/authz/decision", doc)

        evaluate = remote
    else:
        evaluate = local_evaluator(find_opa(), _policies_dir(args.policies))
    try:
        out = explain(req, routes=settings.routes if settings else DEFAULT_ROUTES,
                      catalogue=settings.catalogue if settings else CatalogueSettings(),
                      profile=profile, controlling_orgs=controlling,
                      retention_configured=bool(settings and settings.coordination_retention_days),
                      evaluate=evaluate)
    except (ExplainError, HerkomstError, ValueError) as exc:
        print(f"sidecar explain: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def cmd_profiles(args: argparse.Namespace) -> int:
    from sidecar.devtools.demo import find_opa
    from sidecar.explain import ExplainError, profile_errors, profiles_diff

    policies = _policies_dir(args.policies)
    opa = find_opa()
    try:
        if args.profiles_cmd == "check":
            errors = profile_errors(opa, policies)
            bad = {k: v for k, v in errors.items() if v}
            for name in sorted(errors):
                print(f"{name}: {'ok' if not errors[name] else '; '.join(errors[name])}")
            return 1 if bad else 0
        rows = profiles_diff(opa, policies, args.a, args.b)
    except ExplainError as exc:
        print(f"sidecar profiles: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        print(f"no case differs between {args.a} and {args.b}")
        return 0
    width = max(len(r["case"]) for r in rows)
    print(f"{'case'.ljust(width)}  {args.a:<28}  {args.b}")
    for r in rows:
        def cell(d: dict[str, Any]) -> str:
            ob = f" +{','.join(d['obligations'])}" if d["obligations"] else ""
            return f"{d['decision']} {','.join(d['reasons']) or '-'}{ob}"
        print(f"{r['case'].ljust(width)}  {cell(r[args.a]):<28}  {cell(r[args.b])}")
    print(f"\n{len(rows)} case(s) differ")
    return 0


def _records_source(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    from sidecar.devtools.demo import DEFAULT_WORKDIR

    g.add_argument("--workdir", type=Path, default=None, help=f"the demo's folder (default {DEFAULT_WORKDIR})")
    g.add_argument("--config", type=Path, default=None, help="a sidecar config file")


def _load(config: Path) -> Any:
    from sidecar.settings import ConfigError, load_settings

    try:
        return load_settings(config)
    except ConfigError as exc:
        print(f"sidecar: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _settings_for_records(args: argparse.Namespace) -> Any:
    from sidecar.devtools.demo import DEFAULT_WORKDIR

    config = args.config or ((args.workdir or DEFAULT_WORKDIR) / "config.yaml")
    return _load(config)


def _records_file(args: argparse.Namespace) -> Path:
    if args.file is not None:
        return Path(args.file)
    return Path(_settings_for_records(args).records.path)


def _source_files(path: Path, cmd: str) -> list[Path] | None:
    """The files to read for ``path`` (a file or a folder), or None after saying why not."""
    from sidecar.records import records_files

    if not path.exists():
        print(f"sidecar records {cmd}: no records file or folder at {path}", file=sys.stderr)
        return None
    try:
        files = records_files(path)
    except OSError as exc:
        print(f"sidecar records {cmd}: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return None
    if not files:
        print(f"sidecar records {cmd}: no *.jsonl records files in {path}", file=sys.stderr)
        return None
    return files


def _folder_files(folder: Path) -> list[Path] | None:
    """The records files of the configured records folder (none yet is an empty history)."""
    from sidecar.records import records_files

    try:
        return records_files(folder) if folder.is_dir() else []
    except OSError as exc:
        print(f"sidecar records: cannot read {folder}: {exc.strerror or exc}", file=sys.stderr)
        return None


def cmd_verify(args: argparse.Namespace) -> int:
    path = _records_file(args)
    code, records, files, problems = _verify(path)
    if args.metrics_file is not None:
        from sidecar.records_status import write_metrics_file

        try:
            write_metrics_file(args.metrics_file, ok=code == 0, records=records, files=files, problems=problems)
        except OSError as exc:
            print(f"sidecar records verify: cannot write {args.metrics_file}: {exc.strerror or exc}", file=sys.stderr)
            return code or 2
    return code


def _verify(path: Path) -> tuple[int, int, int, int]:
    """Check ``path`` and print what was found; returns (exit code, records, files, problems)."""
    from sidecar.records import GENESIS, VerifyResult, verify
    from sidecar.records_manifest import MANIFEST_SUFFIX, FolderReport, verify_folder

    anchored = path.is_dir() and any(p.suffix in (MANIFEST_SUFFIX, ".jsonl") for p in _listdir(path))
    if anchored:
        # A folder is checked against its manifests (and its files' records against theirs, even
        # when every manifest is gone); with manifests, a folder without *.jsonl files is not empty.
        try:
            report = verify_folder(path)
        except OSError as exc:
            print(f"sidecar records verify: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
            return 2, 0, 0, 1
    else:
        files = _source_files(path, "verify")
        if files is None:
            return 2, 0, 0, 1
        report = FolderReport()
        for file in files:
            try:
                report.results.append((file, verify(file)))
            except OSError as exc:
                report.results.append((file, exc))
    broken = unreadable = 0
    for file, res in report.results:
        if not isinstance(res, VerifyResult):
            print(f"UNREADABLE {file}: {res.strerror or res}")
            unreadable += 1
        elif res.ok:
            # A folder's files are named; one file keeps the one-line answer scripts already parse.
            note = "" if res.first_prev == GENESIS else f", continues from {res.first_prev}"
            print(f"ok: {f'{file}: ' if path.is_dir() else ''}{res.lines} records, chain intact, head {res.head}{note}")
        else:
            broken += 1
            print(f"BROKEN at line {res.line_no} of {file}: {res.error} "
                  f"({res.lines} records before it are intact, last good hash {res.head})")
    for problem in report.problems:
        print(problem)
    problems = broken + unreadable + len(report.problems)
    code = 1 if broken or report.problems else (2 if unreadable else 0)
    return code, report.records, len(report.results), problems


def _listdir(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except OSError:
        return []


def cmd_query(args: argparse.Namespace) -> int:
    """AVG art. 15 (L2) and the FG's view (L1). OPA decides the query like any other access
    (records.rego), and its record is written to the configured records file before anything is
    answered. The file(s) searched are only read."""
    import getpass
    import re

    from sidecar.records import iter_records

    bsn = args.betrokkene.strip()
    if not re.fullmatch(r"[0-9]{9}", bsn):
        print("sidecar: --betrokkene must be a BSN of 9 digits", file=sys.stderr)
        return 2
    if args.config is None:
        from sidecar.devtools.demo import DEFAULT_WORKDIR

        if not ((args.workdir or DEFAULT_WORKDIR) / "config.yaml").exists():
            print("sidecar records query: no configuration: the query is decided by OPA and recorded in the live "
                  "records file of a sidecar configuration before anything is shown; pass --config FILE",
                  file=sys.stderr)
            return 2
    settings = _settings_for_records(args)
    # By default every records file of the live file's folder: each replica's file and the files the
    # sidecar rotated (records.rotate_*), so a person's history does not stop at the last rotation.
    path = Path(args.file) if args.file else Path(settings.records.path).parent
    # Every active key version: records written under an older one are found too; the query's
    # own record names the person under the current one.
    pseudonyms = settings.pseudonymisation.keyring().all(bsn)
    pseudonym, wanted = pseudonyms[0], frozenset(pseudonyms)
    try:
        who = args.door or getpass.getuser()
    except (KeyError, OSError):
        who = "onbekend"
    matches = []
    # Nothing may be recorded yet (no file in the folder); a file or folder named on the command line must exist.
    files = _source_files(path, "query") if args.file else _folder_files(path)
    if files is None:
        return 2
    try:
        for file in files:
            for _, rec, _ in iter_records(file):
                if rec is not None and rec.get("betrokkene") in wanted:
                    matches.append(rec)
    except OSError as exc:
        print(f"sidecar records query: cannot read {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    # Nothing is shown before the query itself is decided and recorded.
    from sidecar.records_access import decide_records_access

    refusal = decide_records_access(settings, pseudonym=pseudonym, who=who, with_employees=args.met_medewerkers)
    if refusal is not None:
        print(f"sidecar: {refusal}", file=sys.stderr)
        return 1
    from sidecar.records_access import access_rows

    for row in access_rows(matches, with_employees=args.met_medewerkers):
        print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sidecar.records import iter_records
    from sidecar.records_export import EXPORTERS, ExportError

    # By default the whole records folder of the configuration (every replica, every rotated file).
    files = _source_files(Path(args.file) if args.file is not None
                          else Path(_settings_for_records(args).records.path).parent, "export")
    if files is None:
        return 2
    convert = EXPORTERS[args.export_format]
    bad = 0
    out = sys.stdout
    try:
        for file in files:
            for n, rec, _ in iter_records(file):
                try:
                    if rec is None:
                        raise ExportError("not a JSON object")
                    line = json.dumps(convert(rec), ensure_ascii=False, separators=(",", ":"))
                except ExportError as exc:
                    print(f"sidecar records export: {file} line {n}: {exc}; skipped", file=sys.stderr)
                    bad += 1
                    continue
                out.write(line + "\n")
    except OSError as exc:
        print(f"sidecar records export: cannot read {exc.filename}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 1 if bad else 0


def cmd_consent_revoke(args: argparse.Namespace) -> int:
    import getpass
    import time
    import uuid

    from sidecar.labels import LabelStoreError, open_label_store
    from sidecar.opa_input import now_rfc3339
    from sidecar.records import RecordWriteError, RecordWriter, build_record
    from sidecar.tracing import from_header

    ref = args.toestemming.strip()
    if not ref or len(ref) > 128:
        print("sidecar: --toestemming must be a consent reference of 1 to 128 characters", file=sys.stderr)
        return 2
    settings = _settings_for_records(args)
    try:
        who = args.door or getpass.getuser()
    except (KeyError, OSError):
        who = "onbekend"
    try:
        count, subjects = open_label_store(settings.labels.dsn).withdraw_consent(ref)
    except LabelStoreError as exc:
        print(f"sidecar: the consent could not be withdrawn: {exc}", file=sys.stderr)
        return 1
    if count == 0:
        print(f"sidecar: no data was stored under consent {ref!r}; nothing withdrawn", file=sys.stderr)
        return 2
    trace = from_header(None)
    org = settings.controlling_orgs[0] if settings.controlling_orgs else None
    now, decision_id, started = now_rfc3339(), str(uuid.uuid4()), time.perf_counter()
    per_subject: list[str | None] = [*subjects] or [None]
    records = [build_record(time=now, decision_id=decision_id, trace_id=trace.trace_id, span_id=trace.span_id,
                            phase="request", allow=True, enforced=True, status=None,
                            subject={"id": who, "role": None, "org": org}, purpose=None, action="update",
                            resource={"type": "toestemming", "id": ref, "properties": {}},
                            resource_type="toestemming", betrokkene=b, decision=None, reasons=["I10"],
                            profile=settings.policy.profile, duration_s=time.perf_counter() - started)
               for b in per_subject]
    writer = RecordWriter.for_settings(settings.records)
    try:
        writer.write_many(records)
    except RecordWriteError as exc:
        # The labels are already marked (the stricter state): say so, so that it is recorded by hand.
        print(f"sidecar: consent {ref!r} withdrawn for {count} object(s), but the withdrawal could not be "
              f"recorded: {exc}", file=sys.stderr)
        return 1
    finally:
        writer.close()
    print(f"ok: consent {ref!r} withdrawn for {count} object(s); recorded as {decision_id}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from sidecar.devtools.keys import DEMO_AUDIENCE, DEMO_ISSUER, DEMO_ORG, key_paths, mint

    priv, _ = key_paths(args.workdir)
    if not priv.exists():
        print(f"sidecar: no demo signing key at {priv}; start 'sidecar demo --workdir {args.workdir}' "
              "once to create it", file=sys.stderr)
        return 2
    issuer, audience, org = DEMO_ISSUER, DEMO_AUDIENCE, DEMO_ORG
    cfg_path = args.workdir / "config.yaml"
    if cfg_path.exists():
        import yaml

        cfg = yaml.safe_load(cfg_path.read_text()) or {}
        issuer = cfg.get("jwt", {}).get("issuer", issuer)
        audience = cfg.get("jwt", {}).get("audience", audience)
        org = (cfg.get("controlling_orgs") or [org])[0]
    if args.ttl <= 0:
        print("sidecar: --ttl must be positive", file=sys.stderr)
        return 2
    teams = [t.strip() for t in args.teams.split(",") if t.strip()] if args.teams else None
    print(mint(args.workdir, sub=args.sub, role=args.role, org=args.org or org, secrecy=args.secrecy,
               ttl=args.ttl, issuer=issuer, audience=audience, extra={"teams": teams} if teams else None))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "serve":
        settings = _load(args.config)
        problems = settings.serve_problems()
        if problems:
            for problem in problems:
                print(f"sidecar: {args.config}: {problem}", file=sys.stderr)
            return 2
        if args.check:
            print(f"ok: {args.config} is valid")
            return 0
        from sidecar.serve import serve

        return serve(settings)
    if args.cmd == "demo":
        from sidecar.devtools.demo import run_demo

        return run_demo(args.workdir, args.profile)
    if args.cmd == "token":
        return cmd_token(args)
    if args.cmd == "records":
        return {"verify": cmd_verify, "query": cmd_query, "export": cmd_export}[args.records_cmd](args)
    if args.cmd == "consent":
        return cmd_consent_revoke(args)
    if args.cmd == "pseudonyms":
        from sidecar.pseudonyms import main as pseudonyms_main

        return pseudonyms_main(args)
    if args.cmd == "explain":
        return cmd_explain(args)
    if args.cmd == "profiles":
        return cmd_profiles(args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
