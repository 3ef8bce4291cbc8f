package apk

import (
	"archive/tar"
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Size limits of a package, so that a small hostile file cannot make the
// reader allocate or inflate without end.
const (
	MaxControlSize = 16 << 20 // decompressed control member: .PKGINFO and scripts
	MaxDataSize    = 64 << 30 // decompressed data member
)

// PAXChecksumSHA1 is the PAX record abuild-tar puts on every data entry but
// hard links: the hex SHA-1 of a regular file's content or a symlink's target.
const PAXChecksumSHA1 = "APK-TOOLS.checksum.SHA1"

// A PackageReader reads a v2 .apk, verifying it as it goes.
//
// The layout is a series of gzip members that together form one tar
// stream: zero or more signature members (each holding one .SIGN.* entry),
// the control member (.PKGINFO first, then the scripts) and the data member
// (the file tree, ending with the end-of-archive blocks). The trust chain is
// the one apk-tools uses for a package taken from a verified index: the
// index's C: field is the SHA-1 of the compressed control member, the
// control's datahash is the SHA-256 of the compressed data member, and each
// data entry carries the SHA-1 of its content.
//
// The per-package signatures are not checked by the reader, as apk-tools
// does not check them for a package it found in a signed index; use
// VerifySignature for a package that comes without one.
//
// Left out: packages without datahash (abuild has written it since 2017;
// without it only the signature over control and data could vouch for the
// data), and the v3 ADB package format.
type PackageReader struct {
	info *PackageInfo
	what string // "package busybox-1.37.0-r30", for messages

	sigs        []signature
	controlSums map[crypto.Hash][]byte
	headerSize  int64 // bytes of the signature and control members

	data      io.Reader // decompressed data member, bounded
	dataSum   hash.Hash // over the compressed data bytes
	dataBytes int64     // compressed data bytes read so far
	want      *Package
	tr        *tar.Reader

	cur       *tar.Header
	curSum    hash.Hash         // over a regular file's content; nil once it is settled
	curWant   []byte            // the entry's PAX checksum, nil when it has none
	curDigest []byte            // the entry's SHA-1 once known (see Checksum)
	regulars  map[string][]byte // regular files seen (their SHA-1 once read), for hard links
	err       error             // sticky: io.EOF after a verified end, or the first failure
	finalized bool
}

// NewPackageReader reads the signature and control members of the package
// in r and leaves the reader at the start of the data. When want is not
// nil, the control member must hash to want.Checksum (the index's C:).
func NewPackageReader(r io.Reader, want *Package) (*PackageReader, error) {
	p := &PackageReader{want: want, what: "package", regulars: map[string][]byte{}}
	if want != nil {
		p.what = "package " + want.String()
		if len(want.Checksum) == 0 {
			return nil, fmt.Errorf("reading %s: the index record has no checksum to verify it with", p.what)
		}
	}
	if err := p.readHeader(r); err != nil {
		return nil, fmt.Errorf("reading %s: %w", p.what, err)
	}
	return p, nil
}

func (p *PackageReader) readHeader(r io.Reader) error {
	m := newMemberReader(r)
	var gz gzip.Reader
	info := &PackageInfo{}
	for member := 1; ; member++ {
		start := m.offset()
		if eof, err := m.atEOF(); err != nil {
			return err
		} else if eof {
			return fmt.Errorf("stream ends after %d bytes without a control member (.PKGINFO)", start)
		}
		m.startMember(signatureAlgs(p.sigs)...)
		if err := openMember(&gz, m); err != nil {
			return fmt.Errorf("gzip member %d at byte %d: %w", member, start, noEOF(err))
		}
		lr := &limitReader{r: &gz, n: MaxControlSize, what: "control member"}
		tr := tar.NewReader(lr)
		hdr, err := tr.Next()
		if err != nil {
			return fmt.Errorf("gzip member %d at byte %d: %w", member, start, noEOF(err))
		}
		var control bool
		switch {
		case strings.HasPrefix(hdr.Name, signaturePrefix):
			var sigs []signature
			sigs, err = readSignatureEntries(tr, hdr)
			p.sigs = append(p.sigs, sigs...)
		case hdr.Name == ".PKGINFO":
			control = true
			err = p.readControl(tr, hdr, info)
		default:
			err = fmt.Errorf("first entry is %q, want .SIGN.* or .PKGINFO", hdr.Name)
		}
		if err == nil {
			err = drain(lr)
		}
		if err != nil {
			return fmt.Errorf("gzip member %d at byte %d: %w", member, start, err)
		}
		sums := m.endMember()
		if control {
			p.controlSums = sums
			break
		}
	}
	info.Checksum = p.controlSums[crypto.SHA1]
	p.info = info
	if p.want != nil && !bytes.Equal(info.Checksum, p.want.Checksum) {
		return fmt.Errorf("control member has checksum %s, the index says %s",
			FormatChecksum(info.Checksum), FormatChecksum(p.want.Checksum))
	}
	if p.want == nil {
		p.what = "package " + info.String()
	}
	if len(info.DataHash) == 0 {
		return errors.New(".PKGINFO has no datahash, so the data cannot be verified")
	}
	p.headerSize = m.offset()
	p.dataSum = sha256.New()
	br := hashingBufReader(m.rest(), p.dataSum, &p.dataBytes)
	dgz, err := gzip.NewReader(br)
	if err != nil {
		return fmt.Errorf("data member at byte %d: %w", p.headerSize, noEOF(err))
	}
	p.data = &limitReader{r: dgz, n: MaxDataSize, what: "data member"}
	p.tr = tar.NewReader(p.data)
	return nil
}

// noEOF turns an io.EOF in the middle of a structure into a truncation.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (p *PackageReader) readControl(tr *tar.Reader, hdr *tar.Header, info *PackageInfo) error {
	for _, s := range p.sigs {
		info.Signatures = append(info.Signatures, s.entry)
	}
	if isSparse(hdr) {
		return errors.New(".PKGINFO is a sparse file")
	}
	body, err := io.ReadAll(tr)
	if err != nil {
		return fmt.Errorf("reading .PKGINFO: %w", err)
	}
	if err := parsePkgInfo(body, info); err != nil {
		return err
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("control entry after .PKGINFO: %w", err)
		}
		if !strings.HasPrefix(hdr.Name, ".") || strings.Contains(hdr.Name, "/") {
			return fmt.Errorf("control member holds %q: control and data must be separate gzip members", hdr.Name)
		}
		if !controlScripts[hdr.Name] {
			continue
		}
		if !isRegular(hdr) {
			return fmt.Errorf("script %q is not a regular file", hdr.Name)
		}
		if isSparse(hdr) {
			return fmt.Errorf("%q is a sparse file", hdr.Name)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("reading %q: %w", hdr.Name, err)
		}
		if info.Scripts == nil {
			info.Scripts = map[string][]byte{}
		}
		info.Scripts[hdr.Name] = body
	}
}

