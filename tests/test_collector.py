"""A serving process's cyclic collector (decision 0128): young collections rare, full ones
rarer, and what survived a full collection never walked again by the next."""

import gc

from fastapi.testclient import TestClient

from app import serving


def test_a_serving_process_walks_what_survived_a_full_collection_once(client: TestClient) -> None:
    # The app started (the client's lifespan): its thresholds are the service's.
    assert gc.get_threshold() == serving.COLLECTOR_THRESHOLDS
    survivor: list[object] = []
    survivor.append(survivor)  # a cycle, still referenced: it survives
    frozen = gc.get_freeze_count()
    gc.collect()
    assert gc.get_freeze_count() > frozen
    assert not any(o is survivor for o in gc.get_objects())
    # Garbage is still collected: a cycle nobody references is gone at the next collection.
    garbage: list[object] = []
    garbage.append(garbage)
    del garbage
    assert gc.collect() >= 1
