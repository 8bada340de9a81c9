"""Dataloaders: one class per relation, created per request by the `Loaders` registry.

Loaders only read. Most return models; the variants (with their stock summed) and the images, which
a listing reads by the hundred, come as rows (`models.sql.Row`), read by column name.

aiodataloader binds the running event loop when a loader is constructed, so a registry must be
created inside the request (on WebSockets: per operation).
"""

from loaders.registry import Loaders

__all__ = ["Loaders"]
