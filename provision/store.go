package provision

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/internal/privdir"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// The store keeps unpacked package contents, so that a warm build needs no
// inflating at all:
//
//	<StoreDir>/pkgs-v<N>/<C: hex>.data  the package's regular files, concatenated in archive order
//	<StoreDir>/pkgs-v<N>/<C: hex>.json  its manifest: the entries, with offsets into .data
//	<StoreDir>/files/<2 hex>/<38 hex>   a file the build made itself, named by its SHA-1
//	<StoreDir>/tmp/                     files being written
//
// One data file per package, not one file per entry: creating and renaming
// 25,000 small files costs more than inflating them. Everything enters the
// store by rename, so a reader never sees a partial file: a package's data
// before its manifest, and the manifest only after the whole package
// verified (datahash at the end of the data). Concurrent builds may write
// the same names; the rename makes the last one win, with the same bytes.
type store struct {
	dir string

	mu    sync.Mutex
	blobs map[string]*blob // open package data files, by path
}

func newStore(dir string) *store { return &store{dir: dir, blobs: map[string]*blob{}} }

// blob is a package data file, opened once and read with ReadAt by
// every entry's Content.
type blob struct {
	root string // the store directory, which path is below
	path string
	once sync.Once
	f    *os.File
	err  error
}

func (b *blob) file() (*os.File, error) {
	b.once.Do(func() { b.f, b.err = privdir.Open(b.root, b.path) })
	return b.f, b.err
}

// close closes every package data file the store opened.
func (s *store) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.blobs {
		if b.f != nil {
			b.f.Close()
		}
	}
	s.blobs = map[string]*blob{}
}

// manifestVersion changes whenever the manifest format does; manifests of
// another version are unpacked again.
const manifestVersion = 2

// manifest is what a package installs: its entries in archive order and
// what provisioning needs from its .PKGINFO and control member.
type manifest struct {
	Version          int               `json:"version"`
	Package          string            `json:"package"`  // name-version, for messages
	Checksum         string            `json:"checksum"` // the package's C:, which names the manifest too
	Origin           string            `json:"origin,omitempty"`
	Replaces         []string          `json:"replaces,omitempty"`
	ReplacesPriority int               `json:"replaces_priority,omitempty"`
	Triggers         []string          `json:"triggers,omitempty"`
	Scripts          map[string]string `json:"scripts,omitempty"`
	DataSize         int64             `json:"data_size"` // of the .data file
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
	Offset   int64             `json:"o,omitempty"`  // of a regular file's content in the package's .data
	Link     string            `json:"l,omitempty"`  // symlink target or hard link target
	Devmajor int64             `json:"dM,omitempty"` // device numbers
	Devminor int64             `json:"dm,omitempty"`
	Xattrs   map[string][]byte `json:"x,omitempty"`
}

func (s *store) filePath(sum string) string {
	return filepath.Join(s.dir, "files", sum[:2], sum[2:])
}

// pkgPath names a package's data or manifest; the directory carries the
// manifest version, so binaries of another version never share (and undo)
// each other's unpacked data in one cache.
func (s *store) pkgPath(p *apk.Package, ext string) string {
	return filepath.Join(s.pkgDir(), hex.EncodeToString(p.Checksum)+ext)
}

func (s *store) pkgDir() string {
	return filepath.Join(s.dir, fmt.Sprintf("pkgs-v%d", manifestVersion))
}

func (s *store) tempDir() string { return filepath.Join(s.dir, "tmp") }

// loadManifest returns the package's manifest if the store has it and its
// data; ok is false when the package must be unpacked (also when one of
// them is not private to the user: the unpacking renames its own over it).
func (s *store) loadManifest(p *apk.Package) (*manifest, bool) {
	data, err := privdir.ReadFile(s.dir, s.pkgPath(p, ".json"))
	if err != nil {
		return nil, false
	}
	var m manifest
	if json.Unmarshal(data, &m) != nil || m.Version != manifestVersion || m.Package != p.String() || m.Checksum != apk.FormatChecksum(p.Checksum) {
		return nil, false
	}
	f, err := privdir.Open(s.dir, s.pkgPath(p, ".data"))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() != m.DataSize {
		return nil, false
	}
	return &m, true
}

