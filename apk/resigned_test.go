package apk_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// TestFetchTellsResignedFromCorrupt (issue 16): a cached package that
// upstream signed again (the same control and data members, so the same
// C:, in a file of another size) is fetched again with an Info line
// saying it changed upstream; a damaged one with a Warn line saying it is
// corrupt.
func TestFetchTellsResignedFromCorrupt(t *testing.T) {
	pkgs := func(unsigned bool) *apktest.Repo {
		repo := apktest.NewRepo(pkgKey(t))
		for _, name := range []string{"alpha", "beta"} {
			p := apktest.Pkg{Name: name, Version: "1-r0", Files: []apktest.File{{Name: "etc/" + name, Data: []byte(strings.Repeat(name, 500))}}}
			p.Faults.NoSignature = unsigned && name == "alpha"
			if _, err := repo.Add(p); err != nil {
				t.Fatal(err)
			}
		}
		return repo
	}
	before, after := pkgs(false), pkgs(true)
	c := testClient(t, before)
	_, paths, err := fetchAll(t, c, repoOf(before.URL(serve(t, before, nil).URL)))
	if err != nil {
		t.Fatal(err)
	}
	corrupt(t, paths[1]) // beta
	var log strings.Builder
	c2 := testClient(t, after)
	c2.CacheDir = c.CacheDir
	c2.Logger = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, _, err := fetchAll(t, c2, repoOf(after.URL(serve(t, after, nil).URL))); err != nil {
		t.Fatal(err)
	}
	var alpha, beta string
	for _, l := range strings.Split(log.String(), "\n") {
		switch {
		case strings.Contains(l, "alpha-1-r0"):
			alpha += l
		case strings.Contains(l, "beta-1-r0"):
			beta += l
		}
	}
	if !strings.Contains(alpha, "level=INFO") || !strings.Contains(alpha, "changed upstream") || strings.Contains(alpha, "corrupt") {
		t.Errorf("log of the package signed again upstream = %q, want an INFO line saying it changed upstream", alpha)
	}
	if !strings.Contains(beta, "level=WARN") || !strings.Contains(beta, "corrupt") {
		t.Errorf("log of the damaged package = %q, want a WARN line saying it is corrupt", beta)
	}
}
