package files

import (
	"bufio"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// notGuest are the entries of this directory that are not guest files.
func notGuest(name string) bool {
	return strings.HasSuffix(name, ".go") || name == "manifest.txt" || name == "testdata"
}

// TestManifestMatchesFiles checks manifest.txt against the files on disk (so
// a new top-level directory missing from the go:embed line is caught too)
// and against the embedded tree.
func TestManifestMatchesFiles(t *testing.T) {
	modes, err := parseManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	err = filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if !strings.Contains(p, string(filepath.Separator)) && notGuest(p) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		name := filepath.ToSlash(p)
		if d.IsDir() {
			name += "/"
		} else if !d.Type().IsRegular() {
			t.Errorf("%s is not a regular file or directory", name)
		}
		onDisk = append(onDisk, name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for name, mode := range modes {
		if mode.IsDir() {
			name += "/"
		}
		listed = append(listed, name)
	}
	slices.Sort(onDisk)
	slices.Sort(listed)
	for _, name := range onDisk {
		if !slices.Contains(listed, name) {
			t.Errorf("files/%s has no line in manifest.txt", name)
		}
	}
	for _, name := range listed {
		if !slices.Contains(onDisk, name) {
			t.Errorf("manifest.txt lists %s, which is not under files/", name)
		}
	}
	if err := checkManifest(guest, modes); err != nil {
		t.Errorf("checkManifest(embedded files) = %v, want nil (is a directory missing from go:embed?)", err)
	}
}

func TestParseManifestErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"etc/ 0755\netc/a\n", "manifest.txt:2: want \"path mode\""},
		{"/etc/ 0755\n", "manifest.txt:1: path \"/etc/\" is not a clean"},
		{"etc/../x 0644\n", "is not a clean relative path"},
		{"./ 0755\n", "is not a clean relative path"},
		{"etc/a 644\n", "manifest.txt:1: mode \"644\" is not four octal digits"},
		{"etc/a 0789\n", "is not four octal digits"},
		{"etc/a 0644\n# c\netc/a 0600\n", "manifest.txt:3: etc/a is listed twice"},
	} {
		_, err := parseManifest([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseManifest(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
	modes, err := parseManifest([]byte("a/ 1777\na/b 4755\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := modes["a"], fs.ModeDir|fs.ModeSticky|0o777; got != want {
		t.Errorf("parseManifest(a/ 1777)[a] = %v, want %v", got, want)
	}
	if got, want := modes["b"], fs.FileMode(0); got != want {
		t.Errorf("parseManifest(...)[b] = %v, want absent", got)
	}
	if got, want := modes["a/b"], fs.ModeSetuid|0o755; got != want {
		t.Errorf("parseManifest(a/b 4755)[a/b] = %v, want %v", got, want)
	}
}

func TestCheckManifestErrors(t *testing.T) {
	fsys := fstest.MapFS{"etc/a": {Data: []byte("x")}, "etc/d": {Mode: fs.ModeDir | 0o755}}
	for _, tc := range []struct{ manifest, want string }{
		{"etc/ 0755\netc/d/ 0755\n", "manifest.txt has no mode for etc/a"},
		{"etc/ 0755\netc/a 0644\netc/d/ 0755\netc/b 0644\n", "manifest.txt lists etc/b, which is not under files/"},
		{"etc/ 0755\netc/a/ 0755\netc/d/ 0755\n", "etc/a is a directory on one side only"},
		{"etc/ 0755\netc/a 0644\netc/d 0755\n", "etc/d is a directory on one side only"},
	} {
		modes, err := parseManifest([]byte(tc.manifest))
		if err != nil {
			t.Fatal(err)
		}
		err = checkManifest(fsys, modes)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkManifest(%q) = %v, want an error containing %q", tc.manifest, err, tc.want)
		}
	}
}

// TestFS checks the fs.FS contract (testing/fstest) and the declared modes,
// through every way a caller can ask for a mode.
func TestFS(t *testing.T) {
	fsys := FS()
	modes, err := parseManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for name := range modes {
		all = append(all, name)
	}
	if err := fstest.TestFS(fsys, all...); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want fs.FileMode
	}{
		{".", fs.ModeDir | 0o755},
		{"root", fs.ModeDir | 0o700},
		{"root/.ssh", fs.ModeDir | 0o700},
		{"root/.ssh/rc", 0o644},
		{"usr/sbin/sbx-init", 0o755},
		{"usr/local/bin/sbx-shell", 0o755},
		{"usr/local/bin/sbx-start-hooks", 0o755},
		{"etc/sbx/session-env.sh", 0o600},
		{"etc/resolv.conf", 0o644},
		{"etc/inittab", 0o644},
	} {
		st, err := fs.Stat(fsys, tc.name)
		if err != nil {
			t.Errorf("Stat(%s): %v", tc.name, err)
			continue
		}
		if got := st.Mode(); got != tc.want {
			t.Errorf("Stat(%s).Mode() = %v, want %v", tc.name, got, tc.want)
		}
		if st.Sys() != nil || !st.ModTime().IsZero() {
			t.Errorf("Stat(%s) = Sys %v, ModTime %v, want nil and the zero time", tc.name, st.Sys(), st.ModTime())
		}
	}
	// Every entry, as ReadDir's Info and as an opened file's Stat, has
	// its manifest mode.
	err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || name == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if got, want := info.Mode(), modes[name]; got != want {
			t.Errorf("ReadDir entry %s: Info().Mode() = %v, want %v", name, got, want)
		}
		f, err := fsys.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if got, want := st.Mode(), modes[name]; got != want {
			t.Errorf("Open(%s).Stat().Mode() = %v, want %v", name, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestPaths(t *testing.T) {
	fsys := FS()
	for _, p := range []string{RootShell, InitPath} {
		st, err := fs.Stat(fsys, strings.TrimPrefix(p, "/"))
		if err != nil || st.Mode() != 0o755 {
			t.Errorf("Stat(%s) = %v, %v, want a 0755 file", p, st, err)
		}
	}
	shells, err := fs.ReadFile(fsys, "etc/shells")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Split(string(shells), "\n"), RootShell) {
		t.Errorf("etc/shells does not list RootShell %s:\n%s", RootShell, shells)
	}
}

// shellFiles are the guest files that sh runs or sources: every file with a
// "#!/bin/sh" line, and these.
var sourced = []string{"etc/profile.d/sbx-session-env.sh", "etc/sbx/session-env.sh", "root/.ssh/rc"}

func shellFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(FS(), name)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		script := strings.HasPrefix(string(data), "#!")
		if script && !strings.HasPrefix(string(data), "#!/bin/sh\n") {
			t.Errorf("%s starts with %q, want #!/bin/sh (busybox sh is the only shell every image has)", name, strings.SplitN(string(data), "\n", 2)[0])
		}
		if script != (info.Mode()&0o111 != 0) {
			t.Errorf("%s: #! line %v but mode %v: a script must be executable and only a script", name, script, info.Mode())
		}
		if script || slices.Contains(sourced, name) {
			names = append(names, name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestScriptsParse runs `busybox sh -n` (parse only) on every shell file.
func TestScriptsParse(t *testing.T) {
	busybox := testenv.Tool(t, "busybox")
	names := shellFiles(t)
	if len(names) < 7 {
		t.Fatalf("found %d shell files %v, want at least 7", len(names), names)
	}
	dir := t.TempDir()
	for _, name := range names {
		data, err := fs.ReadFile(FS(), name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, strings.ReplaceAll(name, "/", "_"))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(busybox, "sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("busybox sh -n %s: %v\n%s", name, err, out)
		}
	}
	// The check itself must be able to fail.
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("if true; then echo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(busybox, "sh", "-n", bad).Run(); err == nil {
		t.Errorf("busybox sh -n accepted an unterminated if")
	}
}

// TestInittab checks that every inittab line has busybox's four fields and a
// known action, and that each program it starts is a guest file or a
// busybox applet of the real v3.23 busybox.
func TestInittab(t *testing.T) {
	applets := busyboxApplets(t)
	data, err := fs.ReadFile(FS(), "etc/inittab")
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, ":", 4)
		if len(f) != 4 {
			t.Errorf("inittab:%d: %q has %d fields, want id:runlevels:action:process", n, line, len(f))
			continue
		}
		switch f[2] {
		case "sysinit", "wait", "once", "respawn", "askfirst", "ctrlaltdel", "shutdown", "restart":
		default:
			t.Errorf("inittab:%d: action %q is not one busybox init knows", n, f[2])
		}
		actions[f[2]] = true
		prog := strings.Fields(f[3])[0]
		if _, err := fs.Stat(FS(), strings.TrimPrefix(prog, "/")); err != nil && !applets[strings.TrimPrefix(prog, "/")] {
			t.Errorf("inittab:%d: %s is neither a guest file nor a busybox applet", n, prog)
		}
	}
	for _, want := range []string{"sysinit", "once", "respawn", "shutdown"} {
		if !actions[want] {
			t.Errorf("inittab has no %s line", want)
		}
	}
	if !strings.Contains(string(data), "\nttyS0::respawn:/sbin/getty -L 115200 ttyS0 vt100\n") {
		t.Errorf("inittab has no getty on ttyS0, Firecracker's console")
	}
}

// busyboxApplets returns the paths (without the leading "/") of the applet
// links of busybox 1.37.0-r30, the v3.23 one.
func busyboxApplets(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.SharedTestdata(t), "packages", "busybox-paths.d-busybox-1.37.0-r30.txt"))
	if err != nil {
		t.Fatal(err)
	}
	applets := map[string]bool{"bin/busybox": true}
	for _, p := range strings.Fields(string(data)) {
		applets[p] = true
	}
	if len(applets) < 300 {
		t.Fatalf("read %d busybox applets, want 304", len(applets)-1)
	}
	return applets
}
