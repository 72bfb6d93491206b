package objectstore

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"data/ab/abcdef0123", true},
		{"A-Z_a.z-0.9", true},
		{"..x/y..", true},
		{strings.Repeat("k", MaxKeyLen), true},
		{"", false},
		{strings.Repeat("k", MaxKeyLen+1), false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{"..", false},
		{"a/../b", false},
		{"./a", false},
		{"a/.", false},
		{"a b", false},
		{"a@obj", false},
		{"a\\b", false},
		{"caf\u00e9", false},
	} {
		err := CheckKey(tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("CheckKey(%q) = %v, want ok=%v", tc.key, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("CheckKey(%q) = %v, not ErrInvalidKey", tc.key, err)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"a", true},
		{"a/", true},
		{"a/b/", true},
		{"a/.", true}, // a partial name, e.g. of "a/.x"
		{"/", false},
		{"a//", false},
		{"../", false},
		{"a b", false},
	} {
		if err := CheckPrefix(tc.prefix); (err == nil) != tc.ok {
			t.Errorf("CheckPrefix(%q) = %v, want ok=%v", tc.prefix, err, tc.ok)
		}
	}
}
