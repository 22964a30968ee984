"""hitsim: a training simulator for health information technicians."""

__version__ = "0.1.0"
