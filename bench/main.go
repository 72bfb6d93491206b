// Command bench measures coffer beside the tools its users compare it with:
// a plain directory on the same disk, go-fuse's loopback example (the floor
// for any FUSE filesystem here), gocryptfs, an rclone crypt mount and
// restic, all in one run, and prints one table of figures with their
// targets. With -scale N it runs the scale benchmark instead: a generated
// tree of N small files.
//
//	make bench                        # what a user runs (builds coffer first)
//	go run ./bench -quick             # small sizes, for working on the program
//	go run ./bench -scale 100000      # the scale benchmark on 100,000 files
//
// docs/BENCHMARKS.md says what each figure means. It needs root (FUSE
// mounts, dropping the page cache), and stops only processes it started
// itself, by their PIDs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// config is what the flags choose.
type config struct {
	quick     bool
	dir       string // BENCH_DIR: where the work happens
	coffer    string // the binary under test
	sizeMB    int    // the file written and read
	bigMB     int    // the second file of the memory figure
	tree      string // the tree copied, restored and backed up
	tiny      int    // files of the creation loop
	scale     int    // > 0: run the scale benchmark on this many files
	scaleDirs int    // directories of the scale tree
	timeout   time.Duration
	keep      bool
	only      map[string]bool // figure groups to run; empty: all
	skip      map[string]bool // figure groups or tools to leave out
}

// groups of figures, for -only and -skip; tools (gocryptfs, rclone,
// loopback) can also be skipped.
var groups = []string{"write", "rsync", "tiny", "read", "rss", "requests", "s3"}

// bench is one run: its settings, work directory, daemons and figures.
type bench struct {
	ctx        context.Context
	cfg        config
	work, logs string
	key        string // coffer's key file
	goVersion  string
	vals       map[string]float64
	notes      map[string]string // a line beside a figure (request breakdowns)
	fails      map[string]string
	warnings   []string
	daemons    []*daemon
	cleanups   []func() // run at the end, after the daemons stop (versitygw)
	dropWarned bool
	src        string // the random source of sizeMB
	treeFiles  int    // regular files in the tree
	rcloneRC   string // rclone's remote control address
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(64)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{ctx: ctx, cfg: cfg, vals: map[string]float64{}, notes: map[string]string{}, fails: map[string]string{}}
	code := b.main()
	os.Exit(code)
}

func parseFlags() (config, error) {
	var c config
	goroot := runtime.GOROOT()
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		goroot = strings.TrimSpace(string(out))
	}
	defCoffer := os.Getenv("COFFER_BIN")
	if defCoffer == "" {
		defCoffer = "bin/coffer"
	}
	var only, skip string
	flag.BoolVar(&c.quick, "quick", false, "small sizes (64 MiB files, $GOROOT/src/crypto, 5,000 tiny files): a run of a few minutes")
	flag.StringVar(&c.dir, "dir", envOr("BENCH_DIR", "/var/tmp/coffer-bench"), "where the work happens (a real disk, not tmpfs); random sources and results are kept there (env BENCH_DIR)")
	flag.StringVar(&c.coffer, "coffer", defCoffer, "the coffer binary under test (env COFFER_BIN)")
	flag.IntVar(&c.sizeMB, "size", 0, "MiB of the file written and read (default 1024, 64 with -quick)")
	flag.IntVar(&c.bigMB, "big", 0, "MiB of the second file of the memory figure (default 4096, 256 with -quick)")
	flag.StringVar(&c.tree, "tree", "", "the tree that is copied, restored and backed up (default $GOROOT/src, $GOROOT/src/crypto with -quick)")
	flag.IntVar(&c.tiny, "tiny", 0, "files of 64 bytes the creation loop makes (default 100000, 5000 with -quick)")
	flag.IntVar(&c.scale, "scale", 0, "run the scale benchmark on a generated tree of this many small files instead (make bench-scale: 1000000)")
	flag.IntVar(&c.scaleDirs, "scale-dirs", 0, "directories of the scale tree (default: one per 100 files)")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "how long one step may take before it counts as failed")
	flag.BoolVar(&c.keep, "keep", os.Getenv("BENCH_KEEP") == "1", "keep the work directory (repositories, copies) afterwards")
	flag.StringVar(&only, "only", "", "run only these figure groups, comma-separated: "+strings.Join(groups, ","))
	flag.StringVar(&skip, "skip", "", "leave out these figure groups or tools, comma-separated: the groups above, gocryptfs, rclone, loopback")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go run ./bench [flags]\n\nexit status: 0 when every target is met, 1 when a figure could not be\nmeasured, 2 when all were measured but some target was missed.\n\nThe versitygw binary comes from COFFER_VERSITYGW or .cache/bin/versitygw.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see -help)", flag.Arg(0))
	}
	pick := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if c.quick {
				*v = quick
			}
		}
	}
	pick(&c.sizeMB, 1024, 64)
	pick(&c.bigMB, 4096, 256)
	pick(&c.tiny, 100000, 5000)
	if c.tree == "" {
		c.tree = filepath.Join(goroot, "src")
		if c.quick {
			c.tree = filepath.Join(goroot, "src", "crypto")
		}
	}
	c.tree = filepath.Clean(c.tree)
	if c.scaleDirs == 0 {
		c.scaleDirs = max(1, c.scale/100)
	}
	var err error
	if c.coffer, err = filepath.Abs(c.coffer); err != nil {
		return c, err
	}
	c.only, c.skip = set(only), set(skip)
	known := set(strings.Join(groups, ",") + ",gocryptfs,rclone,loopback")
	for g := range c.only {
		if !known[g] {
			return c, fmt.Errorf("-only: unknown group %q", g)
		}
	}
	for g := range c.skip {
		if !known[g] {
			return c, fmt.Errorf("-skip: unknown group %q", g)
		}
	}
	return c, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func set(list string) map[string]bool {
	m := map[string]bool{}
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			m[s] = true
		}
	}
	return m
}

