package apk

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// An InstalledPackage is one package as apk's database records it: its
// record and paths in lib/apk/db/installed, its scripts in
// lib/apk/db/scripts.tar.gz and its trigger globs in lib/apk/db/triggers.
type InstalledPackage struct {
	// *Package is the record. An index record lacks Replaces (r:) and
	// ReplacesPriority (q:), which only .PKGINFO holds: PackageInfo.Package
	// has every field the database needs.
	*Package

	Tags          []string // g: the package's tags (only v3 packages have them)
	RepositoryTag string   // s: the repository tag it was installed from, without "@"
	BrokenFiles   bool     // f:f some file could not be installed
	BrokenScript  bool     // f:s a script failed (or was not run); apk fix reinstalls it
	BrokenXattr   bool     // f:x some extended attribute could not be set
	SHA256Digests bool     // f:S the Z: lines hold truncated SHA-256 (v3 packages), not SHA-1

	// Dirs are the package's directories, written in this order. apk
	// keeps the order its data tar met them in, the root "" (which holds
	// top-level files) where the first top-level file came, except that
	// it sorts them bytewise by name once more than 32 have arrived out
	// of order (apk_db_diri_bsearch); DirRecorder does the same. A
	// package whose InstalledSize is 0 has none: apk does not unpack it
	// (apk_db_install_pkg).
	Dirs []InstalledDir

	Triggers []string          // the .trigger script's directory globs (triggers file)
	Scripts  map[string][]byte // ".pre-install", ..., ".trigger" → body (scripts archive)
}

// An InstalledDir is a directory a package owns (F:), with the files it
// owns directly in it.
type InstalledDir struct {
	Name  string // "usr/bin", no leading or trailing slash; "" for the root
	ACL   *ACL   // M:; nil means apk's default for a directory, 0:0 mode 0755
	Files []InstalledFile
}

// An InstalledFile is a file a package owns (R:): a regular file, a symlink
// or a hard link, by its name in its directory.
type InstalledFile struct {
	Name     string // the base name
	ACL      *ACL   // a:; nil means apk's default for a file, 0:0 mode 0644
	Checksum []byte // Z: what PackageReader.Checksum returns; nil writes no Z:
}

// An ACL is what apk records of a path's ownership: owner, group, mode and
// a digest of its extended attributes.
type ACL struct {
	UID, GID      uint32
	Mode          uint32 // permission bits as in a tar header, at most 07777 (setuid 04000, sticky 01000)
	XattrChecksum []byte // XattrChecksum of the path's attributes; nil when it has none
}

// apk's defaults, which it leaves out of the database.
const (
	DefaultDirMode  = 0o755
	DefaultFileMode = 0o644
)

func (a *ACL) isDefault(mode uint32) bool {
	return a == nil || a.UID == 0 && a.GID == 0 && a.Mode == mode && len(a.XattrChecksum) == 0
}

// WriteInstalled writes lib/apk/db/installed as apk-tools 3 writes it
// (apk_db_fdb_write). Packages are written sorted by name the way apk sorts
// them (case-insensitively, then bytewise), whatever their order in pkgs;
// each is its record (WriteIndex's fields), then g r q s f, then each
// directory as F: and, when not the default, M:, then each of its files,
// sorted by name, as R:, a: when not the default, and Z:. A blank line ends
// each package.
//
// What apk could not read back is an error naming the package and path, and
// then nothing is written: two packages of one name, a directory or file
// named twice, a name with a line break, a path that is not clean, a mode
// above 07777, a checksum that is not 20 bytes.
func WriteInstalled(w io.Writer, pkgs []*InstalledPackage) error {
	if err := checkInstalled(pkgs); err != nil {
		return fmt.Errorf("writing installed database: %w", err)
	}
	bw := bufio.NewWriter(w)
	for _, ip := range sortInstalled(pkgs) {
		ip.write(bw)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing installed database: %w", err)
	}
	return nil
}

// sortInstalled returns pkgs in the order apk writes its database files
// (apk_db_sorted_installed_packages: strcasecmp of the names, then strcmp,
// then the version).
func sortInstalled(pkgs []*InstalledPackage) []*InstalledPackage {
	sorted := slices.Clone(pkgs)
	slices.SortStableFunc(sorted, func(a, b *InstalledPackage) int {
		return cmp.Or(
			strings.Compare(asciiLower(a.Name), asciiLower(b.Name)),
			strings.Compare(a.Name, b.Name),
			compareVersions(a.Version, b.Version, false))
	})
	return sorted
}

// asciiLower lower-cases ASCII letters only, as strcasecmp in the C locale.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

func checkInstalled(pkgs []*InstalledPackage) error {
	names := map[string]bool{}
	for _, ip := range pkgs {
		if ip == nil || ip.Package == nil {
			return errors.New("nil installed package")
		}
		if err := checkRecord(ip.Package); err != nil {
			return err
		}
		if names[ip.Name] {
			return fmt.Errorf("package %s is listed twice", ip.Name)
		}
		names[ip.Name] = true
		if err := ip.check(); err != nil {
			return fmt.Errorf("package %s: %w", ip, err)
		}
	}
	return nil
}

