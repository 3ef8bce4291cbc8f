package alpinetest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// WriteMirror builds the repositories Options describe straight into dir,
// laid out like a mirror (<dir>/v3.23/main/x86_64/APKINDEX.tar.gz and the
// .apk files, the same for community), plus the public key as
// <dir>/<Key.Name>. Packages are built in parallel and written as soon as
// each is done, so a scale repository never sits in memory whole; the
// returned Repos therefore hold index records only (Built.Data is nil, so
// their Handler serves nothing but the indexes: serve dir instead).
func WriteMirror(dir string, opts Options) (*Repos, error) {
	r, err := newRepos(opts)
	if err != nil {
		return nil, err
	}
	type job struct {
		community bool
		build     func() apktest.Pkg
	}
	var jobs []job
	err = eachPackage(opts, r.Key, func(community bool, build func() apktest.Pkg) error {
		jobs = append(jobs, job{community, build})
		return nil
	})
	if err != nil {
		return nil, err
	}
	built := make([]apktest.Built, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				repo := r.Main
				if jobs[i].community {
					repo = r.Community
				}
				built[i], errs[i] = writePackage(dir, repo, jobs[i].build(), r.Key)
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, err
		}
		repo := r.Main
		if jobs[i].community {
			repo = r.Community
		}
		repo.Packages = append(repo.Packages, built[i])
	}
	for _, repo := range []*apktest.Repo{r.Main, r.Community} {
		index, err := repo.IndexArchive()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(repoDir(dir, repo), "APKINDEX.tar.gz"), index, 0o644); err != nil {
			return nil, fmt.Errorf("writing mirror: %w", err)
		}
	}
	if err := r.WriteKey(dir); err != nil {
		return nil, err
	}
	return r, nil
}

func repoDir(base string, repo *apktest.Repo) string {
	return filepath.Join(base, repo.Branch, repo.Name, repo.Arch)
}

// writePackage builds p and writes it into its repository's directory,
// returning its record without the package bytes.
func writePackage(base string, repo *apktest.Repo, p apktest.Pkg, key *apktest.Key) (apktest.Built, error) {
	if p.Arch == "" {
		p.Arch = repo.Arch
	}
	data, rec, err := apktest.BuildPackage(p, key)
	if err != nil {
		return apktest.Built{}, err
	}
	b := apktest.Built{Record: rec}
	d := repoDir(base, repo)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return b, fmt.Errorf("writing mirror: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d, b.FileName()), data, 0o644); err != nil {
		return b, fmt.Errorf("writing mirror: %w", err)
	}
	return b, nil
}
