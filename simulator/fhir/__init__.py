"""The one place hitsim imports FHIR models: ``fhir.resources`` R4B (FHIR R4-compatible).

Switching FHIR versions is an edit here and nowhere else.
"""

from __future__ import annotations

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.resource import Resource

FHIR_VERSION = "4.0.1"

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
HITSIM = "https://hitsim.org/fhir"
MRN_SYSTEM = f"{HITSIM}/sid/mrn"


def model_class(resource_type: str) -> type[Resource]:
    """The R4B model class for a resource type name; KeyError when FHIR has no such type."""
    try:
        return get_fhir_model_class(resource_type)  # type: ignore[return-value]
    except (KeyError, ValueError) as exc:
        raise KeyError(resource_type) from exc


__all__ = [
    "Bundle",
    "CPT",
    "FHIR_VERSION",
    "HCPCS",
    "HITSIM",
    "ICD10CM",
    "LOINC",
    "MRN_SYSTEM",
    "RXNORM",
    "SNOMED",
    "UCUM",
    "model_class",
]
