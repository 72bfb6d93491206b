package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// lsNode is one line of `coffer ls --json` (README, "Looking at a
// repository without mounting").
type lsNode struct {
	Path        string   `json:"path"`
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Mode        string   `json:"mode"`
	Permissions string   `json:"permissions"`
	UID         uint32   `json:"uid"`
	GID         uint32   `json:"gid"`
	Size        int64    `json:"size"`
	Links       uint64   `json:"links"`
	Mtime       string   `json:"mtime"`
	Target      string   `json:"target"`
	Xattrs      []string `json:"xattrs"`
}

// diffLine is one line of `coffer diff --json`.
type diffLine struct {
	MessageType string   `json:"message_type"`
	Path        string   `json:"path"`
	Change      string   `json:"change"`
	What        []string `json:"what"`
	Added       struct {
		Files int   `json:"files"`
		Bytes int64 `json:"bytes"`
	} `json:"added"`
	Changed  int `json:"changed"`
	Metadata int `json:"metadata"`
}

type statsOut struct {
	Snapshots    int     `json:"snapshots"`
	Files        int64   `json:"files"`
	LogicalBytes int64   `json:"logical_bytes"`
	StoredBytes  int64   `json:"stored_bytes"`
	DedupRatio   float64 `json:"dedup_ratio"`
	PerSnapshot  []struct {
		ID         string `json:"id"`
		AddedBytes int64  `json:"added_bytes"`
	} `json:"per_snapshot"`
}

type snapListed struct {
	ID         string   `json:"id"`
	Tags       []string `json:"tags"`
	Parent     string   `json:"parent"`
	AddedBytes int64    `json:"added_bytes"`
}

func jsonLinesOf[T any](t *testing.T, out string) []T {
	t.Helper()
	var vs []T
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("a line that is not JSON: %v: %s", err, sc.Text())
		}
		vs = append(vs, v)
	}
	return vs
}

