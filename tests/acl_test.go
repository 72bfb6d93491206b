package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ext4Dir returns an empty directory on ext4, the filesystem whose ACL
// behaviour coffer mirrors: under /var/tmp when that is ext4, else on a
// small loop-mounted ext4 image made for the test and unmounted after.
func ext4Dir(t *testing.T) string {
	t.Helper()
	res := mustRun(t, shortTimeout, nil, tool(t, "df"), "--output=fstype", "/var/tmp")
	if strings.Contains(res.stdout, "ext4") {
		d, err := os.MkdirTemp("/var/tmp", "coffer-ext4-")
		must(t, err)
		t.Cleanup(func() { os.RemoveAll(d) })
		return d
	}
	scratch := t.TempDir()
	img, mnt := filepath.Join(scratch, "ext4.img"), filepath.Join(scratch, "ext4")
	must(t, os.Mkdir(mnt, 0o755))
	mustRun(t, shortTimeout, nil, tool(t, "truncate"), "-s", "64M", img)
	mustRun(t, shortTimeout, nil, tool(t, "mkfs.ext4"), "-q", "-F", img)
	mustRun(t, shortTimeout, nil, tool(t, "mount"), "-o", "loop", img, mnt)
	t.Cleanup(func() {
		if res := run(t, shortTimeout, nil, tool(t, "umount"), mnt); res.err != nil {
			t.Errorf("umount %s: %v", mnt, res)
		}
	})
	return mnt
}

// aclSource is a tree on ext4 with what cp -a, rsync -A and tar --acls
// must carry: plain modes, an extended access ACL, and a directory with a
// default ACL.
const aclSource = `
umask 022
mkdir src && cd src
echo a > plain644 && chmod 0644 plain644
echo b > plain600 && chmod 0600 plain600
echo c > named && chmod 0640 named && setfacl -m u:1234:rwx,g:2345:r named
mkdir shared && chmod 0750 shared && setfacl -m u:1234:rx -d -m u:1234:rwx,g::rx shared
echo d > shared/inner && setfacl -m u:1234:r shared/inner
`

// aclSteps are changes made in place, after cp -a, on both filesystems.
const aclSteps = `
umask 022
cd t
setfacl -m u:4321:rw plain644
chmod 0604 named
setfacl -m m::r named
setfacl -b plain600
# Under a default ACL the umask does not count; elsewhere it does.
echo e > shared/new && mkdir shared/sub && mkfifo shared/fifo
echo f > masked && mkdir masked.d && mkfifo masked.p
(umask 077 && echo g > private)
chmod 0755 plain644 && setfacl -x u:4321 plain644
setfacl -k shared/sub
setfattr -x system.posix_acl_access shared/inner
`

// aclState is what a person would compare: every mode and every ACL,
// numerically, with names relative to dir.
func aclState(t *testing.T, dir string) string {
	t.Helper()
	script := `cd "$1" && find . -mindepth 1 | LC_ALL=C sort | while read -r p; do
		stat -c '%n %A %a' "$p" && getfacl -n -p "$p" | grep -v '^# owner\|^# group'
	done`
	res := mustRun(t, shortTimeout, nil, tool(t, "sh"), "-c", script, "sh", dir)
	return res.stdout
}

func shIn(t *testing.T, dir, script string) {
	t.Helper()
	cmd := exec.Command(tool(t, "sh"), "-ec", script)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("in %s: %v\n%s", dir, err, out)
	}
}

func diffState(t *testing.T, label, want, got string) {
	t.Helper()
	if want == got {
		return
	}
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var d []string
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			d = append(d, "ext4:   "+w, "coffer: "+g)
		}
	}
	t.Errorf("%s: modes or ACLs differ from ext4's:\n%s", label, strings.Join(d, "\n"))
}

// TestACL copies a tree with ACLs into the head with cp -a, changes ACLs
// and modes in place with setfacl, chmod and setfattr, and compares every
// mode (stat) and ACL (getfacl) with the same steps on ext4; then the
// snapshot, and restores from it with rsync -aAX and tar --acls back onto
// ext4, must show the same again.
func TestACL(t *testing.T) {
	for _, name := range []string{"cp", "rsync", "tar", "getfacl", "setfacl", "setfattr", "stat", "find"} {
		tool(t, name)
	}
	ext4 := ext4Dir(t)
	shIn(t, ext4, aclSource)
	src := filepath.Join(ext4, "src")
	ref := filepath.Join(ext4, "ref")
	must(t, os.Mkdir(ref, 0o755))
	shIn(t, ref, "cp -a "+src+" t")
	initial := aclState(t, filepath.Join(ref, "t"))
	shIn(t, ref, aclSteps)
	want := aclState(t, filepath.Join(ref, "t"))
	if !strings.Contains(want, "user:1234:rwx") || !strings.Contains(initial, "default:user:1234:rwx") {
		t.Fatalf("the ext4 reference shows no ACLs: is acl support off?\n%s", want)
	}

	forEachBackend(t, func(t *testing.T, be *backend) {
		m := newRepo(t, be).mount(t)
		shIn(t, m.dir, `cp -a `+src+` t`)
		diffState(t, "after cp -a", initial, aclState(t, filepath.Join(m.dir, "t")))
		shIn(t, m.dir, aclSteps)
		diffState(t, "after setfacl and chmod", want, aclState(t, filepath.Join(m.dir, "t")))

		m.snapshot(t)
		snap := filepath.Join(m.dir, ".snapshots", "latest", "t")
		diffState(t, "the snapshot", want, aclState(t, snap))

		restored := filepath.Join(ext4, "restored-"+be.name)
		must(t, os.MkdirAll(filepath.Join(restored, "rsync"), 0o755))
		must(t, os.MkdirAll(filepath.Join(restored, "tar"), 0o755))
		mustRun(t, longTimeout, nil, tool(t, "rsync"), "-aAX", snap+"/", filepath.Join(restored, "rsync", "t")+"/")
		diffState(t, "rsync -aAX back to ext4", want, aclState(t, filepath.Join(restored, "rsync", "t")))
		tarball := filepath.Join(t.TempDir(), "t.tar")
		mustRun(t, longTimeout, nil, tool(t, "tar"), "--acls", "--xattrs", "-cf", tarball, "-C", filepath.Dir(snap), "t")
		mustRun(t, longTimeout, nil, tool(t, "tar"), "--acls", "--xattrs", "-xpf", tarball, "-C", filepath.Join(restored, "tar"))
		diffState(t, "tar --acls back to ext4", want, aclState(t, filepath.Join(restored, "tar", "t")))
		m.umount(t)
	})
}