func (ip *InstalledPackage) check() error {
	for _, t := range ip.Tags {
		if t == "" || strings.ContainsAny(t, " \t\r\n") {
			return fmt.Errorf("tag %q cannot be written", t)
		}
	}
	if ip.RepositoryTag != "" && !ValidName(ip.RepositoryTag) {
		return fmt.Errorf("repository tag %q is not a valid name", ip.RepositoryTag)
	}
	dirs := map[string]bool{}
	for _, d := range ip.Dirs {
		if d.Name != "" {
			if err := checkEntryPath(d.Name); err != nil || strings.HasSuffix(d.Name, "/") || strings.ContainsAny(d.Name, "\r\n") {
				return fmt.Errorf("directory %q is not a clean relative path", d.Name)
			}
		}
		if dirs[d.Name] {
			return fmt.Errorf("directory %q is listed twice", d.Name)
		}
		dirs[d.Name] = true
		if err := d.ACL.check(); err != nil {
			return fmt.Errorf("directory %q: %w", d.Name, err)
		}
		files := map[string]bool{}
		for _, f := range d.Files {
			p := joinPath(d.Name, f.Name)
			switch {
			case f.Name == "" || f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, "/\r\n"):
				return fmt.Errorf("file %q is not a base name", p)
			case files[f.Name]:
				return fmt.Errorf("file %q is listed twice", p)
			case len(f.Checksum) != 0 && len(f.Checksum) != 20:
				return fmt.Errorf("file %q: checksum has %d bytes, want 20", p, len(f.Checksum))
			}
			files[f.Name] = true
			if err := f.ACL.check(); err != nil {
				return fmt.Errorf("file %q: %w", p, err)
			}
		}
	}
	return nil
}

func (a *ACL) check() error {
	switch {
	case a == nil:
		return nil
	case a.Mode > 0o7777:
		return fmt.Errorf("mode %#o has bits above 07777", a.Mode)
	case len(a.XattrChecksum) != 0 && len(a.XattrChecksum) != 20:
		return fmt.Errorf("xattr checksum has %d bytes, want 20", len(a.XattrChecksum))
	}
	return nil
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// write writes the package's installed-database record; errors stick in bw.
func (ip *InstalledPackage) write(bw *bufio.Writer) {
	writeRecordHeader(bw, ip.Package)
	if len(ip.Tags) > 0 {
		writeField(bw, 'g', strings.Join(ip.Tags, " "))
	}
	writeDeps(bw, 'r', ip.Replaces)
	if ip.ReplacesPriority != 0 {
		writeField(bw, 'q', strconv.Itoa(ip.ReplacesPriority))
	}
	if ip.RepositoryTag != "" {
		writeField(bw, 's', ip.RepositoryTag)
	}
	if flags := ip.flags(); flags != "" {
		writeField(bw, 'f', flags)
	}
	for _, d := range ip.Dirs {
		writeField(bw, 'F', d.Name)
		if !d.ACL.isDefault(DefaultDirMode) {
			d.ACL.write(bw, 'M')
		}
		byName := func(a, b InstalledFile) int { return strings.Compare(a.Name, b.Name) }
		files := d.Files
		if !slices.IsSortedFunc(files, byName) {
			files = slices.Clone(files)
			slices.SortStableFunc(files, byName)
		}
		for _, f := range files {
			writeField(bw, 'R', f.Name)
			if !f.ACL.isDefault(DefaultFileMode) {
				f.ACL.write(bw, 'a')
			}
			if len(f.Checksum) != 0 {
				writeField(bw, 'Z', FormatChecksum(f.Checksum))
			}
		}
	}
	bw.WriteByte('\n')
}

// flags spells the f: line in apk's letter order.
func (ip *InstalledPackage) flags() string {
	var b []byte
	for _, f := range []struct {
		set    bool
		letter byte
	}{{ip.BrokenFiles, 'f'}, {ip.BrokenScript, 's'}, {ip.BrokenXattr, 'x'}, {ip.SHA256Digests, 'S'}} {
		if f.set {
			b = append(b, f.letter)
		}
	}
	return string(b)
}

// write writes "M:uid:gid:mode[:xattr-checksum]" (or a: for a file).
func (a *ACL) write(bw *bufio.Writer, field byte) {
	b := append(make([]byte, 0, 64), field, ':')
	b = strconv.AppendUint(b, uint64(a.UID), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(a.GID), 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(a.Mode), 8)
	if len(a.XattrChecksum) != 0 {
		b = append(b, ':')
		b = append(b, FormatChecksum(a.XattrChecksum)...)
	}
	bw.Write(append(b, '\n'))
}