// TestInspect: ls, diff, stats and snapshots read a repository without a
// mount and agree with what the mount shows and with what changed.
func TestInspect(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		m := r.mount(t)
		buildRsyncTree(t, filepath.Join(m.dir, "data"), newRand("inspect"), false)
		first := m.snapshot(t, "--tag", "daily", "--tag", "db")

		// Change: a new file, a removed one, new contents, a chmod.
		writeFile(t, filepath.Join(m.dir, "data/files/new"), []byte("new file\n"), 0o644)
		must(t, os.Remove(filepath.Join(m.dir, "data/files/b4095")))
		writeFile(t, filepath.Join(m.dir, "data/files/b4096"), []byte("other contents"), 0o755) // O_TRUNC: a new file
		must(t, os.Chmod(filepath.Join(m.dir, "data/sticky/inside"), 0o600))
		second := m.snapshot(t)
		want := scanTree(t, filepath.Join(m.dir, ".snapshots/latest"))
		m.umount(t)

		// ls -R --json agrees with the snapshot as the mount showed it.
		res := r.mustCoffer(t, shortTimeout, append([]string{"ls", "--json", "-R", "latest"}, r.repoArgs()...)...)
		nodes := jsonLinesOf[lsNode](t, res.stdout)
		got := map[string]lsNode{}
		for _, n := range nodes {
			got[strings.TrimPrefix(n.Path, "/")] = n
		}
		for rel, w := range want {
			if rel == "." {
				continue
			}
			g, ok := got[rel]
			if !ok {
				t.Errorf("ls: %s missing", rel)
				continue
			}
			typ := map[fs.FileMode]string{fs.ModeDir: "dir", fs.ModeSymlink: "symlink", 0: "file"}[w.typ]
			mt, err := time.Parse(time.RFC3339Nano, g.Mtime)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for n := range w.xattrs {
				names = append(names, n)
			}
			slices.Sort(names)
			if g.Type != typ || g.Mode != octal4(w.perm) || g.UID != w.uid || g.GID != w.gid || g.Size != w.size ||
				!mt.Equal(w.mtime) || g.Target != w.target || !slices.Equal(g.Xattrs, names) ||
				(w.typ == 0 && g.Links != w.nlink) {
				t.Errorf("ls %s: %+v\nthe mount: %+v", rel, g, *w)
			}
		}
		if len(got) != len(want)-1 {
			t.Errorf("ls listed %d paths, the mount %d", len(got), len(want)-1)
		}
		// Plain and long listings of one directory and of one file.
		res = r.mustCoffer(t, shortTimeout, append([]string{"ls", first + ":/data/links"}, r.repoArgs()...)...)
		if res.stdout != "/data/links/abs\n/data/links/dangling\n/data/links/rel\n/data/links/todir\n" {
			t.Errorf("ls links: %q", res.stdout)
		}
		res = r.mustCoffer(t, shortTimeout, append([]string{"ls", "-l", first[:8] + ":data/files/one"}, r.repoArgs()...)...)
		if f := strings.Fields(res.stdout); len(f) != 8 || f[0] != "-rwsr-xr-x" || f[2] != "1234" || f[3] != "5678" ||
			f[4] != "1" || f[7] != "/data/files/one" {
			t.Errorf("ls -l files/one: %q", res.stdout)
		}

		// diff names exactly what changed.
		res = r.mustCoffer(t, shortTimeout, append([]string{"diff", "--json", first, second}, r.repoArgs()...)...)
		lines := jsonLinesOf[diffLine](t, res.stdout)
		var changes []string
		for _, l := range lines[:len(lines)-1] {
			changes = append(changes, l.Change+" "+l.Path+" "+strings.Join(l.What, ","))
		}
		wantChanges := []string{
			"metadata /data/files mtime",
			"changed /data/files/b4096 content,mtime",
			"removed /data/files/b4095 ",
			"added /data/files/new ",
			"metadata /data/sticky/inside mode",
		}
		slices.Sort(changes)
		slices.Sort(wantChanges)
		if !slices.Equal(changes, wantChanges) {
			t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(changes, "\n"), strings.Join(wantChanges, "\n"))
		}
		if st := lines[len(lines)-1]; st.MessageType != "statistics" || st.Added.Files != 1 || st.Added.Bytes != 9 || st.Changed != 1 {
			t.Errorf("diff statistics: %+v", st)
		}
		res = r.mustCoffer(t, shortTimeout, append([]string{"diff", first + ":/data/sticky", second + ":/data/sticky"}, r.repoArgs()...)...)
		if !strings.HasPrefix(res.stdout, "U    /data/sticky/inside  (mode)\n\nAdded:") {
			t.Errorf("diff of one directory: %q", res.stdout)
		}
		res = r.mustCoffer(t, shortTimeout, append([]string{"diff", first, first}, r.repoArgs()...)...)
		if !strings.HasPrefix(res.stdout, "\nAdded:    0 files") {
			t.Errorf("diff of a snapshot with itself: %q", res.stdout)
		}

		// stats: what each added sums to what all store; snapshots agrees.
		res = r.mustCoffer(t, shortTimeout, append([]string{"stats", "--json"}, r.repoArgs()...)...)
		var st statsOut
		must(t, json.Unmarshal([]byte(res.stdout), &st))
		if st.Snapshots != 2 || len(st.PerSnapshot) != 2 || st.PerSnapshot[0].AddedBytes+st.PerSnapshot[1].AddedBytes != st.StoredBytes ||
			st.PerSnapshot[1].AddedBytes <= 0 || st.PerSnapshot[1].AddedBytes > st.PerSnapshot[0].AddedBytes/10 ||
			st.DedupRatio < 1.5 { // the second snapshot is nearly all the first's blocks
			t.Errorf("stats: %+v", st)
		}
		res = r.mustCoffer(t, shortTimeout, append([]string{"snapshots", "--json"}, r.repoArgs()...)...)
		var snaps []snapListed
		must(t, json.Unmarshal([]byte(res.stdout), &snaps))
		if len(snaps) != 2 || snaps[0].ID != first || !slices.Equal(snaps[0].Tags, []string{"daily", "db"}) ||
			snaps[1].Parent != first || snaps[0].Parent != "" ||
			snaps[0].AddedBytes != st.PerSnapshot[0].AddedBytes || snaps[1].AddedBytes != st.PerSnapshot[1].AddedBytes {
			t.Errorf("snapshots: %+v (stats %+v)", snaps, st)
		}
		res = r.mustCoffer(t, shortTimeout, append([]string{"stats", "--json", "--tag", "daily"}, r.repoArgs()...)...)
		var one statsOut
		must(t, json.Unmarshal([]byte(res.stdout), &one))
		if one.Snapshots != 1 || one.PerSnapshot[0].ID != first {
			t.Errorf("stats --tag daily: %+v", one)
		}

		// Mistakes: the documented exit codes, one line each.
		for _, c := range []struct {
			args []string
			code int
			says string
		}{
			{[]string{"ls", "latest:/data/nope"}, 4, "/data/nope: no such file or directory"},
			{[]string{"ls", "nosuchsnapshot"}, 4, "snapshot"},
			{[]string{"ls", "--tag", "weekly", "latest"}, 4, "no snapshot matches --tag weekly"},
			{[]string{"diff", first}, 2, "usage"},
			{[]string{"diff", first + ":/data", "latest:/data/files"}, 2, "give the same :PATH"},
			{[]string{"diff", first + ":/nope", "latest:/nope"}, 4, "/nope: no such file or directory"},
			{[]string{"stats", "--latest", "-2"}, 2, "--latest"},
		} {
			res := r.coffer(t, shortTimeout, append(c.args, r.repoArgs()...)...)
			if res.exitCode() != c.code || !strings.Contains(res.stderr, c.says) || strings.Count(strings.TrimSpace(res.stderr), "\n") != 0 {
				t.Errorf("coffer %v: exit %d, %q; want %d saying %q", c.args, res.exitCode(), res.stderr, c.code, c.says)
			}
		}
	})
}

