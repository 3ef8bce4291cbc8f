package e2etest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// solveWorld reads the repositories' signed indexes and solves world
// against them, as apk would: the packages in install order.
func solveWorld(t *testing.T, repos *alpinetest.Repos, world []string) []*apk.Package {
	t.Helper()
	var idx []*apk.Index
	for _, repo := range []*apktest.Repo{repos.Main, repos.Community} {
		archive, err := repo.IndexArchive()
		if err != nil {
			t.Fatal(err)
		}
		i, err := apk.ReadIndexArchive(bytes.NewReader(archive), repos.KeyRing(), apk.IndexOptions{})
		if err != nil {
			t.Fatal(err)
		}
		idx = append(idx, i)
	}
	var deps []apk.Dependency
	for _, a := range world {
		d, err := apk.ParseDependency(a)
		if err != nil {
			t.Fatal(err)
		}
		deps = append(deps, d)
	}
	pkgs, err := apk.Solve(deps, idx, apk.SolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// packageTree installs world from the repositories the simplest way that
// boots — a stand-in for provision, not a model of it: packages in
// apk.Solve's order, each read with apk.PackageReader (verified against
// its index record), later files replacing earlier ones, owners by name
// from the tree's own /etc/passwd and /etc/group, then the applet links
// of /etc/busybox-paths.d/busybox (existing paths left alone) and the
// bbsuid ones. Hard links are refused (the base has none).
func packageTree(t *testing.T, repos *alpinetest.Repos, world []string) map[string]spec {
	t.Helper()
	pkgs := solveWorld(t, repos, world)
	tree := map[string]spec{}
	for _, p := range pkgs {
		b, ok := repos.Lookup(p.Name)
		if !ok {
			t.Fatalf("no built package %s", p.Name)
		}
		if err := unpack(tree, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range strings.Fields(tree["etc/busybox-paths.d/busybox"].data) {
		if _, ok := tree[l]; !ok {
			tree[l] = spec{mode: fs.ModeSymlink | 0o777, link: "/bin/busybox"}
		}
	}
	if _, ok := tree["bin/bbsuid"]; ok {
		for _, l := range alpinetest.BbsuidLinks {
			tree[l] = spec{mode: fs.ModeSymlink | 0o777, link: "/bin/bbsuid"}
		}
	}
	return tree
}

func unpack(tree map[string]spec, b apktest.Built) error {
	pr, err := apk.NewPackageReader(bytes.NewReader(b.Data), b.Record)
	if err != nil {
		return err
	}
	staged := map[string]spec{} // trusted only once the data member verified
	for {
		hdr, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("unpacking %s: %w", b.Record.Name, err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		uid, err := lookupID(tree, staged, "etc/passwd", hdr.Uname)
		if err != nil {
			return fmt.Errorf("unpacking %s %s: %w", b.Record.Name, name, err)
		}
		gid, err := lookupID(tree, staged, "etc/group", hdr.Gname)
		if err != nil {
			return fmt.Errorf("unpacking %s %s: %w", b.Record.Name, name, err)
		}
		s := spec{mode: fs.FileMode(hdr.Mode).Perm(), uid: uid, gid: gid}
		for bit, m := range map[int64]fs.FileMode{0o4000: fs.ModeSetuid, 0o2000: fs.ModeSetgid, 0o1000: fs.ModeSticky} {
			if hdr.Mode&bit != 0 {
				s.mode |= m
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			s.mode |= fs.ModeDir
		case tar.TypeSymlink:
			s.mode |= fs.ModeSymlink
			s.link = hdr.Linkname
		case tar.TypeReg:
			data, err := io.ReadAll(pr)
			if err != nil {
				return fmt.Errorf("unpacking %s %s: %w", b.Record.Name, name, err)
			}
			s.data = string(data)
		default:
			return fmt.Errorf("unpacking %s %s: entry type %c not supported here", b.Record.Name, name, hdr.Typeflag)
		}
		staged[name] = s
	}
	for p, s := range staged {
		tree[p] = s
	}
	return nil
}

// lookupID returns the id of name in the passwd or group file ("" and
// root are 0) as extracted so far, the package's own earlier entries
// included: alpine-baselayout-data's etc/shadow (gname shadow) comes after
// its etc/group in the tar, and apk gives it gid 42 from there.
func lookupID(tree, staged map[string]spec, file, name string) (uint32, error) {
	if name == "" || name == "root" {
		return 0, nil
	}
	f, ok := staged[file]
	if !ok {
		f = tree[file]
	}
	for _, line := range strings.Split(f.data, "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			id, err := strconv.ParseUint(f[2], 10, 32)
			return uint32(id), err
		}
	}
	return 0, fmt.Errorf("%s not in /%s", name, path.Clean(file))
}

// TestBootableRepositoryBoots: the bootable repository's own packages —
// its busybox, baselayout skeleton, applet links — installed naively and
// overlaid with the stand-in guest files, boot and pass the guest check.
// This pins a failure of TestBuiltImageBoots on the build, not on the
// generated repository. /etc/shadow arrives 0640 root:shadow (42).
func TestBootableRepositoryBoots(t *testing.T) {
	m := machine(t)
	key, err := apktest.NewKey("e2e")
	if err != nil {
		t.Fatal(err)
	}
	repos, err := alpinetest.Base(alpinetest.Options{Testdata: testenv.SharedTestdata(t), Key: key, Bootable: true, BusyboxPath: m.Busybox})
	if err != nil {
		t.Fatal(err)
	}
	tree := packageTree(t, repos, buildWorld)
	if s := tree["etc/shadow"]; s.mode != 0o640 || s.uid != 0 || s.gid != 42 {
		t.Errorf("etc/shadow = %v %d:%d, want 0640 0:42", s.mode, s.uid, s.gid)
	}
	if s := tree["sbin/init"]; s.link != "/bin/busybox" {
		t.Errorf("sbin/init -> %q, want /bin/busybox", s.link)
	}
	n, value := nonce(), "e2e-"+nonce()
	img := writeImage(t, tree, standins(t, n, map[string]string{sessionEnv: sessionEnvScript(value)}))
	if err := checkBoot(t, m, img, n, value); err != nil {
		t.Fatalf("the bootable repository's packages should boot and pass the check: %v", err)
	}
}
