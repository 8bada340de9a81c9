"""Whether to trace, read from OpenTelemetry's standard `OTEL_*` variables, without importing it.

Tracing is on when the environment names a trace exporter (`OTEL_TRACES_EXPORTER`) or an OTLP
endpoint (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), unless
`OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. Otherwise nothing of OpenTelemetry is
imported or installed, and a request costs what it cost before. The SDK reads the other variables
itself (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`,
`OTEL_EXPORTER_OTLP_HEADERS`, …); gateway/otel.py sets up what this module decides.

Exporters are found the way the SDK's own auto-configuration finds them: by name, among the
installed packages' `opentelemetry_traces_exporter` entry points, `otlp` standing for the OTLP
exporter of the chosen protocol. A name nothing installs stops start-up with one line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from gateway.settings import ConfigError

if TYPE_CHECKING:
    from gateway.otel import Tracing

EXPORTER_GROUP = "opentelemetry_traces_exporter"  # where OpenTelemetry packages register exporters
_OTLP_BY_PROTOCOL = {"http/protobuf": "otlp_proto_http", "grpc": "otlp_proto_grpc"}
_INSTALL = "pip install 'commerce-gateway[otel]'"


def requested(env: Mapping[str, str]) -> bool:
    """Whether the environment asks for traces; raises ConfigError on a value that cannot be used."""
    disabled = env.get("OTEL_SDK_DISABLED", "").strip().lower()
    if disabled not in ("", "true", "false"):
        raise ConfigError(f"OTEL_SDK_DISABLED: expected true or false, got {env['OTEL_SDK_DISABLED']!r}")
    names = _names(env)
    if disabled == "true" or names == ["none"]:
        return False
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not names and not endpoint:
        return False
    exporters(env)  # checked now, so a bad value stops start-up rather than the first export
    return True


def exporters(env: Mapping[str, str]) -> list[EntryPoint]:
    """The installed exporters the environment names (OTLP alone when only an endpoint is set)."""
    names = _names(env) or ["otlp"]
    if "none" in names:
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER: none cannot be combined with exporters, got {env['OTEL_TRACES_EXPORTER']!r}"
        )
    installed = {point.name: point for point in entry_points(group=EXPORTER_GROUP)}
    chosen = []
    for name in names:
        variable = "OTEL_TRACES_EXPORTER"
        if name == "otlp":
            variable, protocol = _otlp_protocol(env)
            name = _OTLP_BY_PROTOCOL[protocol]
        if name not in installed:
            if not installed:
                raise ConfigError(f"{variable}: tracing needs OpenTelemetry, which is not installed: {_INSTALL}")
            raise ConfigError(
                f"{variable}: no installed exporter is called {name!r} (installed: {', '.join(sorted(installed))})"
            )
        chosen.append(installed[name])
    return chosen


def from_environment(env: Mapping[str, str] | None = None) -> Tracing | None:
    """The process's tracing as the environment configures it, or None when it asks for none."""
    env = os.environ if env is None else env
    if not requested(env):
        return None
    from gateway.otel import Tracing  # only now: a gateway that does not trace never imports it

    return Tracing.from_exporters(exporters(env))


def _names(env: Mapping[str, str]) -> list[str]:
    return [name.strip().lower() for name in env.get("OTEL_TRACES_EXPORTER", "").split(",") if name.strip()]


def _otlp_protocol(env: Mapping[str, str]) -> tuple[str, str]:
    """The OTLP protocol (the traces' own variable first) and the variable that chose it."""
    variable = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
    if not env.get(variable):
        variable = "OTEL_EXPORTER_OTLP_PROTOCOL"
    protocol = (env.get(variable) or "http/protobuf").strip().lower()
    if protocol not in _OTLP_BY_PROTOCOL:
        raise ConfigError(f"{variable}: expected one of {', '.join(_OTLP_BY_PROTOCOL)}, got {protocol!r}")
    return variable, protocol
