"""One behaviour suite, run over LangGraph's InMemoryStore and orchestrator's ChromaStore.

Every test takes the parametrized `store` fixture, so a difference between the two
implementations fails here. (Search without a query returns items in an unspecified order in
both; those tests compare sets.)
"""

from __future__ import annotations

import asyncio

import pytest
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)

FRUIT = {
    "apple": {
        "text": "a crisp red apple from the orchard",
        "kind": "fruit",
        "price": 3,
        "meta": {"origin": "GB"},
    },
    "banana": {
        "text": "a ripe yellow banana",
        "kind": "fruit",
        "price": 1,
        "meta": {"origin": "CO"},
    },
    "kettle": {
        "text": "an electric kettle that boils water",
        "kind": "appliance",
        "price": 25,
        "meta": {"origin": "CN"},
    },
}


def _fill(store: BaseStore, ns: tuple[str, ...] = ("products", "demo")) -> None:
    for key, value in FRUIT.items():
        store.put(ns, key, value)


def test_put_get_roundtrip(store: BaseStore) -> None:
    store.put(("customers", "7", "preferences"), "channel", {"text": "prefers email updates"})
    item = store.get(("customers", "7", "preferences"), "channel")
    assert item is not None
    assert item.value == {"text": "prefers email updates"}
    assert item.key == "channel"
    assert item.namespace == ("customers", "7", "preferences")
    assert item.created_at <= item.updated_at
    assert store.get(("customers", "7", "preferences"), "missing") is None
    assert store.get(("customers", "8", "preferences"), "channel") is None


def test_put_overwrites_and_keeps_value_types(store: BaseStore) -> None:
    ns = ("insights", "pricing")
    store.put(ns, "k", {"text": "v1", "n": 1})
    first = store.get(ns, "k")
    value = {
        "text": "v2",
        "n": 2.5,
        "ok": True,
        "none": None,
        "list": [1, "a"],
        "nested": {"x": [1]},
    }
    store.put(ns, "k", value)
    second = store.get(ns, "k")
    assert first is not None and second is not None
    assert second.value == value
    assert second.updated_at >= first.updated_at


def test_delete(store: BaseStore) -> None:
    ns = ("products", "SKU-1")
    store.put(ns, "note", {"text": "fragile"})
    store.delete(ns, "note")
    assert store.get(ns, "note") is None
    assert store.search(ns) == []
    store.delete(ns, "never-existed")  # deleting nothing is fine


def test_search_by_prefix_without_query(store: BaseStore) -> None:
    _fill(store)
    store.put(("products", "other"), "x", {"text": "elsewhere"})
    store.put(("sales", "WH-MAIN"), "y", {"text": "not a product"})
    keys = {item.key for item in store.search(("products", "demo"))}
    assert keys == {"apple", "banana", "kettle"}
    assert {item.key for item in store.search(("products",))} == {"apple", "banana", "kettle", "x"}
    assert len(store.search(())) == 5
    assert all(item.score is None for item in store.search(("products",)))


def test_search_filters(store: BaseStore) -> None:
    _fill(store)
    ns = ("products",)
    assert {i.key for i in store.search(ns, filter={"kind": "fruit"})} == {"apple", "banana"}
    assert {i.key for i in store.search(ns, filter={"price": {"$gt": 2}})} == {"apple", "kettle"}
    assert {i.key for i in store.search(ns, filter={"price": {"$gte": 1, "$lt": 3}})} == {"banana"}
    assert {i.key for i in store.search(ns, filter={"kind": {"$ne": "fruit"}})} == {"kettle"}
    assert {i.key for i in store.search(ns, filter={"meta": {"origin": "GB"}})} == {"apple"}
    assert {i.key for i in store.search(ns, filter={"kind": "fruit", "price": 1})} == {"banana"}
    assert store.search(ns, filter={"kind": "vegetable"}) == []


def test_search_limit_and_offset(store: BaseStore) -> None:
    ns = ("sales", "WH-MAIN")
    for i in range(7):
        store.put(ns, f"k{i}", {"text": f"note {i}"})
    first = store.search(ns, limit=3)
    rest = store.search(ns, limit=10, offset=3)
    assert len(first) == 3 and len(rest) == 4
    assert {i.key for i in first} | {i.key for i in rest} == {f"k{i}" for i in range(7)}


def test_semantic_search_ranks_by_similarity(store: BaseStore) -> None:
    _fill(store)
    hits = store.search(("products",), query="yellow banana", limit=3)
    assert hits[0].key == "banana"
    assert all(hit.score is not None for hit in hits)
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
    assert store.search(("products",), query="boils water", limit=1)[0].key == "kettle"


def test_semantic_search_with_filter_and_offset(store: BaseStore) -> None:
    _fill(store)
    hits = store.search(("products",), query="electric kettle", filter={"kind": "fruit"}, limit=5)
    assert {hit.key for hit in hits} == {"apple", "banana"}
    page = store.search(("products",), query="yellow banana", limit=1, offset=1)
    assert len(page) == 1 and page[0].key != "banana"