// isSparse reports whether hdr is a PAX sparse file, whose holes
// archive/tar expands: a map block can make a file of any size that the
// member does not hold, past the limits on its inflated size.
func isSparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func isRegular(hdr *tar.Header) bool {
	return hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA //nolint:staticcheck // old tar writers
}

// dataOffset returns the size of the signature and control members: the
// data member starts there.
func (p *PackageReader) dataOffset() int64 { return p.headerSize }

// Info returns what the package says about itself. Its Size is set once the
// data has been read to the end.
func (p *PackageReader) Info() *PackageInfo { return p.info }

// VerifySignature checks the package's own signatures over its control
// member (which pins the data through datahash) and returns the name of the
// trusted key that signed it. Packages from a verified index need not be
// checked this way; their trust comes from the index's checksum.
func (p *PackageReader) VerifySignature(keys *KeyRing) (string, error) {
	name, err := verifySignatures(keys, p.sigs, p.controlSums)
	if err != nil {
		return "", fmt.Errorf("verifying %s: %w", p.what, err)
	}
	return name, nil
}

// Next advances to the next data entry and returns its header, with the
// PAX records (PAXChecksumSHA1, SCHILY.xattr.*) kept. It verifies the
// entry left behind, reading whatever of it was not read. At the end of the
// data it checks the data member against datahash and returns io.EOF only if
// it matched; nothing the reader returned may be trusted before that.
func (p *PackageReader) Next() (*tar.Header, error) {
	if p.err != nil {
		return nil, p.err
	}
	if err := p.finishEntry(); err != nil {
		return nil, p.fail(err)
	}
	hdr, err := p.tr.Next()
	if err == io.EOF {
		if err := p.finishData(); err != nil {
			return nil, p.fail(err)
		}
		p.err = io.EOF
		return nil, io.EOF
	}
	if err != nil {
		after := "data member start"
		if p.cur != nil {
			after = "data entry " + strconv.Quote(p.cur.Name)
		}
		return nil, p.fail(fmt.Errorf("reading the entry after %s: %w", after, err))
	}
	p.cur, p.curSum, p.curWant, p.curDigest = hdr, nil, nil, nil
	if err := p.checkEntry(hdr); err != nil {
		return nil, p.fail(fmt.Errorf("data entry %q: %w", hdr.Name, err))
	}
	return hdr, nil
}

