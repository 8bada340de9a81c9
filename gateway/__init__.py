"""Composition root: settings, database, HTTP app and command line of the commerce gateway."""

# First of all: whether prometheus_client runs in multi-process mode is decided when it is first
# imported, from the environment this sets (gateway/metrics_dir.py).
from gateway import metrics_dir as metrics_dir
