package apk

import (
	"archive/tar"
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Size limits of an index archive. The v3.23 main x86_64 APKINDEX is about
// 2.5 MiB, community about 10 MiB.
const (
	MaxIndexSize       = 64 << 20 // decompressed APKINDEX text, held in memory until its signature is checked
	MaxDescriptionSize = 4 << 10  // DESCRIPTION
)

// IndexOptions tell ReadIndexArchive where an index came from and how far
// to trust it. The zero value reads an untagged index and insists on a
// valid signature.
type IndexOptions struct {
	Source string // URL or path, for messages and Index.Source
	Tag    string // the repository's "@tag", or ""

	// AllowUntrusted accepts an index whose signature is missing, by an
	// unknown key or wrong (apk --allow-untrusted); Index.Trusted is then
	// false, and the caller should warn loudly.
	AllowUntrusted bool
}

// ReadIndexArchive reads and verifies an APKINDEX.tar.gz: one or more
// signature gzip members (.SIGN.RSA.<key> is PKCS #1 v1.5 over the SHA-1 of
// all bytes after the signature members, .SIGN.RSA256.<key> over their
// SHA-256), then the tar holding DESCRIPTION and APKINDEX. The index is
// parsed only after its signature has been checked, and each record's
// Repository points to the returned Index.
func ReadIndexArchive(r io.Reader, keys *KeyRing, opts IndexOptions) (*Index, error) {
	src := opts.Source
	if src == "" {
		src = "(unnamed)"
	}
	a, err := readIndexMembers(r)
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", src, err)
	}
	idx := &Index{Source: opts.Source, Tag: opts.Tag, Description: a.description}
	idx.SignedBy, err = verifySignatures(keys, a.sigs, a.digests)
	if err != nil && !opts.AllowUntrusted {
		if errors.Is(err, errUnsigned) {
			err = errors.New("index is not signed (no .SIGN.* member)")
		}
		return nil, fmt.Errorf("verifying index %s: %w", src, err)
	}
	idx.Trusted = err == nil
	if a.apkindex == nil {
		return nil, fmt.Errorf("reading index %s: archive has no APKINDEX entry", src)
	}
	idx.Packages, err = parseIndexText(a.apkindex)
	if err != nil {
		return nil, fmt.Errorf("parsing index %s: %w", src, err)
	}
	for _, p := range idx.Packages {
		p.Repository = idx
	}
	return idx, nil
}

// indexArchive is what readIndexMembers found, not yet verified.
type indexArchive struct {
	sigs        []signature
	digests     map[crypto.Hash][]byte // of the bytes after the signature members
	description string
	apkindex    []byte
}

func readIndexMembers(r io.Reader) (*indexArchive, error) {
	a := &indexArchive{}
	m := newMemberReader(r)
	var gz gzip.Reader
	for member := 1; ; member++ {
		start := m.offset()
		if eof, err := m.atEOF(); err != nil {
			return nil, err
		} else if eof {
			return nil, fmt.Errorf("stream ends after %d bytes without the index tar", start)
		}
		// Look at the member's first entry, then either read on (a
		// signature) or go back to its start and read the rest of the
		// stream, the signed part, on the fast path.
		m.setMark()
		if err := openMember(&gz, m); err != nil {
			return nil, fmt.Errorf("gzip member %d at byte %d: %w", member, start, noEOF(err))
		}
		lr := &limitReader{r: &gz, n: maxSignatureMember, what: "signature member"}
		tr := tar.NewReader(lr)
		hdr, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("gzip member %d at byte %d: %w", member, start, noEOF(err))
		}
		if !strings.HasPrefix(hdr.Name, signaturePrefix) {
			m.rewind()
			if err := a.readBody(m.rest()); err != nil {
				return nil, fmt.Errorf("gzip member %d at byte %d: %w", member, start, err)
			}
			return a, nil
		}
		m.unmark()
		sigs, err := readSignatureEntries(tr, hdr)
		if err != nil {
			return nil, fmt.Errorf("gzip member %d at byte %d: %w", member, start, err)
		}
		a.sigs = append(a.sigs, sigs...)
		if err := drain(lr); err != nil {
			return nil, fmt.Errorf("gzip member %d at byte %d: %w", member, start, err)
		}
	}
}

// maxSignatureMember bounds the decompressed size of a signature member.
const maxSignatureMember = 1 << 20

// readBody reads the signed part of the archive, the rest of the stream:
// the tar (which may span several gzip members) holding DESCRIPTION and
// APKINDEX. It hashes the compressed bytes for the signatures on the way.
func (a *indexArchive) readBody(rest io.Reader) error {
	hashes := map[crypto.Hash]hash.Hash{}
	var ws []io.Writer
	for _, s := range a.sigs {
		if _, ok := hashes[s.alg]; !ok && s.alg != 0 {
			hashes[s.alg] = s.alg.New()
			ws = append(ws, hashes[s.alg])
		}
	}
	var n int64
	zr, err := gzip.NewReader(hashingBufReader(rest, io.MultiWriter(ws...), &n))
	if err != nil {
		return noEOF(err)
	}
	lr := &limitReader{r: zr, n: MaxIndexSize + 1<<20, what: "index tar"}
	tr := tar.NewReader(lr)
	hdr, err := tr.Next()
	if err != nil {
		return noEOF(err)
	}
	if err := a.readIndexTar(tr, hdr); err != nil {
		return err
	}
	if err := drain(lr); err != nil {
		return fmt.Errorf("index tar after its last entry: %w", err)
	}
	a.digests = map[crypto.Hash][]byte{}
	for alg, h := range hashes {
		a.digests[alg] = h.Sum(nil)
	}
	return nil
}

func (a *indexArchive) readIndexTar(tr *tar.Reader, hdr *tar.Header) error {
	for {
		switch hdr.Name {
		case "DESCRIPTION":
			d, err := readLimited(tr, hdr, MaxDescriptionSize)
			if err != nil {
				return err
			}
			a.description = strings.TrimSpace(string(d))
		case "APKINDEX":
			if a.apkindex != nil {
				return errors.New("two APKINDEX entries")
			}
			d, err := readLimited(tr, hdr, MaxIndexSize)
			if err != nil {
				return err
			}
			a.apkindex = d
		default:
			if strings.HasPrefix(hdr.Name, signaturePrefix) {
				return fmt.Errorf("signature %s after the index data", hdr.Name)
			}
		}
		prev := hdr.Name
		var err error
		if hdr, err = tr.Next(); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("index tar entry after %s: %w", prev, noEOF(err))
		}
	}
}

func readLimited(tr *tar.Reader, hdr *tar.Header, limit int64) ([]byte, error) {
	if hdr.Size > limit {
		return nil, fmt.Errorf("%s has %d bytes, more than %d", hdr.Name, hdr.Size, limit)
	}
	// Trust the header's size only so far before the content is there.
	buf := bytes.NewBuffer(make([]byte, 0, min(hdr.Size, 16<<20)))
	if _, err := io.Copy(buf, tr); err != nil {
		return nil, fmt.Errorf("reading %s: %w", hdr.Name, noEOF(err))
	}
	return buf.Bytes(), nil
}
