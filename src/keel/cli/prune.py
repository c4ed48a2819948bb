"""``keel prune``: delete the records older than ``storage.retention`` keeps, once, now."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from keel.cli.common import ConfigOpt, config_path, folding_table, load, out, run
from keel.store.retention import RetentionConfig, count_expired, prune
from keel.store.sql import open_database


def prune_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Rows by kind as JSON")] = False,
    config: ConfigOpt = None,
) -> None:
    """Delete what is older than `storage.retention` allows (running gateways also do it every hour)."""
    cfg = load(config_path(config))
    retention = cfg.raw.storage.retention
    if not retention.limits():
        out.print("storage.retention sets no limits: every record is kept; nothing to prune", highlight=False)
        return

    async def go(retention: RetentionConfig) -> dict[str, int]:
        db = await open_database(cfg.raw.storage.database_url, schema=cfg.raw.storage.database_schema)
        try:
            now = time.time()
            return await (count_expired if dry_run else prune)(db, retention, now)
        finally:
            await db.aclose()

    rows = run(go(retention))
    if as_json:
        typer.echo(json.dumps({"dry_run": dry_run, "rows": rows}, indent=2))
        return
    table = folding_table("kind", "keep (days)", "would delete" if dry_run else "deleted")
    limits = retention.limits()
    for kind, count in rows.items():
        table.add_row(kind, f"{limits[kind]:g}", str(count))
    out.print(table)