// Read reads the content of the current entry. At its end the content's
// checksum is verified; a mismatch is returned instead of io.EOF.
func (p *PackageReader) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	if p.cur == nil {
		return 0, fmt.Errorf("reading %s: Read before Next", p.what)
	}
	n, err := p.tr.Read(b)
	if p.curSum != nil {
		p.curSum.Write(b[:n])
	}
	if err == io.EOF {
		if err := p.verifyEntry(); err != nil {
			return n, p.fail(err)
		}
		return n, io.EOF
	}
	if err != nil {
		return n, p.fail(fmt.Errorf("data entry %q: %w", p.cur.Name, noEOF(err)))
	}
	return n, nil
}

func (p *PackageReader) fail(err error) error {
	p.err = fmt.Errorf("reading %s: %w", p.what, err)
	return p.err
}

// Checksum returns the SHA-1 that apk's installed database records for the
// current entry (its Z: line): of a regular file's content, of a symlink's
// target, and for a hard link the checksum of the file it links to; nil for
// directories, devices and FIFOs. It is computed whether or not the entry
// carries a PAXChecksumSHA1 record, and when it does the two matched.
//
// A regular file's checksum is known once its content has been read to its
// end; if it has not been, Checksum reads the rest (verifying it), after
// which Read returns io.EOF. The result is the caller's to keep. Checksum
// belongs to the entry the last Next returned: after Next it describes the
// new entry, and after Next has returned an error (io.EOF included) it
// returns that error.
func (p *PackageReader) Checksum() ([]byte, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.cur == nil {
		return nil, fmt.Errorf("reading %s: Checksum before Next", p.what)
	}
	if err := p.finishEntry(); err != nil {
		return nil, p.fail(err)
	}
	return bytes.Clone(p.curDigest), nil
}

// checkEntry refuses entries that could escape the root or that apk does
// not install, and prepares the checksum check.
func (p *PackageReader) checkEntry(hdr *tar.Header) error {
	if err := checkEntryPath(hdr.Name); err != nil {
		return err
	}
	if isSparse(hdr) {
		return errors.New("sparse file (apk never makes one)")
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old tar writers
		p.regulars[strings.TrimSuffix(hdr.Name, "/")] = nil
		p.curSum = sha1.New()
	case tar.TypeDir, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		// A later entry of the same name replaces the file: a hard link
		// to the name must not reach what replaced it.
		delete(p.regulars, strings.TrimSuffix(hdr.Name, "/"))
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return errors.New("symlink with an empty target")
		}
		delete(p.regulars, hdr.Name)
	case tar.TypeLink:
		if err := checkEntryPath(hdr.Linkname); err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		sum, ok := p.regulars[hdr.Linkname]
		if !ok {
			return fmt.Errorf("hard link to %q, which is not an earlier regular file", hdr.Linkname)
		}
		p.curDigest = sum
		return nil
	default:
		return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
	if hdr.Typeflag == tar.TypeSymlink {
		sum := sha1.Sum([]byte(hdr.Linkname))
		p.curDigest = sum[:]
	}
	v, ok := hdr.PAXRecords[PAXChecksumSHA1]
	if !ok {
		// Old packages lack it; datahash still covers the bytes.
		return nil
	}
	want, err := decodeEntryChecksum(v)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		if !bytes.Equal(p.curDigest, want) {
			return fmt.Errorf("checksum mismatch: header says %x, link target %q has %x", want, hdr.Linkname, p.curDigest)
		}
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old tar writers
		p.curWant = want
	}
	return nil
}

