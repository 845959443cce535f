"""Replaying an agency's past dossiers (``eiso history import``): read an event log, map it, apply it.

``log`` (the trace model and the problems), ``mapping`` (columns and activities, from TOML),
``xes`` and ``table`` (the streaming readers), ``replay`` (a trace as contract events),
``suggest`` (a proposed activity map) and ``importing`` (the use case).
"""
