"""Request and response models of the API; table models never leave through it."""
