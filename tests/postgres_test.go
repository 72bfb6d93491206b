package tests

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const pgBinDir = "/usr/lib/postgresql/15/bin"

// pgCluster is a throwaway PostgreSQL 15 cluster listening only on a Unix
// socket in its own directory.
type pgCluster struct {
	dir string // socket directory; the data directory is dir/data
}

// startPostgres initialises and starts a cluster owned by the postgres user
// and stops it in cleanup.
func startPostgres(t *testing.T) *pgCluster {
	t.Helper()
	runuser := tool(t, "runuser")
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(pgBinDir, b)); err != nil {
			t.Fatalf("PostgreSQL 15 server binary missing (run `make deps`): %v", err)
		}
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("user postgres missing (run `make deps`): %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// Not t.TempDir: its parents are 0700 root, and postgres must reach it.
	dir, err := os.MkdirTemp("", "coffer-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	must(t, os.Chown(dir, uid, gid))

	c := &pgCluster{dir: dir}
	data := filepath.Join(dir, "data")
	mustRun(t, longTimeout, nil, runuser, "-u", "postgres", "--",
		filepath.Join(pgBinDir, "initdb"), "-D", data, "--auth=trust", "-E", "UTF8", "--no-sync")
	pgctl := filepath.Join(pgBinDir, "pg_ctl")
	mustRun(t, longTimeout, nil, runuser, "-u", "postgres", "--", pgctl, "-D", data,
		"-l", filepath.Join(dir, "server.log"),
		"-o", fmt.Sprintf("-k %s -c listen_addresses='' -c fsync=off", dir), "-w", "start")
	t.Cleanup(func() {
		res := run(t, shortTimeout, nil, runuser, "-u", "postgres", "--", pgctl, "-D", data, "-m", "fast", "-w", "stop")
		if res.err != nil {
			t.Errorf("pg_ctl stop: %v", res)
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "server.log")); err == nil {
				t.Logf("postgres log:\n%s", clip(string(b)))
			}
		}
	})
	return c
}

// conn are the client flags that reach the cluster as the superuser.
func (c *pgCluster) conn(db string) []string {
	return []string{"-h", c.dir, "-U", "postgres", "-d", db}
}

// sql runs SQL in db and returns psql's unaligned output.
func (c *pgCluster) sql(t testing.TB, db, query string) string {
	t.Helper()
	args := append(c.conn(db), "-X", "-v", "ON_ERROR_STOP=1", "-Atc", query)
	return strings.TrimSpace(mustRun(t, longTimeout, nil, tool(t, "psql"), args...).stdout)
}

func (c *pgCluster) createDB(t testing.TB, name string) {
	t.Helper()
	c.sql(t, "postgres", "CREATE DATABASE "+name+" TEMPLATE template0")
}

// pgTables are the tables the test compares after each restore.
var pgTables = []string{"pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history", "extra"}

// checksums returns each table's row count and an order-independent digest
// of its rows.
func (c *pgCluster) checksums(t testing.TB, db string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tbl := range pgTables {
		out[tbl] = c.sql(t, db, fmt.Sprintf(
			"SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '-') FROM %s t", tbl))
	}
	return out
}

// TestPostgres dumps a database into the head with pg_dump's custom,
// directory (parallel) and plain formats, snapshots, restores each from the
// snapshot into a fresh database and compares every table.
func TestPostgres(t *testing.T) {
	pgDump, pgRestore, pgbench := tool(t, "pg_dump"), tool(t, "pg_restore"), tool(t, "pgbench")
	psql := tool(t, "psql")
	tool(t, "sh")
	c := startPostgres(t)
	c.createDB(t, "src")
	mustRun(t, longTimeout, nil, pgbench, append([]string{"-i", "-s", "5", "-q"}, c.conn("src")...)...)
	c.sql(t, "src", `CREATE TABLE extra AS SELECT g AS id, md5(g::text) AS h,
		repeat(chr(65 + g % 26), g % 300) AS pad, date '2000-01-01' + g % 5000 AS d,
		g * 1.5::numeric AS n, decode(md5(g::text), 'hex') AS b
		FROM generate_series(1, 200000) g`)
	c.sql(t, "src", "INSERT INTO pgbench_history SELECT g % 50 + 1, g % 5 + 1, g, g % 1000, "+
		"timestamp '2020-01-01' + g * interval '1 second', 'x' FROM generate_series(1, 20000) g")
	want := c.checksums(t, "src")

	forEachBackend(t, func(t *testing.T, be *backend) {
		r := newRepo(t, be)
		m := r.mount(t)
		dumpC := filepath.Join(m.dir, "db.dump")
		dumpD := filepath.Join(m.dir, "db.dir")
		dumpP := filepath.Join(m.dir, "db.sql")
		// pg_dump -f ends by opening each file it wrote O_RDWR to fsync
		// it: that must work on a finished file, without a word on stderr
		// (pg_dump exits 0 for -Fc even when it fails).
		for _, args := range [][]string{{"-Fc", "-f", dumpC}, {"-Fd", "-j", "2", "-f", dumpD}} {
			res := mustRun(t, longTimeout, nil, pgDump, append(c.conn("src"), args...)...)
			if res.stderr != "" {
				t.Errorf("pg_dump %s: stderr not empty:\n%s", strings.Join(args, " "), res.stderr)
			}
		}
		res := sh(t, longTimeout, fmt.Sprintf("%s -h %s -U postgres src > %s", pgDump, c.dir, dumpP))
		if res.err != nil {
			t.Fatalf("pg_dump > db.sql: %v", res)
		}
		if res.stderr != "" {
			t.Errorf("pg_dump > db.sql: stderr not empty:\n%s", res.stderr)
		}
		head := scanTree(t, m.dir)
		m.snapshot(t)
		latest := filepath.Join(m.dir, ".snapshots", "latest")
		snap := scanTree(t, latest)
		delete(head, ".") // the root's own attributes are not the dumps'
		delete(snap, ".")
		compareTrees(t, "snapshot of the dumps", head, snap, cmpOpts{})

		mustRun(t, shortTimeout, nil, pgRestore, "-l", filepath.Join(latest, "db.dump"))
		restores := map[string][]string{
			"custom": {pgRestore, "--exit-on-error", "-d"},
			"dir":    {pgRestore, "--exit-on-error", "-j", "2", "-d"},
			"plain":  {psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d"},
		}
		for kind, argv := range restores {
			db := fmt.Sprintf("r_%s_%s", be.name, kind)
			c.createDB(t, db)
			args := append([]string{}, argv[1:]...)
			args = append(args, db, "-h", c.dir, "-U", "postgres")
			switch kind {
			case "custom":
				args = append(args, filepath.Join(latest, "db.dump"))
			case "dir":
				args = append(args, filepath.Join(latest, "db.dir"))
			case "plain":
				args = append(args, "-f", filepath.Join(latest, "db.sql"))
			}
			start := time.Now()
			mustRun(t, longTimeout, nil, argv[0], args...)
			got := c.checksums(t, db)
			for _, tbl := range pgTables {
				if got[tbl] != want[tbl] {
					t.Errorf("%s restore: table %s = %s, want %s", kind, tbl, got[tbl], want[tbl])
				}
			}
			t.Logf("%s restore from the snapshot took %v", kind, time.Since(start).Round(time.Millisecond))
		}
		m.umount(t)
	})
}
