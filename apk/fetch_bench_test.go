package apk_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// benchPackages is the number of packages in the benchmark repository;
// their sizes are spread log-uniformly from 10 KB to 2 MB (~100 MB in all),
// most content incompressible like binaries, some text.
const benchPackages = 200

type benchRepo struct {
	repo  *apktest.Repo
	files map[string][]byte // by URL path
	total int64             // .apk bytes
}

var benchRepoOnce = sync.OnceValues(func() (*benchRepo, error) {
	key, err := pkgTestKey()
	if err != nil {
		return nil, err
	}
	repo := apktest.NewRepo(key)
	for i := range benchPackages {
		size := int(10e3 * math.Pow(2e6/10e3, float64(i)/(benchPackages-1)) * 1.5)
		name := fmt.Sprintf("pkg%03d", i)
		var files []apktest.File
		for j, left := 0, size; left > 0; j++ {
			n := min(left, 256<<10)
			data := pseudoRandom(fmt.Sprint(name, j), n)
			if j%4 == 3 { // a quarter of the files are text
				data = bytes.Repeat([]byte(fmt.Sprintf("%s line %d of some text\n", name, j)), n/16+1)[:n]
			}
			files = append(files, apktest.File{Name: fmt.Sprintf("usr/lib/%s/f%03d", name, j), Data: data})
			left -= n
		}
		if _, err := repo.Add(apktest.Pkg{Name: name, Version: "1.0-r0", Files: files}); err != nil {
			return nil, err
		}
	}
	index, err := repo.IndexArchive()
	if err != nil {
		return nil, err
	}
	dir := "/" + path.Join(repo.Branch, repo.Name, repo.Arch)
	br := &benchRepo{repo: repo, files: map[string][]byte{dir + "/APKINDEX.tar.gz": index}}
	for _, p := range repo.Packages {
		br.files[dir+"/"+p.FileName()] = p.Data
		br.total += int64(len(p.Data))
	}
	return br, nil
})

// serve serves the repository's files from memory (apktest's Handler signs
// the index again on every request) and counts the requests. A rate above
// zero caps the server's total output in bytes per second, shared by all
// connections, like a mirror's link.
func (br *benchRepo) serve(b *testing.B, requests *atomic.Int64, rate float64) *httptest.Server {
	var (
		mu   sync.Mutex
		next time.Time // when the link is free again
	)
	pace := func(n int) {
		mu.Lock()
		now := time.Now()
		if next.Before(now) {
			next = now
		}
		at := next
		next = next.Add(time.Duration(float64(n) / rate * float64(time.Second)))
		mu.Unlock()
		time.Sleep(time.Until(at))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		data, ok := br.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if rate <= 0 {
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		for len(data) > 0 {
			n := min(len(data), 64<<10)
			pace(n)
			w.Write(data[:n])
			data = data[n:]
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchSetup(b *testing.B, rate float64) (*benchRepo, *httptest.Server, *atomic.Int64, *apk.Index, *apk.Client) {
	b.Helper()
	br, err := benchRepoOnce()
	if err != nil {
		b.Fatal(err)
	}
	requests := new(atomic.Int64)
	srv := br.serve(b, requests, rate)
	c := &apk.Client{CacheDir: b.TempDir(), Keys: br.repo.Key.KeyRing(), Arch: "x86_64"}
	idx, err := c.FetchIndex(context.Background(), apk.Repository{URLs: []string{br.repo.URL(srv.URL)}})
	if err != nil {
		b.Fatal(err)
	}
	return br, srv, requests, idx, c
}

// rawFetch GETs every package, as many at once as the client's default,
// into io.Discard (the most the server and loopback can deliver) or, when
// dir is not "", into files there (the same plus the disk writes a cache
// needs, without any verification).
func rawFetch(b *testing.B, br *benchRepo, srv *httptest.Server, dir string) {
	paths := make(chan string)
	var wg sync.WaitGroup
	for range apk.DefaultParallel {
		wg.Go(func() {
			for p := range paths {
				resp, err := http.Get(srv.URL + p)
				if err != nil {
					b.Error(err)
					continue
				}
				if dir == "" {
					io.Copy(io.Discard, resp.Body)
				} else if f, err := os.Create(filepath.Join(dir, path.Base(p))); err != nil {
					b.Error(err)
				} else {
					io.Copy(f, resp.Body)
					f.Close()
				}
				resp.Body.Close()
			}
		})
	}
	for p := range br.files {
		if path.Ext(p) == ".apk" {
			paths <- p
		}
	}
	close(paths)
	wg.Wait()
}

// BenchmarkFetchPackages fetches and verifies the 200 packages into an
// empty cache, and in the same run measures the raw transfer of the same
// bytes (into io.Discard, and into plain files), so that MB/s can be read
// against raw-MB/s and raw-to-disk-MB/s (%-of-raw, %-of-raw-to-disk). The
// server sends as fast as loopback goes, or at 100 MB/s, a fast mirror.
func BenchmarkFetchPackages(b *testing.B) {
	b.Run("loopback", func(b *testing.B) { benchmarkFetchPackages(b, 0) })
	b.Run("100MBps", func(b *testing.B) { benchmarkFetchPackages(b, 100e6) })
}

func benchmarkFetchPackages(b *testing.B, rate float64) {
	br, srv, _, idx, c := benchSetup(b, rate)
	var raw, rawDisk, fetch time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		rawFetch(b, br, srv, "")
		raw += time.Since(start)

		dir := b.TempDir()
		start = time.Now()
		rawFetch(b, br, srv, dir)
		rawDisk += time.Since(start)
		os.RemoveAll(dir)

		c.CacheDir = b.TempDir()
		start = time.Now()
		if _, err := c.FetchPackages(context.Background(), idx.Packages); err != nil {
			b.Fatal(err)
		}
		fetch += time.Since(start)
		os.RemoveAll(c.CacheDir)
	}
	mb := float64(br.total) * float64(b.N) / 1e6
	b.ReportMetric(mb/fetch.Seconds(), "MB/s")
	b.ReportMetric(mb/raw.Seconds(), "raw-MB/s")
	b.ReportMetric(mb/rawDisk.Seconds(), "raw-to-disk-MB/s")
	b.ReportMetric(100*raw.Seconds()/fetch.Seconds(), "%-of-raw")
	b.ReportMetric(100*rawDisk.Seconds()/fetch.Seconds(), "%-of-raw-to-disk")
	b.ReportMetric(float64(br.total)/1e6, "MB/op")
}

// BenchmarkFetchPackagesWarm fetches the same packages from a warm cache:
// no request may reach the server, and every package is verified again.
func BenchmarkFetchPackagesWarm(b *testing.B) {
	br, _, requests, idx, c := benchSetup(b, 0)
	if _, err := c.FetchPackages(context.Background(), idx.Packages); err != nil {
		b.Fatal(err)
	}
	before := requests.Load()
	b.SetBytes(br.total)
	for b.Loop() {
		if _, err := c.FetchPackages(context.Background(), idx.Packages); err != nil {
			b.Fatal(err)
		}
	}
	if n := requests.Load() - before; n != 0 {
		b.Fatalf("a warm-cache fetch made %d requests, want none", n)
	}
}
