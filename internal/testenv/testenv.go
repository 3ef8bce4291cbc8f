// Package testenv gives tests the outside things they depend on: the shared
// reference data and the independent tools (e2fsck, debugfs, ...) that judge
// our output. Outside CI a missing one skips the test with its name; in CI
// (CI=true) it fails the test, because there a missing tool is a broken setup,
// not a reason to pass.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// InCI reports whether the tests run in CI, where nothing may be skipped for
// a missing tool or missing reference data.
func InCI() bool { return os.Getenv("CI") == "true" }

// Tool returns the path of the named program, or skips (fails in CI) the test
// when it is not installed.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	missing(t, "tool %s is not installed (.ci/run installs it)", name)
	return ""
}

// SharedTestdata returns the path of the shared reference data
// (../shared/testdata seen from the repository root), or skips (fails in CI)
// the test when it is absent, as in a user's fresh clone.
func SharedTestdata(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared", "testdata")
	if _, err := os.Stat(dir); err != nil {
		missing(t, "shared reference data %s is absent", dir)
	}
	return dir
}

// RepoRoot returns the repository's root directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the testenv source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// MemDir is WorldDir on the tmpfs /dev/shm when that has need bytes
// free: for tests that make tens of thousands of files, which costs
// seconds on a virtual disk and a fraction of one in memory. Elsewhere
// (no /dev/shm, or a container's small one) it is WorldDir.
func MemDir(t testing.TB, need int64) string {
	t.Helper()
	if free, ok := freeBytes("/dev/shm"); !ok || free < need {
		return WorldDir(t)
	}
	dir, err := worldDirIn(t, "/dev/shm")
	if err != nil {
		return WorldDir(t)
	}
	return dir
}

// CopyFile copies the file src to dst (created 0644, or truncated).
func CopyFile(t testing.TB, dst, src string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
