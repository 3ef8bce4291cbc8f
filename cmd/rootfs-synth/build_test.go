//go:build linux

package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// mirror is a signed repository pair shaped like an Alpine mirror (v3.23
// main and community, x86_64) served on 127.0.0.1, with the key's public
// half in a --keys-dir and a home directory for the unprivileged user.
type mirror struct {
	key             *apktest.Key
	main, community *apktest.Repo
	srv             *httptest.Server
	home, keys      string

	mu    sync.Mutex
	stall map[string]chan struct{} // request path → closed when it stalled
}

func newMirror(t *testing.T, extra ...apktest.Pkg) *mirror {
	t.Helper()
	key, err := apktest.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	m := &mirror{key: key, main: apktest.NewRepo(key), community: apktest.NewRepo(key), stall: map[string]chan struct{}{}}
	m.community.Name = "community"
	add := func(r *apktest.Repo, p apktest.Pkg) {
		if _, err := r.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	add(m.main, apktest.Pkg{Name: "base", Version: "1.0-r0", Files: []apktest.File{{Name: "etc/base", Data: []byte("base\n")}}})
	add(m.main, apktest.Pkg{Name: "app", Version: "0.9-r0", Depends: []string{"base"},
		Files: []apktest.File{{Name: "usr/bin/app", Mode: 0o755, Data: bytes.Repeat([]byte("#!/bin/sh\n"), 3000)}}})
	add(m.community, apktest.Pkg{Name: "extra", Version: "2-r1", Depends: []string{"app"},
		Files: []apktest.File{{Name: "usr/share/extra/README", Data: []byte("extra\n")}}})
	for _, p := range extra {
		add(m.main, p)
	}
	mainH, commH := m.main.Handler(), m.community.Handler()
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		stalled, ok := m.stall[r.URL.Path]
		m.mu.Unlock()
		if ok {
			stallMidBody(w, r, m.main.Packages, stalled)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/v3.23/community/") {
			commH.ServeHTTP(w, r)
			return
		}
		mainH.ServeHTTP(w, r)
	}))
	t.Cleanup(m.srv.Close)
	m.home = testenv.WorldDir(t)
	m.keys = filepath.Join(m.home, "keys")
	if err := os.MkdirAll(m.keys, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.keys, key.Name), key.PublicPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

