"""Data sources business rules check values against: a CSV file, a SQL query, an HTTP endpoint.

engines = SqlEngines()                              # one per process; await engines.aclose() at shutdown
source = build_source(config, base_dir=config_dir, session=session, engines=engines, clock=SystemClock())
present = await source.contains(["SKU-1", "SKU-9"])  # {"SKU-1": True, "SKU-9": False}
"""

from __future__ import annotations

from keel.guards.validators.sources.base import DataSource, SourceUnavailable
from keel.guards.validators.sources.build import build_source
from keel.guards.validators.sources.cache import CachedSource
from keel.guards.validators.sources.config import (
    CsvSourceConfig,
    CsvWhere,
    HttpSourceConfig,
    PresentWhen,
    SourceConfig,
    SqlSourceConfig,
)
from keel.guards.validators.sources.csv_file import CsvSource
from keel.guards.validators.sources.http import HttpSource
from keel.guards.validators.sources.sql import SqlEngines, SqlSource

__all__ = [
    "CachedSource",
    "CsvSource",
    "CsvSourceConfig",
    "CsvWhere",
    "DataSource",
    "HttpSource",
    "HttpSourceConfig",
    "PresentWhen",
    "SourceConfig",
    "SourceUnavailable",
    "SqlEngines",
    "SqlSource",
    "SqlSourceConfig",
    "build_source",
]
