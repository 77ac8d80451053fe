"""Make moto behave like AWS where the service and the local stack rely on it: the one place
where moto is patched, applied alike by the tests, the local stack and the benchmarks.

DynamoDB requests are isolated: DynamoDB applies a conditional write or a transaction as one
step, moto checks and writes in several, which threads (the local stack's server, the tests'
racers) interleave, so two conditional writes could both pass their checks. Every DynamoDB
request holds one lock while moto answers it.

Transactions are all-or-nothing at the cost of the items they touch: moto backs up every
table a transaction touches with ``copy.deepcopy`` and restores the whole table when one is
cancelled. We back up the touched items (and the stream's length) instead, and put exactly
those back.

Queries read one partition: moto walks every item of the table for every Query page, then
sorts the matches and skips to the ``ExclusiveStartKey``. A base table query now reads its
partition directly; a GSI query reads its index partition from maps (index partition key ->
primary keys in moto's sort order) kept by every write path moto has (put, update, delete,
batch, transactions, PartiQL; a table dropped or restored gets new maps), from the start key
on, a window at a time. Everything after the choice of candidates is moto's own code (key
conditions, order, ``Limit``, filters, projections, counts, the page's last key), so the
answers are moto's; ``released_moto()`` gives the unpatched moto the differential tests
compare against.

moto's server finds a request's backend by listing its package directory, and its
serializer walks the API model for every attribute it returns: the list is read once, and
AttributeValues already in wire form are written as they are.

EventBridge: moto hands an SQS target the event without its ``account`` (and in another key
order than AWS), and delivers to the targets of disabled rules too. We give targets the event
AWS gives them, and only from enabled rules.

DynamoDB Streams: moto keeps every shard iterator it ever handed out, and the local stack's
stream pollers ask for a new one several times a second: iterators now expire 15 minutes
after they were issued, as in DynamoDB Streams, so a long ``make run`` does not grow forever.
"""

from __future__ import annotations

import bisect
import copy
import inspect
import threading
import time
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

_applied = False
_originals: list[tuple[Any, str, Any]] = []  # (owner, attribute, moto's own value)
_apply_lock = threading.Lock()
# Held by every DynamoDB request, and by every change to the partition maps (benchmarks write
# straight into the backend). Reentrant: a transaction calls moto's own put/update/delete.
DYNAMODB_LOCK = threading.RLock()
_query_scope = threading.local()
_MAPS_ATTRIBUTE = "_partition_maps"
# Items handed to moto's query at first when no Limit says how many a page needs (more than
# a 1 MB page of our items holds); a window that proves too short is grown and re-read.
FIRST_WINDOW = 4096

# The event EventBridge delivers to a target without an input transformer, keys in AWS's order.
AWS_EVENT_TEMPLATE = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
    '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
    '"detail": <detail>}'
)
SHARD_ITERATOR_LIFETIME_SECONDS = 15 * 60

Key = tuple[Any, Any]  # (hash key, range key or None) as moto's DynamoType values


def apply() -> None:
    global _applied
    with _apply_lock:
        if _applied:
            return
        _isolate_dynamodb_requests()
        _roll_back_touched_items_only()
        _query_one_partition()
        _serialize_attribute_values_directly()
        _list_moto_modules_once()
        _deliver_events_as_aws_does()
        _expire_shard_iterators()
        _applied = True


def _patch(owner: Any, name: str, replacement: Any) -> None:
    _originals.append((owner, name, getattr(owner, name)))
    setattr(owner, name, replacement)


@contextmanager
def released_moto() -> Iterator[None]:
    """moto as released, without these patches, for a while: the reference the differential
    tests hold the patched moto to. Single-threaded use only."""
    patched = [(owner, name, getattr(owner, name)) for owner, name, _ in _originals]
    for owner, name, original in reversed(_originals):
        setattr(owner, name, original)
    try:
        yield
    finally:
        for owner, name, replacement in patched:
            setattr(owner, name, replacement)


