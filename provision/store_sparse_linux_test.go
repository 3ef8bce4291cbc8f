//go:build linux

package provision

import (
	"bytes"
	"context"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// TestStoreSparse: runs of zeros in a package's files cost no disk in the
// store, and the files read back identical.
func TestStoreSparse(t *testing.T) {
	sparse := make([]byte, 8<<20)
	copy(sparse, "head")
	copy(sparse[5<<20+3:], "middle, unaligned")
	copy(sparse[len(sparse)-4:], "tail")
	dense := bytes.Repeat([]byte("x"), 70000)
	pkgs := append(basePackages(t)[:1:1], apktest.Pkg{Name: "holes", Version: "1-r0", Files: []apktest.File{
		{Name: "usr/share/holes/a", Data: dense}, // so that the next file starts unaligned
		{Name: "usr/share/holes/b", Data: sparse},
		{Name: "usr/share/holes/c", Data: make([]byte, 100000)}, // zeros at the end of the data
	}})
	f := fixtureWith(t, pkgs, nil, "holes")
	res, err := Provision(context.Background(), f.options())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	var p *apk.Package
	for _, q := range f.pkgs {
		if q.Name == "holes" {
			p = q
		}
	}
	data := newStore(f.store).pkgPath(p, ".data")
	fi, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(dense) + len(sparse) + 100000); fi.Size() != want {
		t.Errorf("%s has %d bytes, want %d", data, fi.Size(), want)
	}
	allocated := fi.Sys().(*syscall.Stat_t).Blocks * 512
	if allocated > 1<<20 {
		t.Errorf("%s of %d bytes allocates %d bytes, want its zero runs as holes (under 1 MiB)", data, fi.Size(), allocated)
	}
	t.Logf("%s: %d bytes, %d allocated", data, fi.Size(), allocated)
	for name, want := range map[string][]byte{"usr/share/holes/a": dense, "usr/share/holes/b": sparse, "usr/share/holes/c": make([]byte, 100000)} {
		n := node(t, res.Tree, name)
		rc, err := n.Content()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("reading /%s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("/%s reads back %d bytes different from the package's %d", name, len(got), len(want))
		}
	}
}
