"""``hitsim``: the command line. Each command is a thin call into the same services the web app uses."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
MAX_SEED = 2**63 - 1  # seeds are stored as signed 64-bit integers
MAX_LIMIT = 1000


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"hitsim: {message}", file=sys.stderr)
    return code


class _Stop(Exception):
    """Ends a command early with an exit code; the message was already printed."""

    def __init__(self, code: int):
        self.code = code


def _settings_and_store():  # type: ignore[no-untyped-def]
    """The configured settings and the migrated database, or a clear message naming the setting to change."""
    from simulator.config import ConfigError, Settings
    from simulator.store import StoreError, open_store

    try:
        settings = Settings.from_env().ensure_data_dir()
        return settings, open_store(settings.database_url, seed_secret=settings.seed_secret)
    except (ConfigError, StoreError) as exc:
        raise _Stop(_fail(str(exc))) from None


def cmd_generate(args: argparse.Namespace) -> int:
    from simulator.generate import ScenarioError, generate_case, load_scenario
    from simulator.generate.case_files import case_files

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        return _fail(str(exc))
    seed = scenario.default_seed if args.seed is None else args.seed
    if not 0 <= seed <= MAX_SEED:
        return _fail(f"--seed {seed}: expected a whole number from 0 to {MAX_SEED}")
    if not args.out.strip():
        return _fail("--out: expected a directory name, got an empty one")
    files = case_files(generate_case(scenario, seed)).files
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return _fail(f"--out {out}: exists and is not a directory")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    # Write every file under a temporary name first, then rename: a failure leaves nothing half-written.
    staged: list[tuple[Path, Path]] = []
    umask = os.umask(0)
    os.umask(umask)
    try:
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes owner-only files; give the usual permissions
            staged.append((Path(tmp), out / name))
        for tmp, final in staged:
            os.replace(tmp, final)
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        if created:
            try:
                out.rmdir()
            except OSError:
                pass
        return _fail(f"could not write to {out}: {exc.strerror}")
    for name in files:
        print(out / name)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from simulator.fhir.validation import validate_file

    problems = 0
    for name in args.files:
        lines = validate_file(Path(name))
        for line in lines:
            print(line)
        problems += len(lines)
    if problems:
        print(f"{problems} problem{'s' if problems != 1 else ''} in {len(args.files)} file(s)", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"{len(args.files)} file(s) valid FHIR R4")
    return EXIT_OK


def cmd_grade(args: argparse.Namespace) -> int:
    import json

    from grading import GradeReport, RubricError, default_rubric, grade, load_rubric
    from simulator.fhir.validation import NotFhirJson, load_json_file
    from simulator.services.cases import grade_case

    documents = {}
    for role, name in (("key", args.key), ("submission", args.submission)):
        try:
            doc = load_json_file(Path(name))
        except NotFhirJson as exc:
            return _fail(f"{role}: {exc}")
        if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
            return _fail(f"{role}: {name}: not FHIR: expected a Bundle (a JSON object with resourceType 'Bundle')")
        documents[role] = doc
    if documents["key"].get("resourceType") != "Bundle":
        return _fail(f"key: {args.key}: expected an answer-key Bundle, got a {documents['key']['resourceType']}")
    entries = documents["key"].get("entry")
    if not isinstance(entries, list) or not any(isinstance(e, dict) and isinstance(e.get("resource"), dict)
                                                for e in entries):
        return _fail(f"key: {args.key}: the answer key has no resources to grade against")
    try:
        rubric = load_rubric(args.rubric) if args.rubric else None
    except RubricError as exc:
        return _fail(f"rubric: {exc}")
    case = _case_of_key(documents["key"])  # the app's rubric and planted errors, when the key's scenario is known
    try:
        report: GradeReport = (grade_case(case, documents["submission"], rubric) if case is not None
                               else grade(documents["key"], documents["submission"], rubric or default_rubric()))
    except ValueError as exc:
        return _fail(f"key: {args.key}: {exc}")
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(report.to_text(), end="")
    return EXIT_OK


def _case_of_key(key: dict[str, Any]) -> Any:
    """The generated case a key records (identifier ``scenario:seed``), when that scenario is in the library and
    regenerates this very key; else None (the key is graded with the default rubric)."""
    from simulator.generate import generate_case
    from simulator.generate.scenario import ScenarioError, list_scenario_files, load_scenario

    value = str((key.get("identifier") or {}).get("value", ""))
    slug, _, seed = value.rpartition(":")
    if not slug or not seed.isdigit() or slug not in {p.stem for p in list_scenario_files()}:
        return None
    try:
        case = generate_case(load_scenario(slug), int(seed))
    except ScenarioError:
        return None
    return case if case.key.get("id") == key.get("id") else None


def cmd_scenarios(args: argparse.Namespace) -> int:
    from simulator.generate.scenario import ScenarioError, list_scenario_files, load_scenario

    status = EXIT_OK
    for path in list_scenario_files():
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:
            print(f"{path.stem:<24} INVALID: {exc}")
            status = EXIT_PROBLEMS
            continue
        print(f"{sc.slug:<24} {sc.difficulty:<13} tasks: {', '.join(sc.tasks):<16} {sc.title}")
    return status


def cmd_conditions(args: argparse.Namespace) -> int:
    """The catalog by ICD-10-CM chapter (of each condition's first code), with the scenarios that use it."""
    import simple_icd_10_cm as cm

    from simulator.clinical import load_catalog
    from simulator.generate.scenario import ScenarioError, list_scenario_files, load_scenario

    cat = load_catalog()
    used: dict[str, list[str]] = {}
    for path in list_scenario_files():
        try:
            sc = load_scenario(path)
        except ScenarioError:
            continue
        for key in {*sc.chronic, *sc.acute, *sc.preventive}:
            used.setdefault(key, []).append(sc.slug)
    chapters: dict[int, list[tuple[str, str]]] = {}
    for key, c in cat.conditions.items():
        chapter = cm.get_ancestors(c.variants[0].codes[0])[-1]
        chapters.setdefault(int(chapter), []).append((key, chapter))
    for number in sorted(chapters):
        rows = sorted(chapters[number])
        print(f"Chapter {number}: {cm.get_description(str(number))} — {len(rows)} conditions")
        for key, _ in rows:
            c = cat.conditions[key]
            codes = " / ".join(", ".join(v.codes) for v in c.variants)
            scenarios = ", ".join(sorted(used.get(key, []))) or "no scenario yet"
            print(f"  {key:<32} {c.kind:<10} {codes:<30} {c.variants[0].name}  [{scenarios}]")
        print()
    print(f"{len(cat.conditions)} conditions in {len(chapters)} chapters; {len(cat.services)} services")
    return EXIT_OK


def _prepare_encoder(settings) -> None:  # type: ignore[no-untyped-def]
    """Build the encoder's index before the first student searches (once per data directory, a few seconds)."""
    from simulator.services.coding import encoder_at

    if not settings.encoder_path.exists():
        print("Building the code index (ICD-10-CM, HCPCS, CPT numbers) — once, a few seconds…", flush=True)
    encoder_at(settings.encoder_path)


def cmd_demo(args: argparse.Namespace) -> int:
    from simulator.app import run_app
    from simulator.services.demo import seed_demo

    settings, store = _settings_and_store()
    report = seed_demo(store)
    _prepare_encoder(settings)
    print(report.text(settings), flush=True)
    run_app(settings, store)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from simulator.app import run_app

    settings, store = _settings_and_store()
    _prepare_encoder(settings)
    run_app(settings, store)
    return EXIT_OK


def cmd_reset_password(args: argparse.Namespace) -> int:
    import secrets

    from simulator.services.accounts import reset_password
    from simulator.services.errors import InvalidInput

    _settings, store = _settings_and_store()
    password = secrets.token_urlsafe(12)
    try:
        reset_password(store, username=args.username, password=password)
    except InvalidInput as exc:
        return _fail(str(exc))
    print(f"New password for {args.username}: {password}")
    return EXIT_OK


def cmd_attempt_export(args: argparse.Namespace) -> int:
    import json

    from simulator.audit.trail import COMMAND_LINE
    from simulator.services import workspace
    from simulator.services.accounts import SignedInUser
    from simulator.services.errors import ServiceError

    if args.out is not None and not args.out.strip():
        return _fail("--out: expected a file name, got an empty one")
    _settings, store = _settings_and_store()
    # The command line runs with the database's own authority: an administrator who may read any attempt.
    operator = SignedInUser(id=0, username="hitsim-cli", display_name="command line", role="admin")
    try:
        bundle = workspace.export_bundle(store, user=operator, attempt_id=args.attempt_id, workstation=COMMAND_LINE)
    except ServiceError as exc:
        return _fail(f"attempt {args.attempt_id}: {exc}")
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as exc:
            return _fail(f"--out {args.out}: cannot write: {exc.strerror}")
        print(f"{args.out}: {len(bundle['entry'])} resources")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from simulator.audit.trail import verify_trail

    _settings, store = _settings_and_store()
    result = verify_trail(store)
    print(result.text())
    return EXIT_OK if result.intact else EXIT_PROBLEMS


def cmd_audit_export(args: argparse.Namespace) -> int:
    import datetime as dt

    from simulator.audit.trail import export_trail

    since = None
    if args.since:
        try:
            since = dt.datetime.fromisoformat(args.since.replace("Z", "+00:00"))
        except ValueError:
            return _fail(f"--since {args.since!r}: expected a date or time like 2026-11-01 or 2026-11-01T08:00:00Z")
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
    _settings, store = _settings_and_store()
    if args.out:
        with open(args.out, "w", encoding="utf-8", newline="") as fh:
            count = export_trail(store, fh, since=since, fmt=args.format)
        print(f"{args.out}: {count} audit event{'s' if count != 1 else ''}")
    else:
        count = export_trail(store, sys.stdout, since=since, fmt=args.format)
    if count == 0:
        print("No audit events" + (f" since {args.since}" if args.since else "") + ".", file=sys.stderr)
    return EXIT_OK


def _encoder():  # type: ignore[no-untyped-def]
    from simulator.config import ConfigError, Settings
    from simulator.services.coding import encoder_at

    try:
        settings = Settings.from_env().ensure_data_dir()
    except ConfigError as exc:
        raise _Stop(_fail(str(exc))) from None
    return encoder_at(settings.encoder_path)


def cmd_codes_search(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        return _fail(f"--limit {args.limit}: expected a number from 1 to {MAX_LIMIT}")
    encoder = _encoder()
    if args.index:
        for path, code, see in encoder.alphabetic_index(args.query, args.limit):
            print(f"{code or '-':<9} {path}{f'  (see {see})' if see else ''}")
        return EXIT_OK
    for hit in encoder.search(args.query, args.limit):
        mark = "" if hit.billable else "  [header, not billable]"
        also = f"  + {', '.join(hit.also)} (use additional code)" if hit.also else ""
        print(f"{hit.code:<9} {hit.system:<9} {hit.title}{mark}{also}")
    return EXIT_OK


def cmd_codes_show(args: argparse.Namespace) -> int:
    page = _encoder().page(args.code)
    if page is None:
        return _fail(f"{args.code}: no such code in the encoder (ICD-10-CM, HCPCS, or the catalog's CPT numbers)", EXIT_PROBLEMS)
    print(f"{page['code']}  {page['title']}")
    print(f"{page['system']} · {'billable' if page['billable'] else 'header, not billable'}")
    if page["lay_description"]:
        print("Description written by hitsim in plain words (not the AMA descriptor; see `hitsim codes load-cpt`).")
    for code, title in [*page["parents"], *page.get("sections", [])]:
        print(f"  in {code}  {title}")
    labels = {"inclusion_terms": "Inclusion terms", "includes": "Includes", "excludes1": "Excludes1",
              "excludes2": "Excludes2", "code_first": "Code first", "use_additional_code": "Use additional code",
              "code_also": "Code also", "notes": "Notes"}
    for kind, label in labels.items():
        for text in page["notes"].get(kind, []):
            print(f"{label}: {' '.join(text.split())}")
    if page["seventh_characters"]:
        print("7th characters:")
        for char, meaning in page["seventh_characters"].items():
            print(f"  {char}  {' '.join(meaning.split())}")
    for code, title, billable in page["children"]:
        print(f"  > {code}  {title}{'' if billable else '  [header]'}")
    return EXIT_OK


def cmd_codes_load_cpt(args: argparse.Namespace) -> int:
    from simulator.coding.encoder import CptFileError, load_cpt

    encoder = _encoder()
    try:
        count = load_cpt(encoder.path, Path(args.file))
    except CptFileError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return _fail(f"{args.file}: refused, nothing was loaded ({len(exc.problems)} problem(s))")
    print(f"Loaded {count} licensed CPT descriptors; the encoder and reports now show them.")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hitsim", description="Training simulator for health information technicians.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("generate", help="write a scenario's answer key (key.json) and paper chart (chart.html)")
    p.add_argument("scenario", help="a scenario name (see `hitsim scenarios`) or a path to a scenario TOML file")
    p.add_argument("--seed", type=int, help="the case seed (default: the scenario's seed.default)")
    p.add_argument("--out", required=True, help="directory to write into (created if missing)")
    p.set_defaults(func=cmd_generate)
    p = sub.add_parser("validate", help="check FHIR R4 JSON files: structure and the HL7 invariants")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("grade", help="grade a student's record (FHIR Bundle) against an answer key")
    p.add_argument("--key", required=True, help="the answer key (key.json from `hitsim generate`)")
    p.add_argument("--submission", required=True, help="the student's record, a FHIR Bundle")
    p.add_argument("--rubric", help="a rubric TOML overriding the default points, weights and tolerances")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_grade)
    p = sub.add_parser("scenarios", help="list the scenario library")
    p.set_defaults(func=cmd_scenarios)
    p = sub.add_parser("conditions", help="list the clinical catalog's conditions by ICD-10-CM chapter, with their codes and scenarios")
    p.set_defaults(func=cmd_conditions)
    p = sub.add_parser("demo", help="create demo accounts, a class and an assignment, then start the app")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("codes", help="the encoder: search and show ICD-10-CM, HCPCS and CPT codes")
    codes_sub = p.add_subparsers(dest="codes_command", required=True)
    p = codes_sub.add_parser("search", help="best codes first, one per line, code first")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=15)
    p.add_argument("--index", action="store_true", help="look the term up in the ICD-10-CM Alphabetic Index instead")
    p.set_defaults(func=cmd_codes_search)
    p = codes_sub.add_parser("show", help="a code's page: title, notes, Excludes, 7th characters")
    p.add_argument("code")
    p.set_defaults(func=cmd_codes_show)
    p = codes_sub.add_parser("load-cpt", help="load your institution's licensed CPT descriptors (CSV: code,descriptor)")
    p.add_argument("file")
    p.set_defaults(func=cmd_codes_load_cpt)
    p = sub.add_parser("attempt", help="work with students' attempts")
    attempt_sub = p.add_subparsers(dest="attempt_command", required=True)
    p = attempt_sub.add_parser("export", help="write a student's workspace as a FHIR Bundle (JSON)")
    p.add_argument("attempt_id", type=int)
    p.add_argument("--out", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_attempt_export)
    p = sub.add_parser("audit", help="the access-audit trail: check its hash chain, export it")
    audit_sub = p.add_subparsers(dest="audit_command", required=True)
    p = audit_sub.add_parser("verify", help="check that no audit event was edited, deleted or reordered")
    p.set_defaults(func=cmd_audit_verify)
    p = audit_sub.add_parser("export", help="write the audit trail (FHIR AuditEvents as NDJSON, or CSV)")
    p.add_argument("--since", help="only events recorded at or after this date/time (ISO 8601, UTC when no offset)")
    p.add_argument("--format", choices=("ndjson", "csv"), default="ndjson")
    p.add_argument("--out", help="file to write (default: standard output)")
    p.set_defaults(func=cmd_audit_export)
    p = sub.add_parser("reset-password", help="give an account a new random password (printed once)")
    p.add_argument("username")
    p.set_defaults(func=cmd_reset_password)
    p = sub.add_parser("serve", help="start the app on the configured database")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _Stop as stop:
        return stop.code


if __name__ == "__main__":
    sys.exit(main())
