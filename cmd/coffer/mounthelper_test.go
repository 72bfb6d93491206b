package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParseHelperArgs(t *testing.T) {
	for _, c := range []struct {
		args    string
		source  string
		flags   []string
		logFile string
		err     string
	}{
		{args: "s3://b/p /backup -o rw,key-file=/etc/coffer/key,_netdev,nofail,x-systemd.requires=network-online.target",
			source: "s3://b/p", flags: []string{"--key-file=/etc/coffer/key"}},
		{args: "coffer#/srv/repo /backup -o allow_other,cache_size=256,snapshot-every=1h,log-file=/var/log/c.log -n -s",
			source: "/srv/repo", flags: []string{"--allow-other", "--cache-size=256", "--snapshot-every=1h"}, logFile: "/var/log/c.log"},
		{args: "/srv/repo /restore -oro,snapshot=latest,key-file=k", source: "/srv/repo",
			flags: []string{"--snapshot=latest", "--key-file=k"}},
		{args: "/srv/repo /backup -o ro", err: "snapshot=latest"},
		{args: "/srv/repo /backup -o key-file", err: "needs a value"},
		{args: "/srv/repo /backup -o bogus=1", err: `unknown mount option "bogus"`},
		{args: "/srv/repo -o key-file=k", err: "SOURCE MOUNTPOINT"},
		{args: "/srv/repo /backup -x", err: "unknown argument"},
	} {
		got, err := parseHelperArgs(strings.Fields(c.args))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one with %q", c.args, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.args, err)
			continue
		}
		if got.source != c.source || !slices.Equal(got.args, c.flags) || got.logFile != c.logFile {
			t.Errorf("%s: source %q, flags %q, log %q; want %q, %q, %q", c.args, got.source, got.args, got.logFile, c.source, c.flags, c.logFile)
		}
	}
}
