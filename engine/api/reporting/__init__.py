"""Reports for leaders, management reviews and audits, scoped to the caller's agencies."""