// unpack reads the verified package file path (whose control member must
// match p's C:) into the store and returns its manifest. Nothing of the
// package is trusted before its data verified: the manifest is written
// last, and a failure leaves no temporary file behind.
func (s *store) unpack(ctx context.Context, p *apk.Package, path string) (_ *manifest, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := privdir.CheckFile(f); err != nil {
		return nil, err
	}
	pr, err := apk.NewPackageReader(f, p)
	if err != nil {
		return nil, err
	}
	info := pr.Info()
	m := &manifest{
		Version: manifestVersion, Package: p.String(), Checksum: apk.FormatChecksum(p.Checksum), Origin: info.Origin,
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
	if err := privdir.MkdirAll(s.dir, s.tempDir(), 0o700); err != nil {
		return nil, err
	}
	data, err := os.CreateTemp(s.tempDir(), "data-*")
	if err != nil {
		return nil, err
	}
	defer func() {
		data.Close()
		if err != nil {
			os.Remove(data.Name())
		}
	}()
	sw := newSparseWriter(data)
	buf := make([]byte, 256<<10) // io.Copy would allocate one per entry
	limit := installedSizeLimit(p.InstalledSize)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		e, err := tarEntry(hdr)
		if err != nil {
			return nil, fmt.Errorf("reading package %s: data entry %q: %w", p, hdr.Name, err)
		}
		if e.Type == tar.TypeReg {
			// Checked before the content is read: a header's size is
			// all that entry can write.
			if e.Size > limit-m.DataSize {
				return nil, fmt.Errorf("reading package %s: it inflates beyond its declared installed size (%d bytes): data entry %q would make it %d bytes, more than the %d allowed",
					p, p.InstalledSize, e.Name, m.DataSize+e.Size, limit)
			}
			n, err := io.CopyBuffer(writerOnly{sw}, pr, buf)
			if err != nil {
				return nil, err
			}
			if n != e.Size {
				return nil, fmt.Errorf("reading package %s: data entry %q has %d bytes, its header says %d", p, e.Name, n, e.Size)
			}
			// The SHA-1 the reader computed (and checked against the
			// entry's record, when it has one) as the bytes went by.
			sum, err := pr.Checksum()
			if err != nil {
				return nil, err
			}
			e.Offset, e.SHA1 = m.DataSize, hex.EncodeToString(sum)
			m.DataSize += n
		}
		m.Entries = append(m.Entries, e)
	}
	if err := sw.Close(); err != nil {
		return nil, err
	}
	js, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if err := privdir.MkdirAll(s.dir, s.pkgDir(), 0o700); err != nil {
		return nil, err
	}
	if err := os.Rename(data.Name(), s.pkgPath(p, ".data")); err != nil {
		return nil, err
	}
	if err := s.publish(s.pkgPath(p, ".json"), bytes.NewReader(js)); err != nil {
		return nil, fmt.Errorf("storing the manifest of package %s: %w", p, err)
	}
	return m, nil
}

// writerOnly hides a writer's ReadFrom, so that io.CopyBuffer uses the
// buffer it is given.
type writerOnly struct{ io.Writer }

