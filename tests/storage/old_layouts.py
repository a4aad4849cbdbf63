"""The tables as older schema versions laid them out, for files to migrate."""

from storage.schema import SCHEMA, SEARCHES_TABLE

# Versions 1 to 11 kept a key on searches and a unique index on each results table (version
# 12 took them off: see UNKEYED in storage/schema.py).
_SEARCHES = SEARCHES_TABLE.format(name="searches")
SCHEMA_V11 = SCHEMA.replace(
    _SEARCHES,
    _SEARCHES.replace(
        "    cost_usd        DOUBLE\n",
        "    cost_usd        DOUBLE,\n    PRIMARY KEY (search_key, fetched_at)\n",
    ),
)
KEYED_TABLES = """
CREATE UNIQUE INDEX IF NOT EXISTS company_results_key ON company_results (territory, company_key);
CREATE TABLE IF NOT EXISTS result_history AS SELECT * FROM company_results WHERE false;
CREATE UNIQUE INDEX IF NOT EXISTS result_history_key
    ON result_history (run_id, territory, company_key);
"""
assert SCHEMA_V11 != SCHEMA