// checkEntryPath accepts only clean relative paths ("usr/bin/x", a
// directory may end in "/").
func checkEntryPath(name string) error {
	clean := strings.TrimSuffix(name, "/")
	switch {
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("absolute path %q", name)
	case clean == ".." || strings.HasPrefix(clean, "../") || strings.HasSuffix(clean, "/..") || strings.Contains(clean, "/../"):
		return fmt.Errorf("path %q leaves the root through \"..\"", name)
	case clean == "" || clean == "." || !fs.ValidPath(clean):
		return fmt.Errorf("path %q is not clean", name)
	}
	return nil
}

// decodeEntryChecksum accepts abuild's 40 hex digits and the "Q1" + base64
// form some other builders write.
func decodeEntryChecksum(v string) ([]byte, error) {
	var b []byte
	var err error
	if strings.HasPrefix(v, "Q1") {
		b, err = ParseChecksum(v)
	} else {
		b, err = hex.DecodeString(v)
	}
	if err != nil || len(b) != sha1.Size {
		return nil, fmt.Errorf("malformed %s record %q", PAXChecksumSHA1, v)
	}
	return b, nil
}

func (p *PackageReader) finishEntry() error {
	if p.curSum == nil {
		return nil
	}
	if _, err := io.Copy(p.curSum, p.tr); err != nil {
		return fmt.Errorf("data entry %q: %w", p.cur.Name, noEOF(err))
	}
	return p.verifyEntry()
}

func (p *PackageReader) verifyEntry() error {
	if p.curSum == nil {
		return nil
	}
	got := p.curSum.Sum(nil)
	p.curSum = nil
	if p.curWant != nil && !bytes.Equal(got, p.curWant) {
		return fmt.Errorf("data entry %q: checksum mismatch: header says %x, content has %x", p.cur.Name, p.curWant, got)
	}
	p.curDigest = got
	p.regulars[strings.TrimSuffix(p.cur.Name, "/")] = got
	return nil
}

// finishData reads the rest of the data member (end-of-archive padding) and
// checks it against datahash.
func (p *PackageReader) finishData() error {
	if err := drain(p.data); err != nil {
		return fmt.Errorf("data member after its last entry: %w", err)
	}
	if err := p.checkDataHash(p.dataSum.Sum(nil)); err != nil {
		return err
	}
	p.info.Size = p.headerSize + p.dataBytes
	if p.want != nil && p.want.Size != 0 && p.want.Size != p.info.Size {
		return fmt.Errorf("package has %d bytes, the index says %d", p.info.Size, p.want.Size)
	}
	return nil
}

// checkDataHash compares sum, the SHA-256 of the data member, with the
// datahash of .PKGINFO.
func (p *PackageReader) checkDataHash(sum []byte) error {
	if !bytes.Equal(sum, p.info.DataHash) {
		return fmt.Errorf("data member has SHA-256 %x, .PKGINFO datahash says %x", sum, p.info.DataHash)
	}
	return nil
}

// VerifyPackage reads the package in r to its end, verifying everything the
// PackageReader does, and returns its metadata.
func VerifyPackage(r io.Reader, want *Package) (*PackageInfo, error) {
	p, err := NewPackageReader(r, want)
	if err != nil {
		return nil, err
	}
	for {
		_, err := p.Next()
		if err == io.EOF {
			return p.Info(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}
