package e2etest

import (
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// Stand-ins for the static guest files (package files writes the real
// ones), just enough for the hook to prove what it proves: sbx-init mounts
// devpts and execs /sbin/init; busybox init runs the start hooks; the
// session-env chain reaches login shells through /etc/profile.d and the
// `ssh host cmd` path through root's passwd shell, a wrapper here.
const (
	standinSbxInit = `#!/bin/sh
/bin/busybox mkdir -p /dev/pts
/bin/busybox mount -n -t devpts devpts /dev/pts
exec /sbin/init "$@"
`
	standinInittab = `::sysinit:/bin/mount -n -t proc proc /proc
::sysinit:/bin/mount -n -t sysfs sysfs /sys
::wait:/usr/local/bin/sbx-start-hooks
::shutdown:/bin/umount -a -r
`
	standinHooks = `#!/bin/sh
for f in /etc/sbx/start.d/*; do
	[ -x "$f" ] || continue
	"$f" || echo "sbx-start-hooks: $f failed: $?"
done
`
	standinProfileD = `[ -r /etc/sbx/session-env.sh ] && . /etc/sbx/session-env.sh
`
	standinShell = `#!/bin/sh
[ -r /etc/sbx/session-env.sh ] && . /etc/sbx/session-env.sh
exec /bin/sh "$@"
`
	standinPasswd = "root:x:0:0:root:/root:/usr/local/bin/sbx-shell\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"
)

// spec is one path of an image to assemble.
type spec struct {
	mode     fs.FileMode
	uid, gid uint32
	data     string
	link     string
	source   string // a host file's path, for its content
}

// hostTree is a root made from the host's static busybox with every applet
// link of the real 3.23 list (absolute, to /bin/busybox, as `busybox
// --install -s` makes them) and the directories the kernel and init need.
func hostTree(t *testing.T, busybox string) map[string]spec {
	t.Helper()
	list, err := os.ReadFile(filepath.Join(testenv.SharedTestdata(t), "packages/busybox-paths.d-busybox-1.37.0-r30.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tree := map[string]spec{
		"root":        {mode: fs.ModeDir | 0o700},
		"tmp":         {mode: fs.ModeDir | fs.ModeSticky | 0o777},
		"bin/busybox": {mode: 0o755, source: busybox},
	}
	for _, d := range []string{"dev", "proc", "sys", "run"} {
		tree[d] = spec{mode: fs.ModeDir | 0o755}
	}
	for _, l := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		tree[l] = spec{mode: fs.ModeSymlink | 0o777, link: "/bin/busybox"}
	}
	return tree
}

// standins are the stand-in guest files, the real /etc/profile, the hook,
// and files (path → content, executable when it starts with "#!").
func standins(t *testing.T, nonce string, files map[string]string) map[string]spec {
	t.Helper()
	profile, err := os.ReadFile(filepath.Join(testenv.SharedTestdata(t), "minirootfs-3.20.3/etc/profile"))
	if err != nil {
		t.Fatal(err)
	}
	tree := map[string]spec{
		"usr/sbin/sbx-init":                {mode: 0o755, data: standinSbxInit},
		"etc/inittab":                      {mode: 0o644, data: standinInittab},
		"usr/local/bin/sbx-start-hooks":    {mode: 0o755, data: standinHooks},
		"usr/local/bin/sbx-shell":          {mode: 0o755, data: standinShell},
		"etc/profile":                      {mode: 0o644, data: string(profile)},
		"etc/profile.d/sbx-session-env.sh": {mode: 0o644, data: standinProfileD},
		"etc/passwd":                       {mode: 0o644, data: standinPasswd},
		hookPath:                           {mode: 0o755, data: hookScript(nonce)},
	}
	for p, data := range files {
		mode := fs.FileMode(0o644)
		if strings.HasPrefix(data, "#!") {
			mode = 0o755
		}
		tree[p] = spec{mode: mode, data: data}
	}
	return tree
}

// assembledImage is hostTree with the standins laid over it.
func assembledImage(t *testing.T, busybox, nonce string, files map[string]string) string {
	t.Helper()
	return writeImage(t, hostTree(t, busybox), standins(t, nonce, files))
}

// writeImage writes the layers, each replacing what it shares with the
// ones before, as an ext4 image with a journal (as the build's), adding
// implied parent directories.
func writeImage(t *testing.T, layers ...map[string]spec) string {
	t.Helper()
	tree := map[string]spec{}
	for _, l := range layers {
		for p, s := range l {
			tree[p] = s
		}
	}
	for p := range tree {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := tree[d]; !ok {
				tree[d] = spec{mode: fs.ModeDir | 0o755}
			}
		}
	}
	w := ext4img.NewWriter(ext4img.Options{})
	mt := time.Unix(1700000000, 0)
	paths := make([]string, 0, len(tree))
	for p := range tree {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, func(a, b string) int { // parents first
		if n := strings.Count(a, "/") - strings.Count(b, "/"); n != 0 {
			return n
		}
		return strings.Compare(a, b)
	})
	for _, p := range paths {
		s := tree[p]
		e := ext4img.Entry{Path: p, Mode: s.mode, UID: s.uid, GID: s.gid, ModTime: mt, Linkname: s.link}
		switch {
		case s.source != "":
			st, err := os.Stat(s.source)
			if err != nil {
				t.Fatal(err)
			}
			src := s.source
			e.Size = st.Size()
			e.Content = func() (io.ReadCloser, error) { return os.Open(src) }
		case s.mode.IsRegular():
			data := s.data
			e.Size = int64(len(data))
			e.Content = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data)), nil }
		}
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	img := filepath.Join(t.TempDir(), "assembled.ext4")
	if err := w.WriteFile(img, 0o644); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestGuestCheckOnAssembledImage proves the guest-side check before the
