"""The access-audit trail: every access to a patient's record becomes a FHIR AuditEvent, written through
one service (``simulator.audit.trail``), append-only and hash-chained; plus the planted history of the
access-audit exercise (``simulator.audit.planted``)."""
