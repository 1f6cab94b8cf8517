package tuple

import "testing"

func TestKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		k          Kind
		valid      bool
		desc       bool
		name       string
		descending Kind
		ascending  Kind
	}{
		{KindUnit, true, false, "unit", KindUnit, KindUnit},
		{KindBool, true, false, "bool", 9, KindBool},
		{KindInt, true, false, "int", 10, KindInt},
		{KindUint, true, false, "uint", 11, KindUint},
		{KindString, true, false, "string", 12, KindString},
		{KindBytes, true, false, "bytes", 13, KindBytes},
		{6, false, false, "Kind(6)", 14, 6},
		{7, false, false, "Kind(7)", 15, 7},
		{8, false, true, "Kind(8)", 8, KindUnit},
		{9, true, true, "bool desc", 9, KindBool},
		{12, true, true, "string desc", 12, KindString},
		{13, true, true, "bytes desc", 13, KindBytes},
		{14, false, true, "Kind(14)", 14, 6},
		{15, false, true, "Kind(15)", 15, 7},
		{16, false, false, "Kind(16)", 24, 16},
	}
	for _, tt := range tests {
		if got := tt.k.Valid(); got != tt.valid {
			t.Errorf("Kind(%d).Valid() = %v, want %v", tt.k, got, tt.valid)
		}
		if got := tt.k.IsDescending(); got != tt.desc {
			t.Errorf("Kind(%d).IsDescending() = %v, want %v", tt.k, got, tt.desc)
		}
		if got := tt.k.String(); got != tt.name {
			t.Errorf("Kind(%d).String() = %q, want %q", tt.k, got, tt.name)
		}
		if got := tt.k.Descending(); got != tt.descending {
			t.Errorf("Kind(%d).Descending() = %d, want %d", tt.k, got, tt.descending)
		}
		if got := tt.k.Ascending(); got != tt.ascending {
			t.Errorf("Kind(%d).Ascending() = %d, want %d", tt.k, got, tt.ascending)
		}
	}
}

func TestDirectionString(t *testing.T) {
	t.Parallel()
	if got := Asc.String(); got != "asc" {
		t.Errorf("Asc.String() = %q, want %q", got, "asc")
	}
	if got := Desc.String(); got != "desc" {
		t.Errorf("Desc.String() = %q, want %q", got, "desc")
	}
}