// pkgOpener returns the Content function of a package's regular file: a
// section of the package's data file, checked as it is read against the
// SHA-1 the package vouched for.
func (s *store) pkgOpener(p *apk.Package, e *entry) func() (io.ReadCloser, error) {
	path := s.pkgPath(p, ".data")
	s.mu.Lock()
	b, ok := s.blobs[path]
	if !ok {
		b = &blob{root: s.dir, path: path}
		s.blobs[path] = b
	}
	s.mu.Unlock()
	sum, off, size, guest := e.SHA1, e.Offset, e.Size, e.Name
	pkg, manifest := p.String(), s.pkgPath(p, ".json")
	return func() (io.ReadCloser, error) {
		f, err := b.file()
		if err != nil {
			return nil, fmt.Errorf("opening the stored content of %q: %w", "/"+guest, err)
		}
		return &verifyingReader{r: io.NewSectionReader(f, off, size), name: f.Name(), h: sha1.New(), want: sum, left: size, path: guest,
			pkg: pkg, forget: manifest}, nil
	}
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

// putBytes stores b (a file the build makes itself) and returns its hex
// SHA-1.
func (s *store) putBytes(b []byte) (string, error) {
	sum := sha1.Sum(b)
	hexSum := hex.EncodeToString(sum[:])
	if err := privdir.MkdirAll(s.dir, s.tempDir(), 0o700); err != nil {
		return "", err
	}
	return hexSum, s.publish(s.filePath(hexSum), bytes.NewReader(b))
}

// publish writes r to a temporary file and renames it to name.
func (s *store) publish(name string, r io.Reader) (err error) {
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
	if _, err := io.Copy(tmp, r); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := privdir.MkdirAll(s.dir, filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// fileOpener returns the Content function of a file putBytes stored.
func (s *store) fileOpener(sum string, size int64, guestPath string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		f, err := privdir.Open(s.dir, s.filePath(sum))
		if err != nil {
			return nil, fmt.Errorf("opening the stored content of %q: %w", "/"+guestPath, err)
		}
		return &verifyingReader{r: f, c: f, name: f.Name(), h: sha1.New(), want: sum, left: size, path: guestPath, forget: f.Name()}, nil
	}
}

// verifyingReader hashes what is read and fails the read that reaches the
// expected size if the bytes do not match the SHA-1 they were stored with.
type verifyingReader struct {
	r    io.Reader
	c    io.Closer // nil for a section of a shared file
	name string
	h    hash.Hash
	want string
	left int64
	path string
	pkg  string // name-version of the package the content came from, if any
	err  error  // sticky: the content did not match

	// forget is removed from the store when the content does not match:
	// the package's manifest (so the next run unpacks it again from its
	// verified .apk) or the stored file itself.
	forget string
}

// Read returns the mismatch with the last bytes and again on every later
// call: a caller such as io.ReadFull may drop an error that comes with a
// full buffer, and must meet it on its next read.
func (v *verifyingReader) Read(b []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(b)
	v.h.Write(b[:n])
	v.left -= int64(n)
	if v.left <= 0 && n > 0 {
		if got := hex.EncodeToString(v.h.Sum(nil)); v.left < 0 || got != v.want {
			v.err = &StoreCorruptError{Package: v.pkg, Path: v.path, File: v.name, Got: got, Want: v.want}
			if v.forget != "" {
				os.Remove(v.forget) // at worst, a package a concurrent run just unpacked is unpacked once more
			}
			return n, v.err
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error {
	if v.c == nil {
		return nil
	}
	return v.c.Close()
}

// sweepTemps removes temporary files older than an hour (those of runs
// that died); younger ones may belong to a concurrent run. Only ours are
// removed, never through a symlink (see privdir.SweepTemps).
func (s *store) sweepTemps(now time.Time) {
	privdir.SweepTemps(s.dir, filepath.Base(s.tempDir()), isStoreTemp, now.Add(-time.Hour))
}

// isStoreTemp reports whether name is one of the store's CreateTemp
// patterns, "data-*" and "put-*", with the decimal digits CreateTemp puts
// for the star.
func isStoreTemp(name string) bool {
	return privdir.IsTemp(name, "data-") || privdir.IsTemp(name, "put-")
}

var errNoStore = errors.New("no StoreDir given")

// fileMode converts tar permission bits to fs.FileMode bits.
func fileMode(m int64) fs.FileMode { return unixmode.DecodePerm(uint32(m)) }

// installedSizeMargin is how far a package's regular files may exceed the
// installed size (I:) its index declares. abuild's I: is the sum of the
// file sizes (v3.23) or `du -sk` of the tree, block-rounded and counting
// directories (older indexes), so a real package's files fit their own
// I:; the margin is for a hand-made index that got it a little wrong.
const installedSizeMargin = 16 << 20

// installedSizeLimit is the most a package declaring I: declared may
// inflate to: twice its I:, and at least 16 MiB more.
func installedSizeLimit(declared int64) int64 {
	declared = max(declared, 0)
	margin := max(declared, installedSizeMargin)
	if declared > math.MaxInt64-margin {
		return math.MaxInt64
	}
	return declared + margin
}

// sparseWriter writes a package's data file, leaving every aligned block
// of zeros a hole: a package's runs of zeros (and a bomb's) cost no disk.
type sparseWriter struct {
	f   *os.File
	buf []byte // a multiple of sparseBlock; starts at off, which is too
	off int64
}

const sparseBlock = 4096

var zeroBlock [sparseBlock]byte

func newSparseWriter(f *os.File) *sparseWriter {
	return &sparseWriter{f: f, buf: make([]byte, 0, 1<<20)}
}

func (w *sparseWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		c := copy(w.buf[len(w.buf):cap(w.buf)], b)
		w.buf, b = w.buf[:len(w.buf)+c], b[c:]
		if len(w.buf) == cap(w.buf) {
			if err := w.flush(); err != nil {
				return n - len(b), err
			}
		}
	}
	return n, nil
}

// flush writes the buffer's non-zero blocks where they belong.
func (w *sparseWriter) flush() error {
	b := w.buf
	for len(b) > 0 {
		run := 0 // non-zero blocks, written with one call
		for run < len(b) && !bytes.Equal(b[run:min(run+sparseBlock, len(b))], zeroBlock[:min(sparseBlock, len(b)-run)]) {
			run += min(sparseBlock, len(b)-run)
		}
		if run > 0 {
			if _, err := w.f.WriteAt(b[:run], w.off); err != nil {
				return err
			}
		}
		zeros := run
		for zeros < len(b) && bytes.Equal(b[zeros:min(zeros+sparseBlock, len(b))], zeroBlock[:min(sparseBlock, len(b)-zeros)]) {
			zeros += min(sparseBlock, len(b)-zeros)
		}
		w.off += int64(zeros)
		b = b[zeros:]
	}
	w.buf = w.buf[:0]
	return nil
}

// Close writes what is buffered and gives the file its size, which a
// trailing hole does not.
func (w *sparseWriter) Close() error {
	if err := w.flush(); err != nil {
		return err
	}
	if err := w.f.Truncate(w.off); err != nil {
		return err
	}
	return w.f.Close()
}

// StoreCorruptError is stored content that no longer hashes to what it
// was stored with (a disk error, or someone changed the cache). The
// store forgets the package when it is found, so the next Provision
// unpacks it again from its verified .apk: a caller may retry once.
type StoreCorruptError struct {
	Package   string // name-version; "" for a file the build made itself
	Path      string // in the guest, without the leading slash
	File      string // the store's file
	Got, Want string // hex SHA-1s
}

func (e *StoreCorruptError) Error() string {
	what := ""
	if e.Package != "" {
		what = " of package " + e.Package
	}
	return fmt.Sprintf("stored content of %q%s (in %s) was changed: it hashes to %s, not %s", "/"+e.Path, what, e.File, e.Got, e.Want)
}
