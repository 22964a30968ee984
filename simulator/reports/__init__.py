"""Reports a technician runs over the record: access audit and consistency (their rules live here too)."""
