"""The rules a code must pass before it goes on a claim: harmless forms are normalised, the rest refused with a reason."""

from __future__ import annotations

import csv
import gzip
import io
import re
import tomllib
from functools import cache
from importlib import resources

from simulator.coding.encoder import ICD10CM_RELEASE, Encoder, Hit


class CodeError(ValueError):
    """A code that cannot go on the claim; the message says why and what to do."""


_ICD = re.compile(r"^([A-Z])(\d)([0-9A-Z])\.?([0-9A-Z]{0,4})$")
_CPT = re.compile(r"^\d{4}[0-9FTU]$")
_HCPCS = re.compile(r"^[A-V]\d{4}$")


def normalise_icd(raw: str) -> str:
    """'e1122' -> 'E11.22'; raises CodeError for what cannot be an ICD-10-CM code (E11.2.2)."""
    text = (raw or "").strip().upper().replace(" ", "")
    match = _ICD.match(text)
    if not match or text.count(".") > 1:
        raise CodeError(f"{raw.strip()} is not an ICD-10-CM code; they look like I10, E11.22 or S52.531A")
    head = "".join(match.groups()[:3])
    return f"{head}.{match.group(4)}" if match.group(4) else head


def check_diagnosis(encoder: Encoder, raw: str) -> Hit:
    code = normalise_icd(raw)
    hit = encoder.lookup(code)
    if hit is None or hit.system != "ICD-10-CM":
        raise CodeError(f"{code} is not a code in {ICD10CM_RELEASE}")
    if not hit.billable:
        below = [c for c, _t, billable in encoder.page(code)["children"]][:4]
        hint = f" (e.g. {', '.join(below)})" if below else ""
        raise CodeError(f"{code} is a category header, not billable: pick a more specific code below it{hint}")
    return hit


def check_service(encoder: Encoder, raw: str) -> Hit:
    code = (raw or "").strip().upper()
    if not (_CPT.match(code) or _HCPCS.match(code)):
        raise CodeError(f"{raw.strip()} is not a CPT or HCPCS code; CPT codes are 5 digits (99213), "
                        "HCPCS codes a letter and 4 digits (J1885)")
    hit = encoder.lookup(code)
    if hit is None:
        raise CodeError(f"{code} is not in hitsim's code list (CPT numbers of the catalog, HCPCS October 2025)")
    if not hit.billable:
        raise CodeError(f"{code} was terminated and cannot be billed")
    return hit


MODIFIER = re.compile(r"^[0-9A-Z]{2}$")


@cache
def modifiers() -> dict[str, str]:
    """Every modifier a claim line may carry: CPT modifier numbers (hitsim's own words, no AMA text) and the HCPCS
    Level II modifiers of the CMS October 2025 file that are not terminated (CMS's words)."""
    text = gzip.decompress(resources.files("simulator.coding").joinpath("data/hcpcs-modifiers-2025-oct.csv.gz")
                           .read_bytes()).decode("utf-8")
    out = {row["modifier"]: row["long_description"] for row in csv.DictReader(io.StringIO(text))
           if not row["termination_date"]}
    cpt = tomllib.loads(resources.files("simulator.coding").joinpath("data/cpt_modifiers.toml").read_text("utf-8"))
    return out | cpt


def check_modifier(raw: str) -> str:
    code = (raw or "").strip().upper()
    if not MODIFIER.match(code):
        raise CodeError(f"{raw.strip()} is not a modifier; modifiers are 2 characters, e.g. 25 or RT")
    if code not in modifiers():
        raise CodeError(f"{code} is not a CPT or HCPCS modifier in use (October 2025); e.g. 25, 59, 26, TC, RT, LT, XS")
    return code
