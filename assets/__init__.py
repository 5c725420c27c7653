"""Software-defined assets, one package per flow; each exposes its own ``defs``."""
