package provision

import (
	"archive/tar"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// The store keeps unpacked package contents, so that a warm build needs no
// inflating at all:
//
//	<StoreDir>/files/<2 hex>/<38 hex>   a file's bytes, named by their SHA-1
//	<StoreDir>/manifests/<Q1 hex>.json  a package's entries, named by its C:
//	<StoreDir>/tmp/                     files being written
//
// Both kinds enter the store by rename, so a reader never sees a partial
// one: a file once its bytes are written and hashed, a manifest only after
// the whole package verified (datahash at the end of the data). Concurrent
// builds may write the same name; the rename makes the last one win, with
// the same bytes.
type store struct{ dir string }

// manifestVersion changes whenever the manifest format does; manifests of
// another version are unpacked again.
const manifestVersion = 1

// manifest is what a package installs: its entries in archive order and
// what provisioning needs from its .PKGINFO and control member.
type manifest struct {
	Version          int               `json:"version"`
	Package          string            `json:"package"` // name-version, for messages
	Origin           string            `json:"origin,omitempty"`
	Replaces         []string          `json:"replaces,omitempty"`
	ReplacesPriority int               `json:"replaces_priority,omitempty"`
	Triggers         []string          `json:"triggers,omitempty"`
	Scripts          map[string]string `json:"scripts,omitempty"`
	Entries          []entry           `json:"entries"`
}

// entry is one data tar entry.
type entry struct {
	Name     string            `json:"n"`           // clean path, no trailing slash
	Type     byte              `json:"t"`           // tar typeflag: '0' '1' '2' '3' '4' '5' '6'
	Mode     int64             `json:"m"`           // permission, setuid, setgid, sticky bits
	Uname    string            `json:"u,omitempty"` // owner by name, as the tar says
	Gname    string            `json:"g,omitempty"`
	UID      int               `json:"uid,omitempty"` // numeric fallbacks
	GID      int               `json:"gid,omitempty"`
	MTime    int64             `json:"mt"` // Unix nanoseconds
	Size     int64             `json:"s,omitempty"`
	SHA1     string            `json:"h,omitempty"`  // hex, of a regular file's content or a symlink's target
	Link     string            `json:"l,omitempty"`  // symlink target or hard link target
	Devmajor int64             `json:"dM,omitempty"` // device numbers
	Devminor int64             `json:"dm,omitempty"`
	Xattrs   map[string][]byte `json:"x,omitempty"`
}

func (s store) filePath(sum string) string {
	return filepath.Join(s.dir, "files", sum[:2], sum[2:])
}

func (s store) manifestPath(p *apk.Package) string {
	return filepath.Join(s.dir, "manifests", hex.EncodeToString(p.Checksum)+".json")
}

func (s store) tempDir() string { return filepath.Join(s.dir, "tmp") }

// loadManifest returns the package's manifest if the store has it and
// every file it names; ok is false when the package must be unpacked.
func (s store) loadManifest(p *apk.Package) (*manifest, bool) {
	data, err := os.ReadFile(s.manifestPath(p))
	if err != nil {
		return nil, false
	}
	var m manifest
	if json.Unmarshal(data, &m) != nil || m.Version != manifestVersion {
		return nil, false
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		if e.Type != tar.TypeReg || e.Size == 0 {
			continue
		}
		if fi, err := os.Stat(s.filePath(e.SHA1)); err != nil || fi.Size() != e.Size {
			return nil, false
		}
	}
	return &m, true
}

// unpack reads the verified package file path (whose control member must
// match p's C:) into the store and returns its manifest. Nothing of the
// package is trusted before its data verified: the manifest is written
// last, and a failure leaves only complete, correctly named files behind.
func (s store) unpack(p *apk.Package, path string) (_ *manifest, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pr, err := apk.NewPackageReader(f, p)
	if err != nil {
		return nil, err
	}
	info := pr.Info()
	m := &manifest{
		Version: manifestVersion, Package: p.String(), Origin: info.Origin,
		ReplacesPriority: info.ReplacesPriority, Triggers: info.Triggers,
	}
	for _, r := range info.Replaces {
		m.Replaces = append(m.Replaces, r.String())
	}
	if len(info.Scripts) > 0 {
		m.Scripts = map[string]string{}
		for name, body := range info.Scripts {
			m.Scripts[name] = string(body)
		}
	}
	if err := os.MkdirAll(s.tempDir(), 0o755); err != nil {
		return nil, err
	}
	for {
		hdr, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		e, err := tarEntry(hdr)
		if err != nil {
			return nil, fmt.Errorf("reading package %s: data entry %s: %w", p, hdr.Name, err)
		}
		if e.Type == tar.TypeReg && e.Size > 0 {
			if e.SHA1, err = s.putReader(pr); err != nil {
				return nil, fmt.Errorf("unpacking %s of package %s: %w", e.Name, p, err)
			}
		} else if e.Type == tar.TypeReg {
			e.SHA1 = hex.EncodeToString(sha1Empty[:])
		}
		m.Entries = append(m.Entries, e)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := s.publish(s.manifestPath(p), bytes.NewReader(data), nil); err != nil {
		return nil, fmt.Errorf("storing the manifest of package %s: %w", p, err)
	}
	return m, nil
}

var sha1Empty = sha1.Sum(nil)

// tarEntry turns a verified data tar header into a manifest entry.
func tarEntry(hdr *tar.Header) (entry, error) {
	e := entry{
		Name: strings.TrimSuffix(hdr.Name, "/"), Type: hdr.Typeflag, Mode: hdr.Mode & 0o7777,
		Uname: hdr.Uname, Gname: hdr.Gname, UID: hdr.Uid, GID: hdr.Gid,
		MTime: hdr.ModTime.UnixNano(), Devmajor: hdr.Devmajor, Devminor: hdr.Devminor,
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old tar writers
		e.Type, e.Size = tar.TypeReg, hdr.Size
	case tar.TypeSymlink:
		sum := sha1.Sum([]byte(hdr.Linkname))
		e.Link, e.SHA1 = hdr.Linkname, hex.EncodeToString(sum[:])
	case tar.TypeLink:
		e.Link = strings.TrimSuffix(hdr.Linkname, "/")
	case tar.TypeDir, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return e, fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if e.Xattrs == nil {
				e.Xattrs = map[string][]byte{}
			}
			e.Xattrs[name] = []byte(v)
		}
	}
	return e, nil
}

// putReader copies r to the store and returns the hex SHA-1 of its bytes.
func (s store) putReader(r io.Reader) (string, error) {
	var sum string
	err := s.publish("", r, func(h hash.Hash) string {
		sum = hex.EncodeToString(h.Sum(nil))
		return s.filePath(sum)
	})
	return sum, err
}

// putBytes stores b (a file the build makes itself) and returns its hex
// SHA-1.
func (s store) putBytes(b []byte) (string, error) { return s.putReader(bytes.NewReader(b)) }

// publish writes r to a temporary file and renames it to name, or, when
// name is "", to what nameOf returns for the SHA-1 of the bytes.
func (s store) publish(name string, r io.Reader, nameOf func(hash.Hash) string) (err error) {
	tmp, err := os.CreateTemp(s.tempDir(), "put-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha1.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), r); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if nameOf != nil {
		name = nameOf(h)
	}
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// opener returns the Content function of a stored file: it opens the file
// and checks, as the bytes are read, that they still hash to its name.
func (s store) opener(sum string, size int64, guestPath string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		f, err := os.Open(s.filePath(sum))
		if err != nil {
			return nil, fmt.Errorf("opening the stored content of /%s: %w", guestPath, err)
		}
		return &verifyingReader{f: f, h: sha1.New(), want: sum, left: size, path: guestPath}, nil
	}
}

// verifyingReader hashes what is read and fails the read that reaches the
// expected size if the bytes do not match the store's name for them.
type verifyingReader struct {
	f    *os.File
	h    hash.Hash
	want string
	left int64
	path string
}

func (v *verifyingReader) Read(b []byte) (int, error) {
	n, err := v.f.Read(b)
	v.h.Write(b[:n])
	v.left -= int64(n)
	if v.left <= 0 && n > 0 {
		if got := hex.EncodeToString(v.h.Sum(nil)); v.left < 0 || got != v.want {
			return n, fmt.Errorf("stored content of /%s (%s) was changed: it hashes to %s", v.path, v.f.Name(), got)
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.f.Close() }

// sweepTemps removes temporary files older than an hour (those of runs
// that died); younger ones may belong to a concurrent run.
func (s store) sweepTemps(now time.Time) {
	des, err := os.ReadDir(s.tempDir())
	if err != nil {
		return
	}
	for _, de := range des {
		if fi, err := de.Info(); err == nil && now.Sub(fi.ModTime()) > time.Hour {
			os.Remove(filepath.Join(s.tempDir(), de.Name()))
		}
	}
}

var errNoStore = errors.New("no StoreDir given")

// fileMode converts tar permission bits to fs.FileMode bits.
func fileMode(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
