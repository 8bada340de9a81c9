"""Dataloaders: one class per relation, created per request by the `Loaders` registry.

Loaders only read: they return models, or for products, variants and images typed rows
(models/rows.py). aiodataloader binds the running event loop when a loader is
constructed, so a registry must be created inside the request (on WebSockets: per operation).
"""

from loaders.registry import Loaders

__all__ = ["Loaders"]
