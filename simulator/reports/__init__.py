"""Reports a technician runs on the record: the access-audit report and its rules (pure functions)."""
