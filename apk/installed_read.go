package apk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ReadInstalled parses lib/apk/db/installed, as apk-tools 2 and 3 write it,
// into packages in file order (Triggers and Scripts are not in this file:
// they come from lib/apk/db/triggers and the scripts archive). Each
// record's package fields are read as ParseIndex reads them; the database
// fields follow the rules apk checks (apk_db_fdb_read): M: and R: belong to
// the last F:, a: and Z: to the last R: of that directory.
//
// A field apk does not know is an error here, as it is for apk ("too old to
// handle installed packages"), and so are a field out of place, a directory
// or file listed twice, a value that does not parse (a D:, p: or i: that
// would make an index record Uninstallable or drop its i: included: apk
// never installs such a record), or a record without P:, V: or C:; each is
// an *IndexError with File "installed".
func ReadInstalled(r io.Reader) ([]*InstalledPackage, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxIndexLine)
	var (
		pkgs  []*InstalledPackage
		cur   *InstalledPackage
		start int // line of cur's first field
		line  int
		file  *InstalledFile  // the last R: of the current directory
		seen  map[string]bool // cur's directories and files, for duplicates
	)
	fail := func(field string, err error) error {
		return &IndexError{File: "installed", Line: line, Field: field, Err: err}
	}
	finish := func() error {
		if cur == nil {
			return nil
		}
		if f := missingField(cur.Package); f != "" {
			return &IndexError{File: "installed", Line: start, Err: fmt.Errorf("record has no %s: field", f)}
		}
		pkgs = append(pkgs, cur)
		cur, file, seen = nil, nil, nil
		return nil
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if text == "" {
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		}
		if len(text) < 2 || text[1] != ':' {
			return nil, fail("", fmt.Errorf("line %q is not X:value", truncate(text)))
		}
		if cur == nil {
			cur, start, seen = &InstalledPackage{Package: &Package{}}, line, map[string]bool{}
		}
		field, v := text[0], text[2:]
		var err error
		switch field {
		case 'F':
			if cur.Name == "" {
				err = errors.New("F: before the record's P:")
				break
			}
			if seen["F\x00"+v] {
				err = fmt.Errorf("directory %q is listed twice", v)
				break
			}
			seen["F\x00"+v] = true
			cur.Dirs = append(cur.Dirs, InstalledDir{Name: v})
			file = nil
		case 'M':
			dir := cur.lastDir()
			switch {
			case dir == nil:
				err = errors.New("M: before any F:")
			case dir.ACL != nil:
				err = fmt.Errorf("second M: for directory %q", dir.Name)
			default:
				dir.ACL, err = parseACL(v)
			}
		case 'R':
			dir := cur.lastDir()
			if dir == nil {
				err = fmt.Errorf("R:%s before any F: (a file in the root directory needs an empty F: line)", v)
				break
			}
			key := "R\x00" + dir.Name + "\x00" + v
			if seen[key] {
				err = fmt.Errorf("file %q is listed twice in directory %q", v, dir.Name)
				break
			}
			seen[key] = true
			dir.Files = append(dir.Files, InstalledFile{Name: v})
			file = &dir.Files[len(dir.Files)-1]
		case 'a':
			switch {
			case file == nil:
				err = errors.New("a: before any R: of its directory")
			case file.ACL != nil:
				err = fmt.Errorf("second a: for file %q", file.Name)
			default:
				file.ACL, err = parseACL(v)
			}
		case 'Z':
			switch {
			case file == nil:
				err = errors.New("Z: before any R: of its directory")
			case file.Checksum != nil:
				err = fmt.Errorf("second Z: for file %q", file.Name)
			default:
				file.Checksum, err = ParseChecksum(v)
			}
		case 'g':
			cur.Tags = append(cur.Tags, strings.Fields(v)...)
		case 's':
			cur.RepositoryTag = v
		case 'f':
			err = cur.setFlags(v)
		case 'C', 'P', 'V', 'A', 'S', 'I', 'T', 'U', 'L', 'o', 'm', 't', 'c', 'k', 'D', 'p', 'i', 'r', 'q':
			err = cur.setIndexField(field, v)
			// An index keeps such a record, marked; apk never installs
			// one, and writing it back would lose the atoms dropped.
			switch {
			case err != nil:
			case cur.Uninstallable:
				err = errors.New(cur.UninstallableReason)
			case cur.BrokenInstallIf:
				err = fmt.Errorf("install_if %q does not parse", v)
			}
		default:
			err = fmt.Errorf("unknown field %c: (written by a newer apk?)", field)
		}
		if err != nil {
			return nil, fail(text[:1], err)
		}
	}
	if err := sc.Err(); err != nil {
		line++
		return nil, fail("", fmt.Errorf("reading: %w", err))
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return pkgs, nil
}

// missingField names the first of P:, V: and C: that p lacks, or "".
func missingField(p *Package) string {
	switch {
	case p.Name == "":
		return "P"
	case p.Version == "":
		return "V"
	case p.Checksum == nil:
		return "C"
	}
	return ""
}

func (ip *InstalledPackage) lastDir() *InstalledDir {
	if len(ip.Dirs) == 0 {
		return nil
	}
	return &ip.Dirs[len(ip.Dirs)-1]
}

func (ip *InstalledPackage) setFlags(v string) error {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case 'f':
			ip.BrokenFiles = true
		case 's':
			ip.BrokenScript = true
		case 'x':
			ip.BrokenXattr = true
		case 'S':
			ip.SHA256Digests = true
		default:
			return fmt.Errorf("unknown flag %q in %q", v[i], v)
		}
	}
	return nil
}

// parseACL parses "uid:gid:mode[:Q1xattr-checksum]", the mode in octal.
func parseACL(v string) (*ACL, error) {
	parts := strings.Split(v, ":")
	if len(parts) != 3 && len(parts) != 4 {
		return nil, fmt.Errorf("%q is not uid:gid:mode[:xattr-checksum]", v)
	}
	var acl ACL
	for i, f := range []struct {
		to   *uint32
		base int
	}{{&acl.UID, 10}, {&acl.GID, 10}, {&acl.Mode, 8}} {
		n, err := strconv.ParseUint(parts[i], f.base, 32)
		if err != nil || strings.HasPrefix(parts[i], "+") {
			return nil, fmt.Errorf("%q is not uid:gid:mode[:xattr-checksum]", v)
		}
		*f.to = uint32(n)
	}
	if acl.Mode > 0o7777 {
		return nil, fmt.Errorf("mode %s in %q has bits above 07777", parts[2], v)
	}
	if len(parts) == 4 {
		sum, err := ParseChecksum(parts[3])
		if err != nil {
			return nil, fmt.Errorf("xattr checksum in %q: %w", v, err)
		}
		acl.XattrChecksum = sum
	}
	return &acl, nil
}
