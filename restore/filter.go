package restore

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// Filter selects the paths a restore writes, with restic's pattern rules.
// Paths are slash-separated and rooted at the restore's top ("/" is the
// target directory itself). A pattern is split at "/"; each part is a
// filepath.Match pattern and "**" matches any number of parts. A pattern
// starting with "/" is anchored at the top; any other may match a run of
// parts anywhere in the path. A pattern that matches a directory matches
// everything beneath it, so --exclude dir leaves out the whole subtree
// and --include dir takes all of it.
type Filter struct {
	include, exclude []pattern
}

type pattern []string // parts; "" first for an anchored pattern

// NewFilter checks and prepares include and exclude patterns. With no
// include, every path not excluded is selected.
func NewFilter(include, exclude []string) (*Filter, error) {
	f := &Filter{}
	for _, set := range []struct {
		in  []string
		out *[]pattern
	}{{include, &f.include}, {exclude, &f.exclude}} {
		for _, p := range set.in {
			if p == "" {
				continue
			}
			pat := parsePattern(p)
			for _, part := range pat {
				if _, err := filepath.Match(part, ""); err != nil {
					return nil, fmt.Errorf("bad pattern %q: %w", p, err)
				}
			}
			*set.out = append(*set.out, pat)
		}
	}
	return f, nil
}

func parsePattern(p string) pattern {
	p = path.Clean(filepath.ToSlash(p))
	return strings.Split(p, "/")
}

func splitPath(p string) []string {
	if p == "/" {
		return []string{""}
	}
	return strings.Split(p, "/")
}

// Selected reports whether p is restored.
func (f *Filter) Selected(p string) bool {
	parts := splitPath(p)
	if matchAny(f.exclude, parts) {
		return false
	}
	return len(f.include) == 0 || matchAny(f.include, parts)
}

// Descend reports whether anything beneath directory p may be selected,
// so the restore need not read trees below a directory that cannot hold
// a selected path.
func (f *Filter) Descend(p string) bool {
	parts := splitPath(p)
	if matchAny(f.exclude, parts) {
		return false
	}
	if len(f.include) == 0 || matchAny(f.include, parts) {
		return true
	}
	for _, pat := range f.include {
		if childMayMatch(pat, parts) {
			return true
		}
	}
	return false
}

// Everything reports whether the filter selects every path.
func (f *Filter) Everything() bool { return f == nil || len(f.include)+len(f.exclude) == 0 }

func matchAny(pats []pattern, parts []string) bool {
	for _, pat := range pats {
		if match(pat, parts) {
			return true
		}
	}
	return false
}

// match reports whether pat matches a run of consecutive parts (for an
// anchored pattern: a run that starts at the top).
func match(pat pattern, parts []string) bool {
	for i, p := range pat {
		if p != "**" {
			continue
		}
		// Try "**" as zero, one, two ... parts.
		for n := 0; n <= len(parts); n++ {
			expanded := make(pattern, 0, len(pat)-1+n)
			expanded = append(expanded, pat[:i]...)
			for range n {
				expanded = append(expanded, "*")
			}
			expanded = append(expanded, pat[i+1:]...)
			if len(expanded) > len(parts) && n > 0 {
				break
			}
			if match(expanded, parts) {
				return true
			}
		}
		return false
	}
	if len(pat) == 0 {
		return len(parts) == 0
	}
	last := len(parts) - len(pat)
	if pat[0] == "" {
		last = min(last, 0)
	}
	for off := 0; off <= last; off++ {
		if matchAt(pat, parts[off:]) {
			return true
		}
	}
	return false
}

func matchAt(pat pattern, parts []string) bool {
	for i, p := range pat {
		if ok, _ := filepath.Match(p, parts[i]); !ok {
			return false
		}
	}
	return true
}

// childMayMatch reports whether pat could match a path beneath parts. A
// pattern not anchored at the top may match anywhere below.
func childMayMatch(pat pattern, parts []string) bool {
	if pat[0] != "" {
		return true
	}
	for i, p := range pat {
		if p == "**" {
			n := min(i, len(parts))
			return match(pat[:n], parts[:n])
		}
	}
	if len(parts) >= len(pat) {
		return false // it would match p itself, which the caller checked
	}
	return match(pat[:len(parts)], parts)
}
