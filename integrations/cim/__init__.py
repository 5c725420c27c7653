"""ENTSO-E CIM documents at the platform's edge.

The official XSDs are in ``xsd/`` (origin and licence in its SOURCES.md); ``schemas`` parses
untrusted documents safely and validates them.
"""
