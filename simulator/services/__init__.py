"""Services: the rules of hitsim (who may do what, in which order). Pages and the CLI call these."""
