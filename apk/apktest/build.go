package apktest

import (
	"archive/tar"
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// DefaultBuildTime is the builddate and file mtime of a Pkg that sets none,
// so that builds are reproducible (2023-11-14T22:13:20Z).
const DefaultBuildTime = 1700000000

// A File is one entry of a package's data. Parent directories that are not
// listed are added (0755 root:root).
type File struct {
	Name     string      // "usr/bin/foo"; a directory may end in "/"
	Mode     fs.FileMode // type (fs.ModeDir, fs.ModeSymlink) and permission bits, fs.ModeSetuid...; 0 means 0644 (0755 for a directory, the target's for a hard link)
	Data     []byte      // content of a regular file
	Linkname string      // symlink target (implies fs.ModeSymlink)
	Hardlink string      // makes a hard link to this earlier regular file
	Uname    string      // "" is root
	Gname    string      // "" is root
	Xattrs   map[string][]byte
	ModTime  time.Time // zero is the package's build time

	// Checksum, when not empty, is written as the APK-TOOLS.checksum.SHA1
	// record instead of the real one; "none" omits the record. For tests
	// of readers.
	Checksum string
}

// Pkg describes a package to build. Name and Version are required.
type Pkg struct {
	Name, Version, Arch, Origin, Description string // Arch "" is x86_64
	URL, License, Maintainer, Commit         string
	Depends, Provides, InstallIf, Replaces   []string // atoms as apk spells them: "so:libc.musl-x86_64.so.1", "cmd:sh=1.37.0-r30"
	ProviderPriority                         *int
	ReplacesPriority                         int               // replaces_priority; 0 writes none
	Triggers                                 []string          // directory globs for the .trigger script
	Scripts                                  map[string]string // "post-install" or ".post-install" → body
	Files                                    []File
	BuildTime                                int64 // Unix seconds; 0 is DefaultBuildTime

	Faults Faults
}

// Faults break a package on purpose, for tests of readers. The zero value
// builds a correct package.
type Faults struct {
	WrongDataHash bool // datahash names other bytes than the data member
	NoDataHash    bool // .PKGINFO without datahash
	NoSignature   bool // leave the signature member out even with a key
}

// BuildPackage builds p in the v2 format exactly like abuild: a signature
// member (.SIGN.RSA.<key> over the SHA-1 of the control member, no tar
// end-of-archive blocks; none when key is nil), the control member
// (.PKGINFO then the scripts, no end-of-archive blocks) and the data member
// (PAX entries sorted by name with APK-TOOLS.checksum.SHA1 records, with
// end-of-archive blocks), each compressed like `gzip -n -9`. It returns the
// .apk bytes and the index record for it (C: is the SHA-1 of the control
// member, S: the file size). The same Pkg always gives the same bytes.
func BuildPackage(p Pkg, key *Key) (data []byte, rec *apk.Package, err error) {
	if p.Name == "" || p.Version == "" {
		return nil, nil, errors.New("building package: Name and Version are required")
	}
	if p.Arch == "" {
		p.Arch = "x86_64"
	}
	if p.BuildTime == 0 {
		p.BuildTime = DefaultBuildTime
	}
	what := p.Name + "-" + p.Version
	rec, err = p.record()
	if err != nil {
		return nil, nil, fmt.Errorf("building package %s: %w", what, err)
	}
	dataTar, size, err := p.dataTar()
	if err != nil {
		return nil, nil, fmt.Errorf("building package %s: %w", what, err)
	}
	dataMember := gzipMember(dataTar)
	rec.InstalledSize = size
	dataHash := sha256.Sum256(dataMember)
	if p.Faults.WrongDataHash {
		dataHash = sha256.Sum256(append(dataMember, 0))
	}
	controlTar, err := p.controlTar(size, dataHash[:])
	if err != nil {
		return nil, nil, fmt.Errorf("building package %s: %w", what, err)
	}
	control := gzipMember(controlTar)
	sum := sha1.Sum(control)
	rec.Checksum = sum[:]
	var out bytes.Buffer
	if key != nil && !p.Faults.NoSignature {
		sig, err := key.signatureMember(control, time.Unix(p.BuildTime, 0))
		if err != nil {
			return nil, nil, fmt.Errorf("building package %s: %w", what, err)
		}
		out.Write(sig)
	}
	out.Write(control)
	out.Write(dataMember)
	rec.Size = int64(out.Len())
	return out.Bytes(), rec, nil
}

// record is the index record, without the sums.
func (p *Pkg) record() (*apk.Package, error) {
	rec := &apk.Package{
		Name: p.Name, Version: p.Version, Arch: p.Arch, Description: p.Description,
		URL: p.URL, License: p.License, Origin: p.Origin, Maintainer: p.Maintainer,
		BuildTime: p.BuildTime, Commit: p.Commit,
	}
	if p.ProviderPriority != nil {
		rec.ProviderPriority, rec.HasProviderPriority = *p.ProviderPriority, true
	}
	for _, l := range []struct {
		atoms []string
		to    *[]apk.Dependency
	}{{p.Depends, &rec.Depends}, {p.Provides, &rec.Provides}, {p.InstallIf, &rec.InstallIf}, {p.Replaces, &rec.Replaces}} {
		for _, a := range l.atoms {
			d, err := apk.ParseDependency(a)
			if err != nil {
				return nil, err
			}
			*l.to = append(*l.to, d)
		}
	}
	return rec, nil
}

// controlTar is .PKGINFO and the scripts, without end-of-archive blocks
// (abuild-tar --cut), so the members concatenate into one tar.
func (p *Pkg) controlTar(size int64, dataHash []byte) ([]byte, error) {
	var info strings.Builder
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&info, "%s = %s\n", k, v)
		}
	}
	info.WriteString("# Generated by apktest (rootfs-synth)\n")
	line("pkgname", p.Name)
	line("pkgver", p.Version)
	line("pkgdesc", p.Description)
	line("url", p.URL)
	line("builddate", strconv.FormatInt(p.BuildTime, 10))
	line("packager", "apktest <apktest@localhost>")
	line("size", strconv.FormatInt(size, 10))
	line("arch", p.Arch)
	line("origin", p.Origin)
	line("commit", p.Commit)
	line("maintainer", p.Maintainer)
	if p.ProviderPriority != nil {
		line("provider_priority", strconv.Itoa(*p.ProviderPriority))
	}
	line("license", p.License)
	for _, r := range p.Replaces {
		line("replaces", r)
	}
	if p.ReplacesPriority != 0 {
		line("replaces_priority", strconv.Itoa(p.ReplacesPriority))
	}
	for _, r := range p.Provides {
		line("provides", r)
	}
	for _, r := range p.Depends {
		line("depend", r)
	}
	line("install_if", strings.Join(p.InstallIf, " "))
	line("triggers", strings.Join(p.Triggers, " "))
	if !p.Faults.NoDataHash {
		line("datahash", hex.EncodeToString(dataHash))
	}

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(p.BuildTime, 0)
	if err := writeEntry(tw, metaHeader(".PKGINFO", 0o644, info.Len(), mtime, "root"), []byte(info.String())); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(p.Scripts))
	scripts := map[string]string{}
	for n, body := range p.Scripts {
		if !strings.HasPrefix(n, ".") {
			n = "." + n
		}
		if _, dup := scripts[n]; dup {
			return nil, fmt.Errorf("script %s given twice", n)
		}
		scripts[n] = body
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := writeEntry(tw, metaHeader(n, 0o755, len(scripts[n]), mtime, "root"), []byte(scripts[n])); err != nil {
			return nil, err
		}
	}
	if err := tw.Flush(); err != nil { // no Close: no end-of-archive blocks
		return nil, err
	}
	return buf.Bytes(), nil
}