func octal4(perm uint32) string {
	const digits = "01234567"
	return string([]byte{digits[perm>>9&7], digits[perm>>6&7], digits[perm>>3&7], digits[perm&7]})
}

// TestInspectRestoreCredentials: ls, diff, stats and snapshots need only
// what the restore role's policy grants (read and list), so a machine
// that may not write can look at a repository.
func TestInspectRestoreCredentials(t *testing.T) {
	gw := startIAMGateway(t)
	server, reader := gw.createUser(t, "serverkey"), gw.createUser(t, "readerkey")
	bucket := gw.newBucket(t, true)
	policy := func(user creds, role string) string {
		return mustRun(t, shortTimeout, nil, cofferBin, "policy", "--repo", "s3://"+bucket+"/host1", "--principal", user.access,
			"--role", role, "--for", "versitygw", "--allow-http").stdout
	}
	gw.putPolicy(t, bucket, policy(server, "server"))
	r := newRepo(t, gw.backend(bucket, "host1", server))
	m := r.mount(t)
	writeFile(t, filepath.Join(m.dir, "a"), []byte("one"), 0o644)
	first := m.snapshot(t, "--tag", "daily")
	writeFile(t, filepath.Join(m.dir, "b"), []byte("two"), 0o644)
	m.snapshot(t)
	m.umount(t)

	gw.putPolicy(t, bucket, policy(reader, "restore"))
	r.be = gw.backend(bucket, "host1", reader)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := gw.client(reader).PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("host1/x"),
		Body: strings.NewReader("x")}); err == nil {
		t.Fatal("the restore credentials may write: the test proves nothing")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"snapshots", "--tag", "daily"}, first[:16]},
		{[]string{"ls", "latest"}, "/a\n/b\n"},
		{[]string{"diff", first, "latest"}, "+    /b\n"},
		{[]string{"stats", "--json"}, `"snapshots": 2`},
	} {
		res := r.coffer(t, shortTimeout, append(c.args, r.repoArgs()...)...)
		if res.err != nil || !strings.Contains(res.stdout, c.want) {
			t.Errorf("coffer %v with restore credentials: %v; want %q in the output", c.args, res, c.want)
		}
	}
}
