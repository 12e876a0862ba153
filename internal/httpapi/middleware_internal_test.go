package httpapi

import "testing"

func TestMethodLabelIsBoundedAndConstant(t *testing.T) {
	for in, want := range map[string]string{"GET": "GET", "PATCH": "PATCH", "PURGE": "OTHER", "GETE": "OTHER", "": "OTHER"} {
		if got := methodLabel(in); got != want {
			t.Errorf("methodLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
