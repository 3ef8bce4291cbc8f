// Package files holds the static files rootfs-synth puts into every guest
// image, after the packages and before the user's overlays: the DNS
// defaults, the init wrapper (/usr/sbin/sbx-init), busybox init's inittab
// and boot script, the runner of the package scripts deferred to the first
// boot, the session-environment chain, the start-hook runner and sshd's
// start-up. The files are regular tracked files below this directory,
// laid out as in the guest (etc/resolv.conf, usr/sbin/sbx-init, ...); each
// says inside what it is for and who changes it.
//
// FS is the one view callers get. go:embed keeps neither modes nor owners,
// so manifest.txt beside the files declares each file's and directory's mode
// (0755 for scripts, 0700 for /root and /root/.ssh, 0600 for the session
// environment) and FS reports those: Stat, ReadDir and Info give the
// declared permission bits with the real type bits. Every entry is owned by
// uid 0, gid 0 (Sys returns nil); ModTime is the zero time, for the image
// builder to replace with the build's time. The root directory is 0755.
//
// What the image builder must do besides copying FS: set root's shell in
// /etc/passwd to RootShell (the session environment reaches `ssh host cmd`
// only through it; see that file), and boot with init=InitPath.
//
// Left out on purpose: symlinks, device nodes, owners other than root and
// anything that differs per sandbox (authorized keys, the hostname, session
// values): those come from the build's options, from `rootfs-synth patch`
// or from `sbx start`; SessionEnv writes the session file in the format the
// chain reads.
package files

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// RootShell is root's login shell in the guest: a wrapper that loads
// /etc/sbx/session-env.sh and then runs /bin/sh with the same arguments.
const RootShell = "/usr/local/bin/sbx-shell"

// InitPath is the guest's first process, for the kernel argument init=: it
// mounts devpts and then runs busybox init.
const InitPath = "/usr/sbin/sbx-init"

// DeferredScriptsDir is where the image build stores the package scripts
// it could not reproduce (provision.Options.DeferredScriptsDir), and where
// /usr/local/sbin/sbx-deferred-scripts, run from /etc/inittab before the
// start hooks, finds them at first boot.
const DeferredScriptsDir = "/usr/lib/rootfs-synth/deferred-scripts"

// The directories listed here are the whole guest tree; files_test.go checks
// that no other directory under files/ holds guest files.
//
//go:embed all:etc all:root all:usr
var guest embed.FS

//go:embed manifest.txt
var manifest []byte

// rootMode is the mode of the tree's root directory.
const rootMode = fs.ModeDir | 0o755

// FS returns the guest files with their declared modes (see the package
// doc). The returned value is safe for concurrent use.
func FS() fs.FS { return loaded() }

var loaded = sync.OnceValue(func() guestFS {
	modes, err := parseManifest(manifest)
	if err == nil {
		err = checkManifest(guest, modes)
	}
	if err != nil {
		// Both inputs are compiled in and files_test.go checks them, so
		// this is a broken build, not a run-time condition.
		panic("files: " + err.Error())
	}
	return guestFS{fsys: guest, modes: modes}
})

// parseManifest reads "path mode" lines; "#" starts a comment line. A path
// ending in "/" is a directory. It returns the modes by fs.ValidPath name,
// type bits included.
func parseManifest(data []byte) (map[string]fs.FileMode, error) {
	modes := make(map[string]fs.FileMode)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("manifest.txt:%d: want \"path mode\", got %q", n, line)
		}
		name, isDir := strings.CutSuffix(fields[0], "/")
		if !fs.ValidPath(name) || name == "." {
			return nil, fmt.Errorf("manifest.txt:%d: path %q is not a clean relative path", n, fields[0])
		}
		perm, err := strconv.ParseUint(fields[1], 8, 32)
		if err != nil || perm > 0o7777 || len(fields[1]) != 4 {
			return nil, fmt.Errorf("manifest.txt:%d: mode %q is not four octal digits", n, fields[1])
		}
		if _, dup := modes[name]; dup {
			return nil, fmt.Errorf("manifest.txt:%d: %s is listed twice", n, fields[0])
		}
		mode := unixmode.DecodePerm(uint32(perm))
		if isDir {
			mode |= fs.ModeDir
		}
		modes[name] = mode
	}
	return modes, sc.Err()
}

// checkManifest makes sure every entry of fsys has a mode of the same type
// and every mode an entry.
func checkManifest(fsys fs.FS, modes map[string]fs.FileMode) error {
	seen := make(map[string]bool, len(modes))
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || name == "." {
			return err
		}
		mode, ok := modes[name]
		switch {
		case !ok:
			return fmt.Errorf("manifest.txt has no mode for %s", name)
		case mode.IsDir() != d.IsDir():
			return fmt.Errorf("manifest.txt: %s is a directory on one side only (a directory ends in \"/\")", name)
		}
		seen[name] = true
		return nil
	})
	if err != nil {
		return err
	}
	for name := range modes {
		if !seen[name] {
			return fmt.Errorf("manifest.txt lists %s, which is not under files/", name)
		}
	}
	return nil
}

// guestFS is embed.FS with the manifest's modes.
type guestFS struct {
	fsys  embed.FS
	modes map[string]fs.FileMode
}

func (g guestFS) mode(name string) fs.FileMode {
	if name == "." {
		return rootMode
	}
	return g.modes[name]
}

func (g guestFS) Open(name string) (fs.File, error) {
	f, err := g.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	info := fileInfo{FileInfo: st, mode: g.mode(name)}
	if d, ok := f.(fs.ReadDirFile); ok && st.IsDir() {
		return &dir{ReadDirFile: d, g: g, name: name, info: info}, nil
	}
	return &file{File: f, info: info}, nil
}

func (g guestFS) Stat(name string) (fs.FileInfo, error) {
	st, err := fs.Stat(g.fsys, name)
	if err != nil {
		return nil, err
	}
	return fileInfo{FileInfo: st, mode: g.mode(name)}, nil
}

func (g guestFS) ReadFile(name string) ([]byte, error) { return g.fsys.ReadFile(name) }

func (g guestFS) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := g.fsys.ReadDir(name)
	if err != nil {
		return nil, err
	}
	return g.withModes(name, entries), nil
}

func (g guestFS) withModes(dirName string, entries []fs.DirEntry) []fs.DirEntry {
	out := make([]fs.DirEntry, len(entries))
	for i, e := range entries {
		out[i] = dirEntry{DirEntry: e, g: g, name: path.Join(dirName, e.Name())}
	}
	return out
}

type file struct {
	fs.File
	info fileInfo
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }

type dir struct {
	fs.ReadDirFile
	g    guestFS
	name string
	info fileInfo
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.info, nil }

func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	entries, err := d.ReadDirFile.ReadDir(n)
	return d.g.withModes(d.name, entries), err
}

type dirEntry struct {
	fs.DirEntry
	g    guestFS
	name string
}

func (e dirEntry) Info() (fs.FileInfo, error) { return e.g.Stat(e.name) }

// fileInfo replaces the mode, and zeroes the time, of embed's FileInfo.
type fileInfo struct {
	fs.FileInfo
	mode fs.FileMode
}

func (fi fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi fileInfo) ModTime() time.Time { return time.Time{} }
func (fi fileInfo) Sys() any           { return nil }