def test_unindexed_items_come_after_scored_ones(store: BaseStore) -> None:
    ns = ("products", "demo")
    store.put(ns, "apple", FRUIT["apple"])
    store.put(ns, "secret", {"text": "a crisp red apple"}, index=False)
    hits = store.search(ns, query="crisp red apple", limit=5)
    assert [h.key for h in hits] == ["apple", "secret"]
    assert hits[0].score is not None and hits[1].score is None
    assert [h.key for h in store.search(ns, query="crisp red apple", limit=1)] == ["apple"]


def test_index_fields_per_put_and_max_pooling(store: BaseStore) -> None:
    ns = ("customers", "9", "issues")
    store.put(
        ns, "multi", {"notes": ["parcel lost in transit", "refund issued"]}, index=["notes[*]"]
    )
    store.put(ns, "single", {"notes": ["broken kettle replaced"]}, index=["notes[*]"])
    assert store.search(ns, query="refund issued", limit=1)[0].key == "multi"
    assert store.search(ns, query="broken kettle", limit=1)[0].key == "single"


def test_update_replaces_vectors(store: BaseStore) -> None:
    ns = ("products", "demo")
    store.put(ns, "a", {"text": "yellow banana"})
    store.put(ns, "b", {"text": "electric kettle"})
    store.put(ns, "a", {"text": "stainless steel kettle lid"})
    hits = store.search(ns, query="yellow banana", limit=2)
    assert {h.key for h in hits} == {"a", "b"}
    assert store.search(ns, query="kettle lid", limit=1)[0].key == "a"


def test_list_namespaces(store: BaseStore) -> None:
    for ns in [
        ("customers", "1", "preferences"),
        ("customers", "1", "issues"),
        ("customers", "2", "preferences"),
        ("products", "SKU-1"),
        ("insights", "pricing"),
    ]:
        store.put(ns, "k", {"text": "x"})
    assert store.list_namespaces() == sorted(
        [
            ("customers", "1", "issues"),
            ("customers", "1", "preferences"),
            ("customers", "2", "preferences"),
            ("insights", "pricing"),
            ("products", "SKU-1"),
        ]
    )
    assert store.list_namespaces(prefix=("customers",), max_depth=2) == [
        ("customers", "1"),
        ("customers", "2"),
    ]
    assert store.list_namespaces(suffix=("preferences",)) == [
        ("customers", "1", "preferences"),
        ("customers", "2", "preferences"),
    ]
    assert store.list_namespaces(prefix=("customers", "*", "issues")) == [
        ("customers", "1", "issues")
    ]
    assert store.list_namespaces(limit=2, offset=1) == [
        ("customers", "1", "preferences"),
        ("customers", "2", "preferences"),
    ]


def test_batch_reads_see_the_state_before_the_batch_puts(store: BaseStore) -> None:
    ns = ("insights", "review")
    store.put(ns, "old", {"text": "old insight"})
    results = store.batch(
        [
            PutOp(ns, "new", {"text": "new insight"}),
            GetOp(ns, "new"),
            GetOp(ns, "old"),
            SearchOp(ns),
            ListNamespacesOp(match_conditions=(MatchCondition("prefix", ("insights",)),)),
            PutOp(ns, "old", None),
        ]
    )
    assert results[0] is None and results[5] is None
    assert results[1] is None
    assert results[2] is not None and results[2].key == "old"  # type: ignore[union-attr]
    assert [i.key for i in results[3]] == ["old"]  # type: ignore[union-attr]
    assert results[4] == [ns]
    assert store.get(ns, "new") is not None
    assert store.get(ns, "old") is None


def test_batch_last_put_of_a_key_wins(store: BaseStore) -> None:
    ns = ("sales", "SHOP-CITY")
    store.batch([PutOp(ns, "k", {"text": "one"}), PutOp(ns, "k", {"text": "two"})])
    item = store.get(ns, "k")
    assert item is not None and item.value == {"text": "two"}


def test_async_api(store: BaseStore) -> None:
    async def run() -> None:
        ns = ("customers", "3", "preferences")
        await store.aput(ns, "slot", {"text": "prefers morning deliveries"})
        item = await store.aget(ns, "slot")
        assert item is not None and item.value["text"] == "prefers morning deliveries"
        hits = await store.asearch(("customers",), query="morning delivery")
        assert hits[0].key == "slot"
        assert await store.alist_namespaces(prefix=("customers",)) == [ns]
        await store.adelete(ns, "slot")
        assert await store.aget(ns, "slot") is None

    asyncio.run(run())


@pytest.mark.parametrize("bad", [(), ("",), ("a.b",), ("langgraph", "x")])
def test_invalid_namespaces_are_refused(store: BaseStore, bad: tuple[str, ...]) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.put(bad, "k", {"text": "x"})
