"""The console's pages, one module per area; each holds a ``router`` with paths under /console."""
