package apktest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// A Built package: its index record and its .apk bytes.
type Built struct {
	Record *apk.Package
	Data   []byte
}

// FileName is the package's file name in the repository, "<name>-<version>.apk".
func (b Built) FileName() string { return b.Record.Name + "-" + b.Record.Version + ".apk" }

// A Repo is a repository of built packages, laid out like an Alpine mirror:
// <branch>/<name>/<arch>/{APKINDEX.tar.gz,<pkg>-<ver>.apk}. Do not Add while
// it is being served.
type Repo struct {
	Key         *Key   // signs the packages and the index; nil makes them unsigned
	Arch        string // x86_64
	Branch      string // v3.23
	Name        string // main
	Description string // the index's DESCRIPTION; "" is "apktest <branch>/<name>"
	Packages    []Built
}

// NewRepo returns an empty x86_64 v3.23 "main" repository signed with key.
func NewRepo(key *Key) *Repo {
	return &Repo{Key: key, Arch: "x86_64", Branch: "v3.23", Name: "main"}
}

// Add builds p (its Arch defaults to the repository's), adds it and returns
// its index record.
func (r *Repo) Add(p Pkg) (*apk.Package, error) {
	if p.Arch == "" {
		p.Arch = r.Arch
	}
	data, rec, err := BuildPackage(p, r.Key)
	if err != nil {
		return nil, err
	}
	r.Packages = append(r.Packages, Built{Record: rec, Data: data})
	return rec, nil
}

// IndexText returns the APKINDEX text: one record per package, as
// apk.WriteIndex (apk index) writes it.
func (r *Repo) IndexText() ([]byte, error) {
	recs := make([]*apk.Package, len(r.Packages))
	for i, p := range r.Packages {
		recs[i] = p.Record
	}
	var b bytes.Buffer
	if err := apk.WriteIndex(&b, recs); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// IndexArchive returns the APKINDEX.tar.gz: the signature member (none
// without a key) over the tar of DESCRIPTION and APKINDEX, which ends with
// end-of-archive blocks, as `apk index` and abuild-sign make it.
func (r *Repo) IndexArchive() ([]byte, error) {
	desc := r.Description
	if desc == "" {
		desc = "apktest " + r.Branch + "/" + r.Name
	}
	text, err := r.IndexText()
	if err != nil {
		return nil, fmt.Errorf("building index: %w", err)
	}
	mtime := time.Unix(DefaultBuildTime, 0)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range []struct {
		name string
		data []byte
	}{{"DESCRIPTION", []byte(desc)}, {"APKINDEX", text}} {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.data)),
			Uname: "root", Gname: "root", ModTime: mtime, Format: tar.FormatGNU}
		if err := writeEntry(tw, hdr, e.data); err != nil {
			return nil, fmt.Errorf("building index: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("building index: %w", err)
	}
	body := gzipMember(buf.Bytes())
	if r.Key == nil {
		return body, nil
	}
	sig, err := r.Key.signatureMember(body, mtime)
	if err != nil {
		return nil, fmt.Errorf("building index: %w", err)
	}
	return append(sig, body...), nil
}

// URL returns the repository's address as /etc/apk/repositories holds it:
// base + "/" + branch + "/" + name (apk appends "/<arch>/...").
func (r *Repo) URL(base string) string {
	return strings.TrimSuffix(base, "/") + "/" + r.Branch + "/" + r.Name
}

// dir is the repository's arch directory, relative to the mirror root.
func (r *Repo) dir() string { return path.Join(r.Branch, r.Name, r.Arch) }

// files returns the repository's files by path below the mirror root.
func (r *Repo) files() (map[string][]byte, error) {
	index, err := r.IndexArchive()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{path.Join(r.dir(), "APKINDEX.tar.gz"): index}
	for _, p := range r.Packages {
		files[path.Join(r.dir(), p.FileName())] = p.Data
	}
	return files, nil
}

// WriteDir writes the repository below base:
// <base>/<branch>/<name>/<arch>/{APKINDEX.tar.gz,<name>-<ver>.apk}.
func (r *Repo) WriteDir(base string) error {
	files, err := r.files()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(base, filepath.FromSlash(r.dir())), 0o755); err != nil {
		return fmt.Errorf("writing repository: %w", err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(base, filepath.FromSlash(name)), data, 0o644); err != nil {
			return fmt.Errorf("writing repository: %w", err)
		}
	}
	return nil
}

// Handler serves the repository in the WriteDir layout, for
// httptest.NewServer; URL(server.URL) is then the repository's address.
// Files are served with http.ServeContent (Range requests work); unknown
// paths get 404.
func (r *Repo) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		files, err := r.files()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		data, ok := files[strings.TrimPrefix(path.Clean(req.URL.Path), "/")]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, req, path.Base(req.URL.Path), time.Unix(DefaultBuildTime, 0), bytes.NewReader(data))
	})
}
