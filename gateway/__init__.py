"""Composition root: settings, database, HTTP app and command line of the commerce gateway."""
