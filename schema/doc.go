// Package schema compiles annotated protobuf descriptors into a validated
// catalog: the tables, their key columns, and for every message stored by
// protoql the layout of each field (inline in the parent's value, breakout,
// object, map, join). It is the one source of truth for the key layout: the
// plugin, the query planner and the runtime all ask it, none re-derives it.
//
// The layout is a tree of [Node] values, one per place a message is stored
// (a message type used in two places gets two nodes, because join sources such
// as "$threads" depend on the path). A node maps the tag of each child key
// element (field number and tuple kind) to the [Field] stored there, so
// resolving a key against the schema is a walk down this trie, one element at
// a time.
//
// The schema also owns the key codec between field values and key elements:
// a [Column] (a table's key column, or a map's key: [Field.Key]) checks,
// appends and decodes values and turns a range of values into key bounds,
// swapping them for a descending column; [After] narrows bounds to resume
// after a cursor position; [Catalog.Resolve] and [Catalog.Locate] turn a key,
// or a prefix of one, into its [Location] and symbolic path. The query
// planner, the runtime and the command line encode and decode keys only
// through these; package tuple below them knows elements, not fields.
//
// Decisions the design leaves open, recorded here:
//   - Tables are collected from the given files and everything they import.
//   - Messages of package google.protobuf (well-known types) are always stored
//     whole, inline, wherever they appear.
//   - A message may not contain itself through object or map fields (it
//     could not be decomposed into a finite key layout); mark the recursive
//     field inline.
//   - "inline" applies to message and map fields; "descending" to key columns
//     and map fields; "apart" to map and object fields of a table's row
//     message (not to fields of nested messages: a key space per row field
//     is enough to take big children out of the row scan). On any other
//     field they are rejected rather than ignored, so a misplaced option
//     never silently does nothing.
//   - A field stored apart ([Field.Apart]) has the keys it would have under
//     the row with the table element replaced by an unsigned element of the
//     same number holding the field number ([Table.AppendApartPrefix]): it
//     sorts after every row of the table, and [Catalog.Resolve] resolves it
//     to the same symbolic path as the colocated key.
//     and map fields. On any other field they are rejected rather than
//     ignored, so a misplaced option never silently does nothing.
//   - Secondary indexes ([Index]) are declared on the table option or on a
//     map field with message values; an index's id (not its name) is in
//     its keys, so renaming is free and changing its fields or uniqueness
//     needs a new id ([CheckCompatible] refuses it). float and double
//     fields are refused as index columns, as they are as keys (-0/+0 and
//     NaN payloads have no one order). At most one repeated field per
//     index: each distinct element gives an entry. Map-scoped entries live
//     under the owner's key after element 19000 ([IndexElem]), a number
//     protobuf reserves, so they never collide with a field.
package schema
