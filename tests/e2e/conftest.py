"""The end-to-end tests' one real Prefect server (both modules run on one worker, as the
`e2e` xdist group): a second `prefect server start` cost 10-15 s of the suite."""

import pytest

from tests.helpers import fresh_prefect_home, start_prefect_server


@pytest.fixture(scope="session")
def e2e_server(tmp_path_factory, prefect_server):
    """`prefect server start` on loopback with a home of its own, its database migrated
    ahead (it starts without migrating); yields (environment, API URL, home)."""
    home = fresh_prefect_home(tmp_path_factory.mktemp("prefect-e2e"))
    with start_prefect_server(home) as (env, api):
        yield env, api, home