def _locked(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_LOCK:
            return original(*args, **kwargs)

    return call


def _isolate_dynamodb_requests() -> None:
    from moto.dynamodb.responses import DynamoHandler

    _patch(DynamoHandler, "call_action", _locked(DynamoHandler.call_action))


# -- transactions ----------------------------------------------------------------------------


def _roll_back_touched_items_only() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    def deepcopy(value: Any, memo: Any = None) -> Any:
        # transact_write_items "backs up" a table by deep-copying it and restores by putting
        # the copy back: hand it the table itself, and that restore changes nothing. The
        # touched items are restored by the wrapper below.
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    _patch(models, "copy", types.SimpleNamespace(**{**vars(copy), "deepcopy": deepcopy}))
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with DYNAMODB_LOCK:
            backup = TouchedItems(self, transact_items)
            try:
                original(self, transact_items)
            except BaseException:
                backup.restore()
                raise

    _patch(models.DynamoDBBackend, "transact_write_items", transact_write_items)


class TouchedItems:
    """The items a transaction may write, as they were before it, and its tables' stream
    lengths: what a cancelled transaction must leave behind."""

    def __init__(self, backend: Any, transact_items: list[dict[str, Any]]) -> None:
        self.items: list[tuple[Any, Key, Any]] = []
        self.streams: list[tuple[Any, list[Any], int]] = []
        seen_tables: set[int] = set()
        for entry in transact_items:
            located = _addressed_item(backend, entry)
            if located is None:
                continue  # an operation moto cannot address fails before it writes
            table, key = located
            self.items.append((table, key, copy.deepcopy(_stored(table, key))))
            shard = table.stream_shard
            if shard is not None and id(table) not in seen_tables:
                self.streams.append((shard, shard.items, len(shard.items)))
            seen_tables.add(id(table))

    def restore(self) -> None:
        for table, key, item in reversed(self.items):
            _put_back(table, key, item)
            _reindex(table, key)
        for shard, records, length in self.streams:
            if shard.items is records:  # not handed to a Lambda mapping meanwhile
                del records[length:]


def _addressed_item(backend: Any, entry: dict[str, Any]) -> tuple[Any, Key] | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        operation, request = next(iter(entry.items()))
        table = backend.get_table(request["TableName"])
        attributes = request["Item"] if operation == "Put" else request["Key"]
        hash_key = DynamoType(attributes[table.hash_key_attr])
        range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
    except Exception:
        return None
    return table, (hash_key, range_key)


def _stored(table: Any, key: Key) -> Any:
    """The item stored under ``key``, or None; unlike moto's get_item, this never adds an empty
    partition to the table's defaultdict."""
    hash_key, range_key = key
    partition = table.items.get(hash_key)
    if partition is None or range_key is None:
        return partition if table.range_key_attr is None else None
    return partition.get(range_key)


def _put_back(table: Any, key: Key, item: Any) -> None:
    hash_key, range_key = key
    if table.range_key_attr is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


# -- queries ---------------------------------------------------------------------------------


class PartitionMaps:
    """Per global secondary index of one table: index partition key -> its items' primary
    keys in the order moto sorts a query's items (the index's sort attributes), and where
    each item stands. Built from the table's items the first time an index is queried, then
    kept by every write."""

    def __init__(self, table: Any) -> None:
        self.items = table.items  # the dict these maps describe
        self.schemas = _index_schemas(table)
        self.members: dict[str, dict[tuple[Any, ...], list[tuple[tuple[Any, ...], Key]]]] = {
            name: {} for name in self.schemas
        }
        self.position: dict[str, dict[Key, tuple[tuple[Any, ...], tuple[Any, ...]]]] = {
            name: {} for name in self.schemas
        }
        # False once sort keys of mixed types (which moto cannot sort either) were met:
        # moto's own query answers for this table from then on.
        self.usable = True
        for item in _every_item(table):
            key = (item.hash_key, item.range_key)
            for name, schema in self.schemas.items():
                at = _index_position(item, *schema)
                if at is not None:
                    self.members[name].setdefault(at[0], []).append((at[1], key))
                    self.position[name][key] = at
        try:
            for partitions in self.members.values():
                for entries in partitions.values():
                    entries.sort(key=_sort_key)
        except TypeError:
            self.usable = False

    def describes(self, table: Any) -> bool:
        return self.items is table.items and self.schemas == _index_schemas(table)

    def place(self, key: Key, item: Any) -> None:
        for name, (partition_attributes, sort_attributes) in self.schemas.items():
            new = _index_position(item, partition_attributes, sort_attributes)
            old = self.position[name].get(key)
            if old == new:
                continue
            try:
                if old is not None:
                    entries = self.members[name][old[0]]
                    del entries[bisect.bisect_left(entries, old[1], key=_sort_key)]
                    if not entries:
                        del self.members[name][old[0]]
                    del self.position[name][key]
                if new is not None:
                    entries = self.members[name].setdefault(new[0], [])
                    bisect.insort(entries, (new[1], key), key=_sort_key)
                    self.position[name][key] = new
            except TypeError:
                self.usable = False

    def entries(self, index_name: str, partition: tuple[Any, ...]) -> list[Any]:
        return self.members[index_name].get(partition, [])


def _sort_key(entry: tuple[tuple[Any, ...], Key]) -> tuple[Any, ...]:
    return entry[0]


def _index_schemas(table: Any) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per GSI: its partition attributes, and the attributes moto's Table.query sorts its
    items by (the index's keys, then the table's), built as that query builds them."""
    schemas = {}
    for index in table.global_indexes or []:
        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        ranges: list[str | None] = [
            k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"
        ]
        if not ranges:
            ranges = [table.range_key_attr or table.hash_key_attr]
        order = table._generate_attr_to_sort_by(
            [*hashes, table.hash_key_attr], [*ranges, table.range_key_attr]
        )
        schemas[index.name] = (tuple(hashes), tuple(order))
    return schemas


def _index_position(
    item: Any, partition_attributes: tuple[str, ...], sort_attributes: tuple[str, ...]
) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """The item's partition in an index (copies: moto updates items in place) and its sort
    key there (the values moto's query compares), or None when it lacks a key attribute
    (sparse index), as moto's query skips it then."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if item is None:
        return None
    partition = [item.attrs.get(name) for name in partition_attributes]
    order = [item.attrs.get(name) for name in sort_attributes]
    if any(value is None for value in (*partition, *order)):
        return None
    return tuple(DynamoType(v) for v in partition), tuple(v.cast_value for v in order)


def _every_item(table: Any) -> Iterable[Any]:
    for partition in list(table.items.values()):
        yield from (list(partition.values()) if table.range_key_attr else [partition])


def _maps(table: Any) -> PartitionMaps:
    maps = table.__dict__.get(_MAPS_ATTRIBUTE)
    if maps is None or not maps.describes(table):
        maps = PartitionMaps(table)
        setattr(table, _MAPS_ATTRIBUTE, maps)
    return maps


def _reindex(table: Any, key: Key) -> None:
    """After a write to ``key``: move it to its new index positions. Maps that no longer
    describe the table are left alone; the next query rebuilds them."""
    with DYNAMODB_LOCK:
        maps = table.__dict__.get(_MAPS_ATTRIBUTE)
        if maps is not None and maps.describes(table):
            maps.place(key, _stored(table, key))


class QueryPlan:
    """The items a Query can return, in moto's order, handed out a window at a time: the
    window starts where ``ExclusiveStartKey`` stands and runs in the query's direction, so
    moto's own loop sees exactly the items it would see first in the whole partition."""

    def __init__(self, table: Any, entries: list[Any], arguments: dict[str, Any]) -> None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        self.table, self.entries = table, entries
        self.unsorted = arguments["order"] is None
        self.forward = arguments.get("scan_index_forward") is not False
        self.start, self.end = 0, len(entries)
        start_key, sort_attributes = arguments.get("exclusive_start_key"), arguments["order"]
        if start_key and sort_attributes is not None:
            try:
                at = tuple(DynamoType(start_key[name]).cast_value for name in sort_attributes)
                if self.forward:
                    self.start = bisect.bisect_left(entries, at, key=_sort_key)
                else:
                    self.end = bisect.bisect_right(entries, at, key=_sort_key)
            except (KeyError, TypeError, IndexError, ValueError):
                pass  # from the partition's end: moto's own loop skips to the key

    def window(self, size: int) -> tuple[list[Any], bool]:
        """The next ``size`` items, and whether they are all there is (a base table's
        partition is handed out whole: it is not kept sorted)."""
        if self.unsorted:
            chosen, complete = self.entries, True
        elif self.forward:
            chosen = self.entries[self.start : self.start + size]
            complete = self.start + size >= self.end
        else:
            chosen = self.entries[max(self.start, self.end - size) : self.end]
            complete = self.end - size <= self.start
        items = [_stored(self.table, key) for _, key in chosen]
        return [item for item in items if item is not None], complete


def _plan(table: Any, arguments: dict[str, Any]) -> QueryPlan | None:
    """What a Query reads, or None where moto's own walk over every item must answer
    (filters on non-key attributes, local indexes, unknown index names)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if arguments.get("filter_kwargs"):
        return None
    index_name = arguments.get("index_name")
    if not index_name:
        hash_key = arguments.get("hash_key")
        if hash_key is None:
            return None
        partition = table.items.get(hash_key)  # .get: moto's items is a defaultdict
        if partition is None:
            items = []
        elif isinstance(partition, dict):
            items = list(partition.values())
        else:
            items = [partition]
        entries = [(None, (item.hash_key, item.range_key)) for item in items]
        return QueryPlan(table, entries, {**arguments, "order": None})
    schema = _index_schemas(table).get(index_name)
    conditions = dict(arguments.get("hash_key_conditions") or [])
    if schema is None or not schema[0] or set(conditions) != set(schema[0]):
        return None
    maps = _maps(table)
    if not maps.usable:
        return None
    partition_key = tuple(DynamoType(conditions[name]) for name in schema[0])
    entries = maps.entries(index_name, partition_key)
    return QueryPlan(table, entries, {**arguments, "order": schema[1]})


def _query_one_partition() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    signature = inspect.signature(original_query)
    original_all_items = Table.all_items

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_LOCK:
            arguments = signature.bind(self, *args, **kwargs).arguments
            plan = _plan(self, arguments)
            if plan is None:
                return original_query(self, *args, **kwargs)
            limit = arguments.get("limit")
            size = limit + 1 if isinstance(limit, int) and limit > 0 else FIRST_WINDOW
            while True:
                candidates, complete = plan.window(size)
                _query_scope.candidates = (self, candidates)
                try:
                    answer = original_query(self, *args, **kwargs)
                finally:
                    _query_scope.candidates = None
                if complete or answer[2] is not None:  # a page that ended inside the window
                    return answer
                size *= 4

    def all_items(self: Any) -> Any:
        # moto's query calls all_items() once, to pick its candidates: hand it the window.
        pending = getattr(_query_scope, "candidates", None)
        if pending is not None and pending[0] is self:
            _query_scope.candidates = None
            return pending[1]
        return original_all_items(self)

    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        with DYNAMODB_LOCK:
            item = original_put_item(self, *args, **kwargs)
            _reindex(self, (item.hash_key, item.range_key))
            return item

    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        with DYNAMODB_LOCK:
            try:
                return original_delete_item(self, hash_key, range_key)
            finally:
                _reindex(self, (hash_key, range_key))

    def update_item(backend: Any, table_name: str, key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto updates the stored item in place: re-place it whatever the outcome.
        with DYNAMODB_LOCK:
            try:
                return original_update_item(backend, table_name, key, *args, **kwargs)
            finally:
                located = _addressed_item(
                    backend, {"Update": {"TableName": table_name, "Key": key}}
                )
                if located is not None:
                    _reindex(*located)

    original_put_item, original_delete_item = Table.put_item, Table.delete_item
    original_update_item = models.DynamoDBBackend.update_item
    _patch(Table, "query", query)
    _patch(Table, "all_items", all_items)
    _patch(Table, "put_item", put_item)
    _patch(Table, "delete_item", delete_item)
    _patch(models.DynamoDBBackend, "update_item", update_item)


# -- moto's server and serializer ----------------------------------------------------------

_SCALAR_TYPES = {"S", "N"}
_SET_TYPES = {"SS", "NS"}
_FLAG_TYPES = {"NULL", "BOOL"}
_DYNAMODB_SERVICES = {"dynamodb", "dynamodbstreams"}


def _wire_form(value: Any) -> Any:
    """An AttributeValue (as moto's items give it: ``{"S": "x"}``, ``{"M": {...}}``) exactly as
    moto's serializer would write it, or None where that serializer must decide (binary
    values, anything unexpected)."""
    if type(value) is not dict or len(value) != 1:
        return None
    kind, inner = next(iter(value.items()))
    if kind in _SCALAR_TYPES and type(inner) is str:
        return {kind: inner}
    if kind in _FLAG_TYPES and type(inner) is bool:
        return {kind: inner}
    if kind in _SET_TYPES and type(inner) is list and all(type(v) is str for v in inner):
        return {kind: list(inner)} if inner else None
    if kind == "L" and type(inner) is list:
        members = [_wire_form(v) for v in inner]
        return None if any(m is None for m in members) else {kind: members}
    if kind == "M" and type(inner) is dict:
        entries = {k: _wire_form(v) for k, v in inner.items()}
        return None if any(e is None for e in entries.values()) else {kind: entries}
    return None


def _serialize_attribute_values_directly() -> None:
    """moto's response serializer walks the API model for every attribute of every item it
    returns (about a millisecond per item): an AttributeValue already in wire form is
    written as it is."""
    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize_type_structure

    def _serialize_type_structure(
        self: Any, serialized: Any, value: Any, shape: Any, key: str
    ) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and self.service_model.service_name in _DYNAMODB_SERVICES
        ):
            wire = _wire_form(value)
            if wire is not None:
                self._default_serialize(serialized, wire, shape, key)
                return
        original(self, serialized, value, shape, key)

    _patch(BaseJSONSerializer, "_serialize_type_structure", _serialize_type_structure)


def _list_moto_modules_once() -> None:
    """moto's server lists its package directory (a stat per service) on every request to
    find the backend: the list cannot change while it runs."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    _patch(backends, "list_of_moto_modules", lambda: iter(modules))


# -- EventBridge and Streams -----------------------------------------------------------------


def _deliver_events_as_aws_does() -> None:
    from moto.events import models, utils

    # The default paths map already extracts "$.account"; only the template left it out.
    _patch(utils.EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", AWS_EVENT_TEMPLATE)
    original = models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return  # a disabled rule matches nothing in EventBridge
        original(self, original_event, transform_input)

    _patch(models.Rule, "send_to_targets", send_to_targets)


def _expire_shard_iterators() -> None:
    from moto.dynamodbstreams import models

    original_init = models.ShardIterator.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self.issued_at = time.monotonic()

    _patch(models.ShardIterator, "__init__", __init__)

    for name in ("get_shard_iterator", "get_records"):
        original = getattr(models.DynamoDBStreamsBackend, name)

        def pruning(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            _drop_expired_iterators(self.shard_iterators)
            return _original(self, *args, **kwargs)

        _patch(models.DynamoDBStreamsBackend, name, pruning)


def _drop_expired_iterators(iterators: dict[str, Any]) -> None:
    """Iterators are kept in the order they were issued: drop from the oldest while expired."""
    cutoff = time.monotonic() - SHARD_ITERATOR_LIFETIME_SECONDS
    while iterators:
        arn, oldest = next(iter(iterators.items()))
        if getattr(oldest, "issued_at", cutoff - 1) >= cutoff:
            return
        iterators.pop(arn, None)