// stallMidBody serves the first half of the package the request names,
// announced whole, closes stalled and then sends nothing more until the
// client goes away.
func stallMidBody(w http.ResponseWriter, r *http.Request, pkgs []apktest.Built, stalled chan struct{}) {
	var data []byte
	for _, p := range pkgs {
		if p.FileName() == path.Base(r.URL.Path) {
			data = p.Data
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data[:len(data)/2])
	w.(http.Flusher).Flush()
	close(stalled)
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// stallPackage makes the next downloads of the main package name-version
// stall mid-body; the channel is closed once one has.
func (m *mirror) stallPackage(nameVersion string) chan struct{} {
	ch := make(chan struct{})
	m.mu.Lock()
	m.stall["/v3.23/main/x86_64/"+nameVersion+".apk"] = ch
	m.mu.Unlock()
	return ch
}

// trusted are the flags every run against the mirror needs.
func (m *mirror) trusted() []string {
	return append(m.keyFlags(), "--mirror", m.srv.URL)
}

// keyFlags are trusted without the mirror.
func (m *mirror) keyFlags() []string {
	return []string{"--arch", "x86_64", "--keys-dir", m.keys}
}

// command returns `rootfs-synth args...` as the unprivileged user, with
// HOME and the cache in m.home; wrap runs it under another program (e.g.
// prlimit) when not nil.
func (m *mirror) command(t *testing.T, wrap []string, args ...string) *exec.Cmd {
	t.Helper()
	argv := append(append([]string{}, wrap...), testenv.Binary(t))
	argv = append(argv, args...)
	cmd := testenv.Unprivileged(t, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+m.home, "XDG_CACHE_HOME="+filepath.Join(m.home, "cache"))
	return cmd
}

// readReportFile reads the build report at name.
func readReportFile(t *testing.T, name string) *build.Report {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := build.ReadReport(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// runCmd runs the command and returns its output and exit status.
func runCmd(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), exitCode(t, err)
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("running rootfs-synth: %v", err)
	return -1
}

// checkFailure checks that a run failed the way a person should see it:
// exit status 1, and stderr ending in exactly one error line (the only
// one prefixed "rootfs-synth: ") that contains want.
func checkFailure(t *testing.T, args []string, stderr string, code int, want string) {
	t.Helper()
	checkFailureStatus(t, args, stderr, code, want, 1)
}

// checkFailureStatus is checkFailure with exit status wantCode.
func checkFailureStatus(t *testing.T, args []string, stderr string, code int, want string, wantCode int) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	errorLines := 0
	for _, l := range lines {
		if strings.HasPrefix(l, "rootfs-synth: ") {
			errorLines++
		}
	}
	if code != wantCode || !strings.HasPrefix(last, "rootfs-synth: ") || errorLines != 1 || !strings.Contains(last, want) {
		t.Errorf("rootfs-synth %s = exit %d, last stderr line %q (%d error lines), want exit %d and one error line containing %q\nstderr:\n%s",
			strings.Join(args, " "), code, last, errorLines, wantCode, want, stderr)
	}
}

// checkNothingLeft fails if dir holds anything (dir may not exist), or if
// the cache holds a temporary or partial package.
func checkNothingLeft(t *testing.T, dir, cache string) {
	t.Helper()
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("%s holds %s after a failed build, want nothing", dir, strings.Join(names, ", "))
	}
	pkgs, _ := os.ReadDir(filepath.Join(cache, "packages"))
	for _, e := range pkgs {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("the cache holds the temporary file %s after a failed build", e.Name())
		}
	}
}

