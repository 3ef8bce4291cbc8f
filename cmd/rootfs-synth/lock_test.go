//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestLockIsExact: --lock builds exactly the lock's packages. Real
// reports of builds against the mirror, edited — a package removed,
// one added that its world does not need, a version changed, the world
// grown or shrunk — each fail in one line naming what does not match,
// where the build used to resolve around the edit. The control: the
// unedited report builds.
func TestLockIsExact(t *testing.T) {
	m := newMirror(t, apktest.Pkg{Name: "other", Version: "3-r0", Files: []apktest.File{{Name: "etc/other", Data: []byte("other\n")}}})
	dir := testenv.WorldDir(t)
	report := func(name string, atoms ...string) map[string]any {
		t.Helper()
		p := filepath.Join(dir, name)
		args := append(m.trusted(), "--profile", "none", "-o", filepath.Join(dir, name+".ext4"), "--report", p)
		for _, a := range atoms {
			args = append(args, "-p", a)
		}
		if _, stderr, code := runCmd(t, m.command(t, nil, args...)); code != 0 {
			t.Fatalf("rootfs-synth %s = exit %d\nstderr: %s", strings.Join(args, " "), code, stderr)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var rep map[string]any
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	base := report("base.json", "extra")                // extra, app, base
	withOther := report("other.json", "extra", "other") // and other
	pkgs := func(rep map[string]any) []any { return rep["packages"].([]any) }
	named := func(rep map[string]any, name string) map[string]any {
		for _, p := range pkgs(rep) {
			if p.(map[string]any)["name"] == name {
				return p.(map[string]any)
			}
		}
		t.Fatalf("no %s in the report", name)
		return nil
	}
	edit := func(f func(rep map[string]any)) map[string]any {
		var c map[string]any
		b, _ := json.Marshal(base)
		json.Unmarshal(b, &c)
		f(c)
		return c
	}
	for _, tt := range []struct {
		name string
		lock map[string]any
		want string
	}{
		{"package removed", edit(func(r map[string]any) {
			var keep []any
			for _, p := range pkgs(r) {
				if p.(map[string]any)["name"] != "base" {
					keep = append(keep, p)
				}
			}
			r["packages"] = keep
		}), "base-1.0-r0"},
		{"package added", edit(func(r map[string]any) { r["packages"] = append(pkgs(r), named(withOther, "other")) }), "other-3-r0"},
		{"version changed", edit(func(r map[string]any) { named(r, "app")["version"] = "0.8-r0" }), "app"},
		{"world grown", edit(func(r map[string]any) { r["world"] = []any{"extra", "other"} }), "other"},
		{"world shrunk", edit(func(r map[string]any) { r["world"] = []any{"app"} }), "extra-2-r1"},
		{"world atom malformed", edit(func(r map[string]any) { r["world"] = []any{"extra>>=1"} }), `"extra>>=1"`},
		{"control", base, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lock := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".lock.json")
			data, _ := json.Marshal(tt.lock)
			must(t, os.WriteFile(lock, data, 0o644))
			args := append(m.trusted(), "--lock", lock, "-o", filepath.Join(dir, "out.ext4"))
			_, stderr, code := runCmd(t, m.command(t, nil, args...))
			if tt.want == "" {
				if code != 0 {
					t.Errorf("rootfs-synth --lock (unedited) = exit %d\nstderr: %s", code, stderr)
				}
				return
			}
			checkFailure(t, args, stderr, code, "--lock")
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("rootfs-synth --lock (%s): stderr %q, want it to name %q", tt.name, stderr, tt.want)
			}
		})
	}
}
