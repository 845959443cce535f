"""What the console's pages say, per area: each module holds ``VI`` and ``EN`` with the same keys
(tests/console/test_messages.py checks it, and that every key a template or page uses exists)."""
