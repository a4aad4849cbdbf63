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
