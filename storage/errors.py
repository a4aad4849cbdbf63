"""The store's errors, phrased as one line for the user."""


class StoreError(Exception):
    """A storage problem, phrased as one line for the user."""


class RunConflictError(StoreError):
    """Another live run is researching the same territory in this database."""