func TestBuildHelp(t *testing.T) {
	m := &mirror{home: testenv.WorldDir(t)}
	out, stderr, code := runCmd(t, m.command(t, nil, "--help"))
	if code != 0 {
		t.Fatalf("rootfs-synth --help = exit %d, want 0\nstderr: %s", code, stderr)
	}
	for _, want := range []string{
		// the shell builder's
		"--profile", "--branch", "--image-name", "--no-shrink", "1 GiB of free blocks",
		// ours
		"--output", "-o", "--arch", "--mirror", "--repository", "--keys-dir", "--allow-untrusted",
		"--packages", "-p", "--files", "--size", "--no-journal", "--cache-dir", "--offline", "--lock",
		"--report", "--authorized-keys", "--hostname", "--strict", "--quiet", "-q", "--verbose", "-v",
		// the defaults
		"balanced", "v3.23", "alpine-agentic.ext4", "https://dl-cdn.alpinelinux.org/alpine",
		// the subcommands
		"mkfs", "resolve", "fetch", "version",
	} {
		// The help is wrapped to the terminal: a phrase may span lines.
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("rootfs-synth --help does not mention %q:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	m := &mirror{home: testenv.WorldDir(t)}
	out, stderr, code := runCmd(t, m.command(t, nil, "version"))
	if code != 0 {
		t.Fatalf("rootfs-synth version = exit %d, want 0\nstderr: %s", code, stderr)
	}
	for _, want := range []string{"rootfs-synth ", "revision: ", "go: go1.", "default branch: v3.23"} {
		if !strings.Contains(out, want) {
			t.Errorf("rootfs-synth version = %q, want it to contain %q", out, want)
		}
	}
}

// TestBuildFailsCleanly: bad input and a broken environment each end in
// one clear line and exit 1, with no image and no temporary file left.
func TestBuildFailsCleanly(t *testing.T) {
	m := newMirror(t)
	tests := []struct {
		name   string
		wrap   func(t *testing.T) []string // runs the binary under this, e.g. prlimit
		setup  func(t *testing.T, out string)
		args   []string
		mirror string // "" is m's
		want   string

		needsProvision bool // fails only in the image write
	}{
		{name: "missing --files directory", args: []string{"--profile", "none", "-p", "app", "--files", "/nonexistent/overlay"},
			want: "/nonexistent/overlay"},
		{name: "unreachable mirror", mirror: "http://127.0.0.1:1", args: []string{"--profile", "none", "-p", "app"},
			want: "127.0.0.1:1"},
		{name: "unwritable output directory", args: []string{"--profile", "none", "-p", "app"},
			setup: func(t *testing.T, out string) {
				if err := os.MkdirAll(out, 0o555); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(out, 0o555); err != nil {
					t.Fatal(err)
				}
			},
			want: "permission denied"},
		{name: "report directory not creatable", args: []string{"--profile", "none", "-p", "app", "--report", "/nonexistent/report.json"},
			want: "/nonexistent"},
		{name: "full disk", args: []string{"--profile", "none", "-p", "app"}, needsProvision: true,
			// RLIMIT_FSIZE: every write beyond 4 MiB fails with EFBIG, as on
			// a full disk; the packages and indexes are far smaller, the
			// image (64 MiB of headroom) is not.
			wrap: func(t *testing.T) []string { return []string{testenv.Tool(t, "prlimit"), "--fsize=4194304"} },
			want: "file too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(testenv.WorldDir(t), "out")
			if tt.setup != nil {
				tt.setup(t, out)
			}
			var wrap []string
			if tt.wrap != nil {
				wrap = tt.wrap(t)
			}
			mirror := tt.mirror
			if mirror == "" {
				mirror = m.srv.URL
			}
			args := append(append(m.keyFlags(), "--mirror", mirror, "-o", filepath.Join(out, "img.ext4")), tt.args...)
			_, stderr, code := runCmd(t, m.command(t, wrap, args...))
			if tt.needsProvision {
			}
			checkFailure(t, tt.args, stderr, code, tt.want)
			checkNothingLeft(t, out, filepath.Join(m.home, "cache", "rootfs-synth"))
		})
	}
}

// TestBuildInterruptedDownload: SIGINT while a package is half downloaded
// ends the build at once, with no image, no temporary file and no partial
// package in the cache.
func TestBuildInterruptedDownload(t *testing.T) {
	m := newMirror(t)
	stalled := m.stallPackage("app-0.9-r0")
	out := filepath.Join(testenv.WorldDir(t), "out")
	args := append(m.trusted(), "--profile", "none", "-p", "app", "-o", filepath.Join(out, "img.ext4"))
	cmd := m.command(t, nil, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-stalled:
	case err := <-exited:
		t.Fatalf("rootfs-synth exited (%v) before the download stalled\nstderr:\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the download never started")
	}
	m.interrupt(t, cmd, exited, &stderr, args, out, 10*time.Second)
}

// interrupt sends the running build SIGINT and checks that within limit it
// fails as a person and a shell should see it (one line, exit status 130),
// leaving no image, temporary file or partial package in the cache.
func (m *mirror) interrupt(t *testing.T, cmd *exec.Cmd, exited <-chan error, stderr *bytes.Buffer, args []string, out string, limit time.Duration) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(limit):
		cmd.Process.Kill()
		t.Fatalf("rootfs-synth still runs %v after SIGINT", limit)
	}
	checkFailureStatus(t, args, stderr.String(), exitCode(t, err), "interrupted by SIGINT", 128+int(syscall.SIGINT))
	checkNothingLeft(t, out, filepath.Join(m.home, "cache", "rootfs-synth"))
}