// wants says whether a figure group or tool is to be measured.
func (b *bench) wants(group string) bool {
	if b.cfg.skip[group] {
		return false
	}
	return len(b.cfg.only) == 0 || b.cfg.only[group] || !contains(groups, group)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// warn records something that went wrong without stopping a figure; it is
// listed under the table.
func (b *bench) warn(msg string) {
	b.warnings = append(b.warnings, msg)
	b.say("  warning: %s", msg)
}

func (b *bench) main() int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root (FUSE mounts, /proc/sys/vm/drop_caches)")
		return 1
	}
	for _, t := range []string{"dd", "rsync", "fusermount3", "tar", "cp", "find", "ls", "python3", "go"} {
		if _, err := exec.LookPath(t); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s is missing (make deps installs it)\n", t)
			return 1
		}
	}
	if st, err := os.Stat(b.cfg.tree); err != nil || !st.IsDir() {
		fmt.Fprintf(os.Stderr, "bench: tree %s not found (-tree)\n", b.cfg.tree)
		return 1
	}
	for _, d := range []string{"src", "results"} {
		if err := os.MkdirAll(filepath.Join(b.cfg.dir, d), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	var err error
	if b.work, err = os.MkdirTemp(b.cfg.dir, "run."); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	b.logs = filepath.Join(b.work, "logs")
	_ = os.MkdirAll(b.logs, 0o755)
	defer b.cleanup()

	stamp := time.Now().UTC().Format("20060102T150405Z")
	title := "coffer benchmark"
	if b.cfg.scale > 0 {
		title = fmt.Sprintf("coffer scale benchmark, %d files", b.cfg.scale)
	}
	machine := b.machine()
	fmt.Printf("== %s %s\n%s\n\n", title, stamp, machine)

	var rows []row
	if b.cfg.scale > 0 {
		rows = b.scaleBench()
	} else {
		rows = b.standard()
	}
	load := loadAvg()
	text, failed, missed := b.table(rows)
	var notes strings.Builder
	for _, w := range b.warnings {
		fmt.Fprintf(&notes, "- warning: %s\n", w)
	}
	fmt.Printf("\n%s\nload average at the end: %s\n", text, load)
	if notes.Len() > 0 {
		fmt.Printf("\n%s", notes.String())
	}
	results := filepath.Join(b.cfg.dir, "results", stamp+".md")
	md := fmt.Sprintf("# %s %s\n\n```\n%s\nload average at the end: %s\n```\n\n%s", title, stamp, machine, load, text)
	if notes.Len() > 0 {
		md += "\n" + notes.String()
	}
	if err := os.WriteFile(results, []byte(md), 0o644); err != nil {
		b.warn(err.Error())
	}
	_ = exec.Command("cp", "-r", b.logs, filepath.Join(b.cfg.dir, "results", stamp+"-logs")).Run()
	fmt.Printf("results: %s (logs in %s-logs)\n", results, strings.TrimSuffix(results, ".md"))

	switch {
	case b.ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		return 130
	case failed > 0:
		fmt.Fprintf(os.Stderr, "bench: %d figure(s) could not be measured\n", failed)
		return 1
	case missed > 0:
		fmt.Fprintf(os.Stderr, "bench: %d target(s) missed\n", missed)
		return 2
	}
	fmt.Println("bench: every target met")
	return 0
}

// cleanup stops every daemon still running, newest first, and removes
// the work directory unless -keep.
func (b *bench) cleanup() {
	for i := len(b.daemons) - 1; i >= 0; i-- {
		select {
		case <-b.daemons[i].done:
		default:
			b.stop(b.daemons[i])
		}
	}
	for _, c := range b.cleanups {
		c()
	}
	if b.cfg.keep {
		b.say("work directory kept: %s", b.work)
		return
	}
	_ = os.RemoveAll(b.work)
}

// machine describes the machine, the disk, the sizes and the tools: it
// belongs with the figures.
func (b *bench) machine() string {
	first := func(args ...string) string {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil && len(out) == 0 {
			return args[0] + " missing"
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return line
	}
	cpu := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	var si syscall.Sysinfo_t
	_ = syscall.Sysinfo(&si)
	var uts syscall.Utsname
	_ = syscall.Uname(&uts)
	fsType := first("findmnt", "-n", "-o", "FSTYPE,SOURCE", "--target", b.cfg.dir)
	if strings.HasPrefix(fsType, "tmpfs") {
		b.warn("BENCH_DIR " + b.cfg.dir + " is in memory: its figures say nothing about a disk")
	}
	var st syscall.Statfs_t
	_ = syscall.Statfs(b.cfg.dir, &st)
	var treeBytes int64
	b.treeFiles, treeBytes = countFiles(b.cfg.tree)
	b.goVersion = first("go", "version")
	var sb strings.Builder
	fmt.Fprintf(&sb, "machine:   %d CPUs, %s, %.1f GiB RAM; load average at the start: %s\n", runtime.NumCPU(), cpu,
		float64(si.Totalram)*float64(si.Unit)/(1<<30), loadAvg())
	fmt.Fprintf(&sb, "kernel:    %s %s\n", charsToString(uts.Sysname[:]), charsToString(uts.Release[:]))
	fmt.Fprintf(&sb, "BENCH_DIR: %s (%s), %.0f GiB free\n", b.cfg.dir, fsType, float64(st.Bavail)*float64(st.Bsize)/(1<<30))
	if b.cfg.scale == 0 {
		fmt.Fprintf(&sb, "sizes:     write/read %d MiB, big write %d MiB; tree %s (%d files, %d MiB); %d tiny files\n",
			b.cfg.sizeMB, b.cfg.bigMB, b.cfg.tree, b.treeFiles, treeBytes>>20, b.cfg.tiny)
	} else {
		fmt.Fprintf(&sb, "sizes:     %d files of 64 bytes in %d directories\n", b.cfg.scale, b.cfg.scaleDirs)
	}
	fmt.Fprintf(&sb, "tools:     %s; %s; %s; %s; go-fuse loopback from the module cache; %s\n",
		first("rsync", "--version"), cutAt(first("gocryptfs", "-version"), ";"), first("rclone", "version"),
		cutAt(first("restic", "version"), " compiled"), b.goVersion)
	fmt.Fprintf(&sb, "coffer:    %s (%s)", b.cfg.coffer, first(b.cfg.coffer, "version"))
	return sb.String()
}

// cutAt is s up to sep.
func cutAt(s, sep string) string {
	before, _, _ := strings.Cut(s, sep)
	return before
}

func charsToString(ca []int8) string {
	var sb strings.Builder
	for _, c := range ca {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// loadAvg is the first three fields of /proc/loadavg: how busy the
// machine was, which the figures depend on.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
