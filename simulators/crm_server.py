"""Start the CRM simulators (HubSpot, Salesforce) on loopback ports, like start_simulators."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

from simulators.crm_common import CrmSimState
from simulators.crm_hubspot import DEFAULT_HUBSPOT_TOKEN, create_hubspot_app
from simulators.crm_salesforce import DEFAULT_SALESFORCE_TOKEN, create_salesforce_app
from simulators.server import LOOPBACK, SimulatorServer

# The properties a fresh portal has beside our own (which tests add with `writable`).
HUBSPOT_FIELDS = frozenset({"name", "domain", "industry", "city"})
SALESFORCE_FIELDS = frozenset({"Name", "Website", "Industry", "OwnerId"})


class CrmSimulators:
    """The running CRM simulators: their base URLs and states."""

    def __init__(self, servers: dict[str, SimulatorServer]) -> None:
        self._servers = servers
        self.hubspot: CrmSimState = servers["hubspot"].state  # type: ignore[assignment]
        self.hubspot_url = servers["hubspot"].root_url
        self.salesforce: CrmSimState = servers["salesforce"].state  # type: ignore[assignment]
        self.salesforce_url = servers["salesforce"].root_url  # the instance URL

    def reset(self) -> None:
        """No records, faults or requests."""
        for server in self._servers.values():
            server.state.reset()

    def stop(self) -> None:
        for server in self._servers.values():
            server.request_stop()
        for server in self._servers.values():
            server.stop()

    def __enter__(self) -> CrmSimulators:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_crm_simulators(
    hubspot_tokens: Iterable[str] = (DEFAULT_HUBSPOT_TOKEN,),
    hubspot_fields: Iterable[str] = HUBSPOT_FIELDS,
    salesforce_tokens: Iterable[str] = (DEFAULT_SALESFORCE_TOKEN,),
    salesforce_fields: Iterable[str] = SALESFORCE_FIELDS,
    host: str = LOOPBACK,
) -> CrmSimulators:
    """Start both CRM simulators (any free ports); `*_fields` are the fields writes may name."""
    hubspot = CrmSimState(frozenset(hubspot_tokens), frozenset(hubspot_fields))
    salesforce = CrmSimState(frozenset(salesforce_tokens), frozenset(salesforce_fields))
    servers = {
        "hubspot": SimulatorServer(create_hubspot_app(hubspot), hubspot, "hubspot", host),  # type: ignore[arg-type]
        "salesforce": SimulatorServer(
            create_salesforce_app(salesforce),
            salesforce,  # type: ignore[arg-type]
            "salesforce",
            host,
        ),
    }
    started: list[SimulatorServer] = []
    try:
        for server in servers.values():
            server.start()
            started.append(server)
    except Exception:
        for server in started:
            server.stop()
        raise
    return CrmSimulators(servers)


def main() -> int:
    """`python -m simulators.crm_server`: both CRM simulators, with our default fields, on
    free loopback ports until Ctrl-C (try `territory crm push` without a CRM)."""
    from domain.crm import load_mapping
    from simulators.server import _serve_until_interrupted

    hubspot = HUBSPOT_FIELDS | set(load_mapping("hubspot").property_names)
    salesforce = SALESFORCE_FIELDS | set(load_mapping("salesforce").property_names)
    sims = start_crm_simulators(hubspot_fields=hubspot, salesforce_fields=salesforce)
    print(f"HubSpot simulator:    HUBSPOT_BASE_URL={sims.hubspot_url} "
          f"HUBSPOT_ACCESS_TOKEN={DEFAULT_HUBSPOT_TOKEN}")  # fmt: skip
    print(f"Salesforce simulator: SALESFORCE_INSTANCE_URL={sims.salesforce_url} "
          f"SALESFORCE_ACCESS_TOKEN={DEFAULT_SALESFORCE_TOKEN}")  # fmt: skip
    print("No records yet: a push reports every company unmatched, or creates them with "
          "--create-missing. Press Ctrl-C to stop.", flush=True)  # fmt: skip
    _serve_until_interrupted(sims)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