// TestBuildInterruptedImageWrite: SIGINT while the image is being written
// (here: compressed, which takes seconds for an incompressible file)
// leaves neither the image nor a temporary file.
func TestBuildInterruptedImageWrite(t *testing.T) {
	noise := make([]byte, 24<<20)
	var x uint64 = 0x9e3779b97f4a7c15
	for i := range noise {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		noise[i] = byte(x)
	}
	m := newMirror(t, apktest.Pkg{Name: "big", Version: "1-r0", Files: []apktest.File{{Name: "usr/share/big", Data: noise}}})
	out := filepath.Join(testenv.WorldDir(t), "out")
	args := append(m.trusted(), "--profile", "none", "-p", "big", "-o", filepath.Join(out, "img.ext4.xz"))
	cmd := m.command(t, nil, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
wait:
	for {
		select {
		case err := <-exited:
			t.Fatalf("rootfs-synth exited (%v) before its image write was seen\nstderr:\n%s", err, stderr.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatal("no temporary image appeared in 2 minutes")
		case <-time.After(5 * time.Millisecond):
			if tmps, _ := filepath.Glob(filepath.Join(out, ".img.ext4.xz.*")); len(tmps) >= 2 {
				break wait // the output and the raw image: writing has begun
			}
		}
	}
	time.Sleep(50 * time.Millisecond)
	m.interrupt(t, cmd, exited, &stderr, args, out, 20*time.Second)
}

// TestFetchDestThenOfflineBuild: `fetch --dest DIR` lays out a mirror
// (the original signed indexes of main and community, the packages) from
// which, with the network gone, a fresh cache can fetch and a build can
// run.
func TestFetchDestThenOfflineBuild(t *testing.T) {
	m := newMirror(t)
	dest := filepath.Join(m.home, "dest")
	args := append([]string{"fetch"}, append(m.trusted(), "--profile", "none", "-p", "extra", "--dest", dest)...)
	if stdout, stderr, code := runCmd(t, m.command(t, nil, args...)); code != 0 {
		t.Fatalf("rootfs-synth %s = exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
	}
	for _, r := range []*apktest.Repo{m.main, m.community} {
		dir := filepath.Join(dest, r.Branch, r.Name, r.Arch)
		index, err := r.IndexArchive()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]byte{"APKINDEX.tar.gz": index}
		for _, p := range r.Packages {
			want[p.FileName()] = p.Data
		}
		for name, data := range want {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("fetch --dest: %s/%s = %d bytes (%v), want the %d bytes the mirror serves", dir, name, len(got), err, len(data))
			}
		}
	}
	m.srv.Close() // from here on, no network

	offline := []string{"--arch", "x86_64", "--keys-dir", m.keys, "--offline"}
	for _, sel := range [][]string{
		{"--mirror", "file://" + dest},
		{"--mirror", "none", "--repository", filepath.Join(dest, "v3.23", "main"), "--repository", filepath.Join(dest, "v3.23", "community")},
	} {
		cache := filepath.Join(testenv.WorldDir(t), "cache")
		args := append(append([]string{"fetch"}, offline...), "--cache-dir", cache, "--profile", "none", "-p", "extra")
		args = append(args, sel...)
		stdout, stderr, code := runCmd(t, m.command(t, nil, args...))
		if code != 0 || !strings.Contains(stdout, "fetched 3 packages") {
			t.Errorf("rootfs-synth %s = exit %d, stdout %q, want exit 0 and 3 packages\nstderr: %s", strings.Join(args, " "), code, stdout, stderr)
		}
	}

	out := filepath.Join(testenv.WorldDir(t), "out")
	img, report := filepath.Join(out, "img.ext4"), filepath.Join(out, "report.json")
	args = append(offline, "--cache-dir", filepath.Join(testenv.WorldDir(t), "cache"), "--mirror", "file://"+dest,
		"--profile", "none", "-p", "extra", "-o", img, "--report", report)
	stdout, stderr, code := runCmd(t, m.command(t, nil, args...))
	if code != 0 {
		t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
	}
	if !strings.Contains(stdout, "built "+img) || !strings.Contains(stdout, "3 packages") {
		t.Errorf("the build's summary = %q, want it to name %s and 3 packages", stdout, img)
	}
	if err := e2fsck.Check(t, img); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(report); err != nil {
		t.Errorf("--report: %v", err)
	}
}
