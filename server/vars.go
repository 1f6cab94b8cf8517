package server

import (
	protoqlv1 "github.com/protoql/protoql/proto/protoql/v1"
)

// variables converts typed wire values to the Go values query.Bind takes;
// Bind checks them against each variable's use.
func variables(in map[string]*protoqlv1.Value) (map[string]any, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(in))
	for name, v := range in {
		switch k := v.GetKind().(type) {
		case *protoqlv1.Value_StringValue:
			out[name] = k.StringValue
		case *protoqlv1.Value_IntValue:
			out[name] = k.IntValue
		case *protoqlv1.Value_UintValue:
			out[name] = k.UintValue
		case *protoqlv1.Value_BoolValue:
			out[name] = k.BoolValue
		case *protoqlv1.Value_BytesValue:
			out[name] = k.BytesValue
		default:
			return nil, badRequest("variable $%s has no value", name)
		}
	}
	return out, nil
}
