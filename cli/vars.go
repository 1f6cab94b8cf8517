package cli

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
	"github.com/protoql/protoql/query"
)

// parseVars reads name=value pairs (a leading $ on the name is allowed).
func parseVars(pairs []string) (map[string]string, error) {
	vars := map[string]string{}
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		name = strings.TrimPrefix(strings.TrimSpace(name), "$")
		if !ok || name == "" {
			return nil, usagef("--var %q: want name=value", p)
		}
		vars[name] = value
	}
	return vars, nil
}

// typeVars converts variables given as text to the type each has in the
// query: the key column's type, a count for first:, a bool for reverse:,
// a cursor string for after:. Text that does not fit is an error at the
// variable's first use. A variable the query does not use is an error
// too (the server would refuse it), so every --var mistake exits 2.
func typeVars(p *query.Plan, text map[string]string) (map[string]*protoqlv1.Value, error) {
	if len(text) == 0 {
		return nil, nil
	}
	out := make(map[string]*protoqlv1.Value, len(text))
	for _, name := range slices.Sorted(maps.Keys(text)) {
		if !slices.ContainsFunc(p.Vars, func(v *query.Var) bool { return v.Name == name }) {
			return nil, query.Errorf(query.Position{}, query.ErrVariable, "$%s is given but the query has no variable $%s", name, name)
		}
	}
	for _, v := range p.Vars {
		s, ok := text[v.Name]
		if !ok {
			continue
		}
		val, err := typeVar(v.Type, s)
		if err != nil {
			return nil, query.Errorf(v.Pos, query.ErrVariable, "$%s = %q: %v (want %s, for %s)", v.Name, s, err, v.Type, v.Type.Where)
		}
		out[v.Name] = val
	}
	return out, nil
}

func typeVar(t query.VarType, s string) (*protoqlv1.Value, error) {
	switch t.Arg {
	case "first":
		return intValue(s)
	case "reverse":
		return boolValue(s)
	case "after":
		return stringValue(s), nil
	}
	switch t.Field.Kind() {
	case protoreflect.StringKind:
		return stringValue(s), nil
	case protoreflect.BytesKind:
		if h, ok := strings.CutPrefix(s, "0x"); ok {
			b, err := hex.DecodeString(h)
			if err != nil {
				return nil, fmt.Errorf("bad hex")
			}
			return &protoqlv1.Value{Kind: &protoqlv1.Value_BytesValue{BytesValue: b}}, nil
		}
		return &protoqlv1.Value{Kind: &protoqlv1.Value_BytesValue{BytesValue: []byte(s)}}, nil
	case protoreflect.BoolKind:
		return boolValue(s)
	case protoreflect.EnumKind:
		if v, err := intValue(s); err == nil {
			return v, nil
		}
		return stringValue(s), nil // a value name; the server checks it
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 0, 64)
		if err != nil && !negZero(s) {
			return nil, fmt.Errorf("not an unsigned integer")
		}
		return &protoqlv1.Value{Kind: &protoqlv1.Value_UintValue{UintValue: n}}, nil
	}
	return intValue(s)
}

func stringValue(s string) *protoqlv1.Value {
	return &protoqlv1.Value{Kind: &protoqlv1.Value_StringValue{StringValue: s}}
}

func intValue(s string) (*protoqlv1.Value, error) {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return nil, fmt.Errorf("not an integer")
	}
	return &protoqlv1.Value{Kind: &protoqlv1.Value_IntValue{IntValue: n}}, nil
}

func boolValue(s string) (*protoqlv1.Value, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return nil, fmt.Errorf("not true or false")
	}
	return &protoqlv1.Value{Kind: &protoqlv1.Value_BoolValue{BoolValue: b}}, nil
}

// negZero reports whether s is a minus sign and zeros: -0 is 0, which an
// unsigned key holds as well as a signed one (ParseInt takes it, ParseUint
// does not).
func negZero(s string) bool {
	return len(s) > 1 && s[0] == '-' && strings.Trim(s[1:], "0") == ""
}
