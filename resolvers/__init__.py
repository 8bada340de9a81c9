"""What each operation does: the domain decisions. Never imports `schema/`."""
