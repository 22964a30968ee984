"""The EHR the student types into: each form section, its fields, their rules, and how a form row
becomes a FHIR resource (and back). Pages render these specs; services apply them."""
