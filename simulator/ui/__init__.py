"""The NiceGUI front end: thin pages that build widgets and call services."""
