package apk

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// realIndex returns the records of one of the shared real indexes.
func realIndex(t testing.TB, file, tag string) *Index {
	t.Helper()
	path := filepath.Join(testenv.SharedTestdata(t), "indexes", file)
	pkgs, err := ParseIndex(bytes.NewReader(readAPKINDEX(t, path)))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	idx := &Index{Source: file, Tag: tag, Packages: pkgs}
	for _, p := range pkgs {
		p.Repository = idx
	}
	return idx
}

const (
	v316 = "alpine-v3.16-main-x86_64.APKINDEX.tar.gz"
	v317 = "alpine-v3.17-main-aarch64.APKINDEX.tar.gz"
	v323 = "v3.23-x86_64-subset-unsigned.APKINDEX.tar.gz"
)

func mustWorld(t testing.TB, atoms string) []Dependency {
	t.Helper()
	var w []Dependency
	for _, a := range strings.Fields(atoms) {
		d, err := ParseDependency(a)
		if err != nil {
			t.Fatal(err)
		}
		w = append(w, d)
	}
	return w
}

func names(pkgs []*Package) string {
	s := make([]string, len(pkgs))
	for i, p := range pkgs {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}

// TestSolveRealIndexes solves worlds over real Alpine indexes. The wanted
// results are what apk-tools itself printed: apk-tools 90b974fd built from
// source, `apk --simulate add WORLD` over the same APKINDEX text (the way
// its test/solver.sh runs), transcribed in install order.
func TestSolveRealIndexes(t *testing.T) {
	for _, tt := range []struct {
		index, arch, world string
		want               string // package-version in install order
		wantErr            string // or apk's report, without "ERROR: "
	}{
		{index: v316, world: "alpine-base", want: `alpine-baselayout-data-3.2.0-r23 musl-1.2.3-r2 busybox-1.35.0-r17
			alpine-baselayout-3.2.0-r23 ifupdown-ng-0.12.1-r0 openrc-0.44.10-r7
			alpine-conf-3.14.6-r1 ca-certificates-bundle-20220614-r0 libcrypto1.1-1.1.1s-r0
			libssl1.1-1.1.1s-r0 ssl_client-1.35.0-r17 zlib-1.2.12-r3 apk-tools-2.12.9-r3
			busybox-suid-1.35.0-r17 mdev-conf-4.2-r0 busybox-initscripts-4.2-r0 scanelf-1.3.4-r0
			musl-utils-1.2.3-r2 libc-utils-0.7.2-r3 alpine-keys-2.4-r1 alpine-base-3.16.3-r0`},
		// ssl_client comes in through install_if (busybox=1.37.0-r30 libssl3).
		{index: v323, world: "busybox libssl3", want: `musl-1.2.5-r21 busybox-1.37.0-r30 libcrypto3-3.5.4-r0 libssl3-3.5.4-r0
			ssl_client-1.37.0-r30`},
		{index: v316, world: "alpine-base openssh curl python3 nginx git bash e2fsprogs", want: `alpine-baselayout-data-3.2.0-r23 musl-1.2.3-r2 busybox-1.35.0-r17
			alpine-baselayout-3.2.0-r23 ifupdown-ng-0.12.1-r0 openrc-0.44.10-r7
			alpine-conf-3.14.6-r1 ca-certificates-bundle-20220614-r0 libcrypto1.1-1.1.1s-r0
			libssl1.1-1.1.1s-r0 ssl_client-1.35.0-r17 zlib-1.2.12-r3 apk-tools-2.12.9-r3
			busybox-suid-1.35.0-r17 mdev-conf-4.2-r0 busybox-initscripts-4.2-r0 scanelf-1.3.4-r0
			musl-utils-1.2.3-r2 libc-utils-0.7.2-r3 alpine-keys-2.4-r1 alpine-base-3.16.3-r0
			ncurses-terminfo-base-6.3_p20220521-r0 ncurses-libs-6.3_p20220521-r0
			readline-8.1.2-r0 bash-5.1.16-r2 ca-certificates-20220614-r0 brotli-libs-1.0.9-r6
			nghttp2-libs-1.47.0-r0 libcurl-7.83.1-r4 curl-7.83.1-r4 libblkid-2.38-r1
			libcom_err-1.46.5-r0 e2fsprogs-libs-1.46.5-r0 libuuid-2.38-r1 e2fsprogs-1.46.5-r0
			expat-2.5.0-r0 pcre2-10.40-r0 git-2.36.3-r0 pcre-8.45-r2 nginx-1.22.1-r0
			nginx-openrc-1.22.1-r0 openssh-keygen-9.0_p1-r2 libedit-20210910.3.1-r0
			openssh-client-common-9.0_p1-r2 openssh-client-default-9.0_p1-r2
			openssh-sftp-server-9.0_p1-r2 openssh-server-common-9.0_p1-r2
			openssh-server-9.0_p1-r2 openssh-9.0_p1-r2 libbz2-1.0.8-r1 libffi-3.4.2-r1
			gdbm-1.23-r0 xz-libs-5.2.5-r1 libgcc-11.2.1_git20220219-r2
			libstdc++-11.2.1_git20220219-r2 mpdecimal-2.5.1-r1 sqlite-libs-3.38.5-r0
			python3-3.10.8-r0`},
		{index: v317, arch: "aarch64", world: "alpine-base openssh-server chrony", want: `alpine-baselayout-data-3.4.0-r0 musl-1.2.3-r5 busybox-1.35.0-r29
			busybox-binsh-1.35.0-r29 alpine-baselayout-3.4.0-r0 ifupdown-ng-0.12.1-r1
			libcap2-2.66-r1 openrc-0.45.2-r7 mdev-conf-4.3-r0 busybox-mdev-openrc-1.35.0-r29
			alpine-conf-3.15.1-r1 alpine-keys-2.4-r1 alpine-release-3.17.3-r0
			ca-certificates-bundle-20230506-r0 libcrypto3-3.0.8-r4 libssl3-3.0.8-r4
			ssl_client-1.35.0-r29 zlib-1.2.13-r0 apk-tools-2.12.10-r1 busybox-openrc-1.35.0-r29
			busybox-suid-1.35.0-r29 scanelf-1.3.5-r1 musl-utils-1.2.3-r5 libc-utils-0.7.2-r3
			alpine-base-3.17.3-r0 gmp-6.2.1-r2 nettle-3.8.1-r0 libffi-3.4.4-r0 p11-kit-0.24.1-r1
			libtasn1-4.19.0-r0 libunistring-1.1-r0 gnutls-3.7.8-r3 chrony-4.3-r0
			chrony-openrc-4.3-r0 openssh-keygen-9.1_p1-r3 openssh-server-common-9.1_p1-r3
			openssh-server-9.1_p1-r3`},
		// /bin/sh is provided without a version by busybox-binsh, which has k:100.
		{index: v323, world: "/bin/sh", want: `musl-1.2.5-r21 busybox-1.37.0-r30 busybox-binsh-1.37.0-r30`},
		{index: v316, world: "openssl-dev libressl-dev", wantErr: `unable to select packages:
  libressl-dev (no such package):
    required by: world[libressl-dev]`},
		{index: v323, world: "busybox-binsh dash-binsh", wantErr: `unable to select packages:
  dash-binsh (no such package):
    required by: world[dash-binsh]`},
		// A D: with a version outside the grammar (6.8.0p2) makes apk refuse
		// the package; and busybox's unversioned /bin/sh has no k: in v3.16.
		{index: v316, world: "opensmtpd-pam", wantErr: `unable to select packages:
  /bin/sh (virtual):
    note: please select one of the 'provided by'
          packages explicitly
    provided by: busybox
    required by: ca-certificates-20220614-r0[/bin/sh]
                 opensmtpd-6.8.0p2-r4[/bin/sh]
  opensmtpd-pam-6.8.0p2-r4:
    error: uninstallable
    depends: opensmtpd=6.8.0p2-r4
    provides: cmd:smtpd-pam=6.8.0p2-r4
    satisfies: world[opensmtpd-pam]`},
	} {
		idx := realIndex(t, tt.index, "")
		got, err := Solve(mustWorld(t, tt.world), []*Index{idx}, SolveOptions{Arch: tt.arch})
		if tt.wantErr != "" {
			var se *SolveError
			if !errors.As(err, &se) || err.Error() != tt.wantErr {
				t.Errorf("Solve(%s over %s) = %s, %v; want error\n%s", tt.world, tt.index, names(got), err, tt.wantErr)
			}
			continue
		}
		want := strings.Join(strings.Fields(tt.want), " ")
		if err != nil || names(got) != want {
			t.Errorf("Solve(%s over %s) =\n%s, %v\nwant\n%s", tt.world, tt.index, names(got), err, want)
		}
		for _, p := range got {
			if p.Repository != idx {
				t.Errorf("Solve(%s): %s has Repository %v, want the index", tt.world, p, p.Repository)
			}
		}
	}
}

// indexOf parses index text for a test.
func indexOf(t testing.TB, tag, text string) *Index {
	t.Helper()
	pkgs, err := ParseIndex(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	idx := &Index{Source: "test", Tag: tag, Packages: pkgs}
	for _, p := range pkgs {
		p.Repository = idx
	}
	return idx
}

// rec writes one index record with a checksum derived from name and version.
func rec(name, version string, fields ...string) string {
	sum := make([]byte, 20)
	copy(sum, name+"-"+version)
	var b strings.Builder
	b.WriteString("C:" + FormatChecksum(sum) + "\nP:" + name + "\nV:" + version + "\nS:1\nI:1\n")
	for _, f := range fields {
		b.WriteString(f + "\n")
	}
	return b.String() + "\n"
}

func TestSolveArch(t *testing.T) {
	idx := indexOf(t, "", rec("app", "1", "A:x86_64", "D:data tool")+
		rec("data", "1", "A:noarch")+
		rec("tool", "2", "A:aarch64")+rec("tool", "1", "A:x86_64"))
	got, err := Solve(mustWorld(t, "app"), []*Index{idx}, SolveOptions{})
	if want := "data-1 tool-1 app-1"; err != nil || names(got) != want {
		t.Errorf("Solve(app) = %s, %v; want %s (tool-2 is aarch64)", names(got), err, want)
	}
	got, err = Solve(mustWorld(t, "app"), []*Index{idx}, SolveOptions{Arch: "aarch64"})
	var se *SolveError
	if !errors.As(err, &se) {
		t.Fatalf("Solve(app) for aarch64 = %s, %v; want a *SolveError", names(got), err)
	}
	want := []SolveProblem{{
		Subject: "app-1", Package: idx.Packages[0],
		Details: []SolveDetail{
			{"error:", []string{"uninstallable"}},
			{"arch:", []string{"x86_64"}},
			{"satisfies:", []string{"world[app]"}},
		},
	}}
	if !reflect.DeepEqual(se.Problems, want) {
		t.Errorf("Solve(app) for aarch64: problems %+v, want %+v", se.Problems, want)
	}
}

// TestSolveReasons checks the report for each kind of refusal; every
// wanted text is what apk-tools 90b974fd prints for the same index.
func TestSolveReasons(t *testing.T) {
	idx := indexOf(t, "", rec("a", "1", "D:b>=2")+rec("b", "1")+
		rec("c", "1", "D:!a")+rec("virt-a", "1", "p:virt")+rec("virt-b", "1", "p:virt")+
		rec("needs-virt", "1", "D:virt"))
	for _, tt := range []struct {
		world, want string
	}{
		{"a", `unable to select packages:
  b-1:
    breaks: a-1[b>=2]`},
		{"a c", `unable to select packages:
  b-1:
    breaks: a-1[b>=2]
  a-1:
    breaks: c-1[!a]
    satisfies: world[a]`},
		{"needs-virt", `unable to select packages:
  virt (virtual):
    note: please select one of the 'provided by'
          packages explicitly
    provided by: virt-a virt-b
    required by: needs-virt-1[virt]`},
		{"nope>1", `unable to select packages:
  nope (no such package):
    required by: world[nope>1]`},
		{"b>1", `unable to select packages:
  b-1:
    breaks: world[b>1]`},
	} {
		got, err := Solve(mustWorld(t, tt.world), []*Index{idx}, SolveOptions{})
		var se *SolveError
		if !errors.As(err, &se) || err.Error() != tt.want {
			t.Errorf("Solve(%s) = %s, %v; want\n%s", tt.world, names(got), err, tt.want)
		}
	}
	// Naming a provider explicitly settles the virtual name.
	got, err := Solve(mustWorld(t, "needs-virt virt-b"), []*Index{idx}, SolveOptions{})
	if want := "virt-b-1 needs-virt-1"; err != nil || names(got) != want {
		t.Errorf("Solve(needs-virt virt-b) = %s, %v; want %s", names(got), err, want)
	}
}

func TestSolveRepositories(t *testing.T) {
	main := indexOf(t, "", rec("a", "1", "D:b")+rec("b", "1"))
	// The same b record (same checksum) in a second index, and a newer a.
	community := indexOf(t, "", rec("b", "1")+rec("a", "2", "D:b"))
	edge := indexOf(t, "edge", rec("a", "3", "D:b")+rec("b", "3"))

	got, err := Solve(mustWorld(t, "a"), []*Index{main, community, edge}, SolveOptions{})
	if want := "b-1 a-2"; err != nil || names(got) != want {
		t.Fatalf("Solve(a) = %s, %v; want %s", names(got), err, want)
	}
	if got[0] != main.Packages[1] {
		t.Errorf("b-1 is in two indexes; Solve returned the record of %s, want the first index's", got[0].Repository.Source)
	}
	got, err = Solve(mustWorld(t, "a@edge"), []*Index{main, community, edge}, SolveOptions{})
	if want := "b-1 a-3"; err != nil || names(got) != want {
		t.Errorf("Solve(a@edge) = %s, %v; want %s (b stays on the untagged b-1 as apk prefers)", names(got), err, want)
	}
	// The same b in a tagged index listed first: an unpinned b comes
	// from the untagged index, so it is fetched from there.
	edgeB1 := indexOf(t, "edge", rec("b", "1"))
	got, err = Solve(mustWorld(t, "b"), []*Index{edgeB1, community}, SolveOptions{})
	if err != nil || len(got) != 1 || got[0].Repository != community {
		t.Fatalf("Solve(b) over [@edge, community] = %s, %v; want b-1 from the untagged community index", names(got), err)
	}
	if _, err := Solve(mustWorld(t, "a@nosuchtag"), []*Index{main}, SolveOptions{}); err == nil || !strings.Contains(err.Error(), "no repository is tagged @nosuchtag") {
		t.Errorf("Solve(a@nosuchtag) error = %v, want one naming the tag", err)
	}
}

func TestSolveDeterministic(t *testing.T) {
	idx := realIndex(t, v316, "")
	world := mustWorld(t, "alpine-base openssh curl python3 nginx git bash e2fsprogs")
	first, err := Solve(world, []*Index{idx}, SolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		// The order of the world atoms does not matter either.
		w := append([]Dependency(nil), world...)
		w[0], w[len(w)-1-i] = w[len(w)-1-i], w[0]
		again, err := Solve(w, []*Index{idx}, SolveOptions{})
		if err != nil || names(again) != names(first) {
			t.Fatalf("Solve run %d = %s, %v; first run %s", i, names(again), err, names(first))
		}
	}
}

// TestSolveChecksumAtom: a "><" atom picks the package by its checksum (C:),
// not by version.
func TestSolveChecksumAtom(t *testing.T) {
	idx := indexOf(t, "", rec("foo", "1")+rec("foo", "2"))
	old := FormatChecksum(idx.Packages[0].Checksum)
	got, err := Solve(mustWorld(t, "foo><"+old), []*Index{idx}, SolveOptions{})
	if want := "foo-1"; err != nil || names(got) != want {
		t.Errorf("Solve(foo><%s) = %s, %v; want %s", old, names(got), err, want)
	}
	got, err = Solve(mustWorld(t, "!foo><"+old), []*Index{idx}, SolveOptions{})
	if want := ""; err != nil || names(got) != want {
		t.Errorf("Solve(!foo><%s) = %s, %v; want nothing", old, names(got), err)
	}
	other := FormatChecksum(make([]byte, 20))
	var se *SolveError
	if got, err := Solve(mustWorld(t, "foo><"+other), []*Index{idx}, SolveOptions{}); !errors.As(err, &se) {
		t.Errorf("Solve(foo><%s) = %s, %v; want a *SolveError", other, names(got), err)
	}
}
