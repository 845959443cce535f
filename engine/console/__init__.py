"""The web console: server-rendered pages over the application layer, at /console of `eiso serve`."""
