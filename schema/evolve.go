package schema

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// CheckCompatible reports every difference between a stored catalog and a
// new one that would make data written under the old layout be misread or
// become unreadable under the new one. Tables and fields are matched by
// number, not by name, so renames are fine; new tables and new fields are
// accepted. The error joins one error per problem, each wrapping
// ErrIncompatible.
func CheckCompatible(stored, next *Catalog) error {
	var errs []error
	for _, ot := range stored.Tables {
		nt := next.Table(ot.ID)
		if nt == nil {
			errs = append(errs, incompatible("table %s (id %d) is in the stored schema but not in the new one: its rows would become unreadable; keep the message (renaming it is fine)", ot.Name(), ot.ID))
			continue
		}
		errs = append(errs, compareKeys(ot, nt)...)
		errs = append(errs, compareNode(ot.Root, nt.Root, string(nt.Desc.Name()))...)
	}
	if len(errs) == 0 {
		errs = compareIndexes(stored, next)
	}
	return errors.Join(errs...)
}

func incompatible(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrIncompatible, fmt.Sprintf(format, args...))
}

func compareKeys(ot, nt *Table) []error {
	if len(ot.Key) != len(nt.Key) {
		return []error{incompatible("table %s (id %d): the key had %d columns and now has %d: stored row keys would not parse", nt.Name(), nt.ID, len(ot.Key), len(nt.Key))}
	}
	var errs []error
	for i, oc := range ot.Key {
		nc := nt.Key[i]
		if oc.Field.Number() != nc.Field.Number() || oc.Kind != nc.Kind {
			errs = append(errs, incompatible("table %s (id %d): key column %d changed from field %d (%s) to field %d (%s): stored row keys would be misread",
				nt.Name(), nt.ID, i+1, oc.Field.Number(), keyType(oc.Field, oc.Kind.IsDescending()), nc.Field.Number(), keyType(nc.Field, nc.Kind.IsDescending())))
		}
	}
	return errs
}

func compareNode(o, n *Node, path string) []error {
	var errs []error
	for _, of := range o.Fields {
		nf := n.Field(of.Number())
		where := fmt.Sprintf("%s field %d (%s)", path, of.Number(), of.Name())
		if nf == nil {
			switch of.Storage {
			case Breakout, Object, Map:
				errs = append(errs, incompatible("%s was removed, but it is stored under its own keys (%s), which would become unreadable; keep the field (renaming it is fine)", where, of.Storage))
			}
			continue
		}
		if of.Storage != nf.Storage {
			errs = append(errs, incompatible("%s moved from %s to %s storage: data stored the old way would be misread", where, of.Storage, nf.Storage))
			continue
		}
		if of.Apart != nf.Apart {
			errs = append(errs, incompatible("%s moved %s: its keys are stored %s, where the new schema would not find them (a layout change: copy the data into a new field or table instead)", where, placement(nf.Apart), placement(of.Apart)))
			continue
		}
		if why := typeChange(of, nf); why != "" {
			errs = append(errs, incompatible("%s %s: stored values would be misread", where, why))
			continue
		}
		if of.Child != nil && nf.Child != nil {
			errs = append(errs, compareNode(of.Child, nf.Child, path+"."+string(nf.Name()))...)
		}
	}
	return errs
}

// typeChange describes how the stored type of a field changed, or returns "".
func typeChange(of, nf *Field) string {
	od, nd := of.Desc, nf.Desc
	switch {
	case od.IsMap() != nd.IsMap() || od.Cardinality() != nd.Cardinality():
		return fmt.Sprintf("changed from %s to %s", shape(od), shape(nd))
	case od.IsMap():
		if of.ElemKind != nf.ElemKind {
			return fmt.Sprintf("changed its map key from %s to %s", keyType(od.MapKey(), of.ElemKind.IsDescending()), keyType(nd.MapKey(), nf.ElemKind.IsDescending()))
		}
		if od.MapValue().Kind() != nd.MapValue().Kind() {
			return fmt.Sprintf("changed its map value from %s to %s", typeName(od.MapValue()), typeName(nd.MapValue()))
		}
	case od.Kind() != nd.Kind():
		return fmt.Sprintf("changed type from %s to %s", typeName(od), typeName(nd))
	}
	return ""
}

func shape(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsMap():
		return "map"
	case fd.IsList():
		return "repeated " + typeName(fd)
	}
	return typeName(fd)
}

// placement names where a field's keys are: apart from the row, or under it.
func placement(apart bool) string {
	if apart {
		return "apart from the row"
	}
	return "under the row (colocated)"
}
