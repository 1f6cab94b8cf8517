package query

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// typeName names fd's type as messages show it.
func typeName(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd == nil:
		return "?"
	case fd.IsMap():
		return "map<" + typeName(fd.MapKey()) + ", " + typeName(fd.MapValue()) + ">"
	case fd.IsList():
		return "repeated " + singularTypeName(fd)
	}
	return singularTypeName(fd)
}

func singularTypeName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		return "enum " + string(fd.Enum().FullName())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "message " + string(fd.Message().FullName())
	}
	return fd.Kind().String()
}

// article prefixes a type name with "a" or "an" (by sound: "a uint32").
func article(s string) string {
	if s != "" && strings.ContainsRune("aeio", rune(s[0])) {
		return "an " + s
	}
	return "a " + s
}

// suggest returns ` did you mean "x"?` for the candidate closest to name
// when it is close enough to be a likely typo, else the list of candidates.
// Candidates whose length alone puts them too far are not compared, so a
// long name costs no more than a short one.
func suggest(name string, candidates []string) string {
	best, bestDist := "", len(name)/3+2
	lower := ""
	for _, c := range candidates {
		if diff := len(name) - len(c); diff >= bestDist || -diff >= bestDist {
			continue
		}
		if lower == "" {
			lower = strings.ToLower(name)
		}
		if d := editDistance(lower, strings.ToLower(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" {
		return `; did you mean "` + best + `"?`
	}
	if len(candidates) == 0 {
		return ""
	}
	return " (want one of: " + strings.Join(candidates, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// fieldNames lists the names of a message's fields in descriptor order.
func fieldNames(md protoreflect.MessageDescriptor) []string {
	fields := md.Fields()
	names := make([]string, fields.Len())
	for i := range names {
		names[i] = string(fields.Get(i).Name())
	}
	return names
}

// joinNames joins field names with ", ".
func joinNames[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

var argNames = []string{"first", "after", "reverse"}