func metaHeader(name string, mode int64, size int, mtime time.Time, owner string) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(size),
		Uname: owner, Gname: owner, ModTime: mtime,
		AccessTime: time.Unix(0, 0), ChangeTime: time.Unix(0, 0),
		Format: tar.FormatPAX,
	}
}

func writeEntry(tw *tar.Writer, hdr *tar.Header, data []byte) error {
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", hdr.Name, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", hdr.Name, err)
	}
	return nil
}

// dataTar is the file tree, sorted like `LC_ALL=C sort` over the paths
// abuild's find prints, and the installed size (the sum of the regular
// files' sizes; 1 when there are none, abuild's workaround for empty
// packages).
func (p *Pkg) dataTar() ([]byte, int64, error) {
	files := slices.Clone(p.Files)
	have := map[string]bool{}
	for _, f := range files {
		have[strings.TrimSuffix(f.Name, "/")] = true
	}
	for _, f := range p.Files {
		if !fs.ValidPath(strings.TrimSuffix(f.Name, "/")) {
			continue // written as given, for tests of unsafe paths
		}
		for d := path.Dir(strings.TrimSuffix(f.Name, "/")); d != "."; d = path.Dir(d) {
			if !have[d] {
				have[d] = true
				files = append(files, File{Name: d, Mode: fs.ModeDir | 0o755})
			}
		}
	}
	slices.SortStableFunc(files, func(a, b File) int {
		return strings.Compare(strings.TrimSuffix(a.Name, "/"), strings.TrimSuffix(b.Name, "/"))
	})
	var buf bytes.Buffer
	var size int64
	regularModes := map[string]int64{} // by name, for hard links to them
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{
			Name: strings.TrimSuffix(f.Name, "/"), Mode: int64(unixmode.EncodePerm(f.Mode)),
			Uname: f.Uname, Gname: f.Gname, ModTime: f.ModTime,
			AccessTime: time.Unix(0, 0), ChangeTime: time.Unix(0, 0),
			Format: tar.FormatPAX, PAXRecords: map[string]string{},
		}
		if hdr.Uname == "" {
			hdr.Uname = "root"
		}
		if hdr.Gname == "" {
			hdr.Gname = "root"
		}
		if hdr.ModTime.IsZero() {
			hdr.ModTime = time.Unix(p.BuildTime, 0)
		}
		var sum []byte
		switch {
		case f.Mode.IsDir() || strings.HasSuffix(f.Name, "/"):
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
			if f.Mode.Perm() == 0 {
				hdr.Mode |= 0o755
			}
		case f.Linkname != "" || f.Mode&fs.ModeSymlink != 0:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.Linkname
			if f.Mode.Perm() == 0 {
				hdr.Mode |= 0o777
			}
			s := sha1.Sum([]byte(f.Linkname))
			sum = s[:]
		case f.Hardlink != "":
			// tar writes the mode of the inode, which the link shares
			// with its target.
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, f.Hardlink
			if f.Mode.Perm() == 0 {
				hdr.Mode |= regularModes[f.Hardlink]
			}
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.Data))
			if f.Mode.Perm() == 0 {
				hdr.Mode |= 0o644
			}
			regularModes[hdr.Name] = hdr.Mode
			s := sha1.Sum(f.Data)
			sum = s[:]
			size += int64(len(f.Data))
		}
		switch {
		case f.Checksum == "none":
		case f.Checksum != "":
			hdr.PAXRecords[apk.PAXChecksumSHA1] = f.Checksum
		case sum != nil:
			hdr.PAXRecords[apk.PAXChecksumSHA1] = hex.EncodeToString(sum)
		}
		for k, v := range f.Xattrs {
			hdr.PAXRecords["SCHILY.xattr."+k] = string(v)
		}
		var content []byte
		if hdr.Typeflag == tar.TypeReg {
			content = f.Data
		}
		if err := writeEntry(tw, hdr, content); err != nil {
			return nil, 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	if size == 0 {
		size = 1
	}
	return buf.Bytes(), size, nil
}

// signatureMember signs signed (the control member of a package, or the
// body of an index) and returns the gzip member holding the one
// .SIGN.RSA[256].<key> entry, without end-of-archive blocks (abuild-sign).
func (k *Key) signatureMember(signed []byte, mtime time.Time) ([]byte, error) {
	alg, h := "RSA", crypto.SHA1
	if k.SHA256 {
		alg, h = "RSA256", crypto.SHA256
	}
	d := h.New()
	d.Write(signed)
	sig, err := rsa.SignPKCS1v15(nil, k.Private, h, d.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("signing with %s: %w", k.Name, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := writeEntry(tw, metaHeader(".SIGN."+alg+"."+k.Name, 0o644, len(sig), mtime, ""), sig); err != nil {
		return nil, err
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	return gzipMember(buf.Bytes()), nil
}

// gzipMember compresses b like `gzip -n -9`: no name, mtime 0, XFL 2
// (best compression), OS 3 (Unix).
func gzipMember(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	zw.OS = 3
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}
