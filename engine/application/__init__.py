"""The application layer: the use cases that the CLI, the API and the worker (later the web console) call.

One module a use case: ``ingest`` (``CaseService``), ``watch``, ``procedures`` (deploy then retry
parked events; retire), ``corrective`` (a corrective-action step of ISO 9001 clause 10.2) and
``apology`` (Form 04). Adapters only translate their input to a call and the result back.
"""