// build command exists: an image assembled the way the build should make
// it passes, and each broken variant fails the same check — a zeroed
// superblock (the kernel cannot mount it), a session-env.sh that does not
// export the variable, and an sbx-init that execs init without mounting
// devpts. Each semantic break must fail on its own fact alone.
func TestGuestCheckOnAssembledImage(t *testing.T) {
	m := machine(t)
	value := "e2e-" + nonce()
	good := map[string]string{sessionEnv: sessionEnvScript(value)}

	t.Run("passes", func(t *testing.T) {
		n := nonce()
		img := assembledImage(t, m.Busybox, n, good)
		if err := checkBoot(t, m, img, n, value); err != nil {
			t.Fatalf("the assembled image should pass the check: %v", err)
		}
	})
	for _, tt := range []struct {
		name     string
		files    map[string]string
		corrupt  func(t *testing.T, img string)
		want     string
		problems int // the facts not proven; 0: the guest never got that far
	}{
		{"superblock zeroed", good, zeroSuperblock, "never started", 0},
		{"variable not exported", map[string]string{sessionEnv: "# nothing\n"}, nil, "sees the session variable", 2},
		{"sbx-init does not mount devpts", map[string]string{sessionEnv: sessionEnvScript(value),
			"usr/sbin/sbx-init": "#!/bin/sh\nexec /sbin/init \"$@\"\n"}, nil, "devpts is mounted", 1},
	} {
		t.Run("negative/"+tt.name, func(t *testing.T) {
			n := nonce()
			img := assembledImage(t, m.Busybox, n, tt.files)
			if tt.corrupt != nil {
				tt.corrupt(t, img)
			}
			err := checkBoot(t, m, img, n, value)
			if err == nil {
				t.Fatal("checkBoot of a broken image = nil, want the check to fail")
			}
			if n := strings.Count(err.Error(), "not proven:"); !strings.Contains(err.Error(), tt.want) || n != tt.problems {
				t.Errorf("checkBoot = %v\nwant it to fail on %q alone (%d facts)", err, tt.want, tt.problems)
			}
		})
	}
}
