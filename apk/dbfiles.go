package apk

import (
	"archive/tar"
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// MaxScriptsArchiveSize bounds the decompressed scripts archive that
// ReadScriptsArchive reads; a base system's is a few KiB.
const MaxScriptsArchiveSize = 64 << 20

// scriptTypes are the scripts apk keeps, in the order it writes them to the
// scripts archive (apk_script_types).
var scriptTypes = []string{
	"pre-install", "post-install", "pre-deinstall", "post-deinstall",
	"pre-upgrade", "post-upgrade", "trigger",
}

// WriteScriptsArchive writes lib/apk/db/scripts.tar.gz, the archive apk 3
// creates on a fresh root (apk_db_scriptdb_write): for each package in the
// database's order (see WriteInstalled), each of its Scripts in apk's order
// (pre-install, post-install, pre-deinstall, post-deinstall, pre-upgrade,
// post-upgrade, trigger) as a regular file named
// "<name>-<version>.X1<hex SHA-1 of the control member>.<script>", mode
// 0755, owner root:root 0:0, mtime the package's build time, in apk's tar
// header layout (old GNU magic, GNU long-name entries past 99 bytes), then
// two zero blocks. The gzip stream is deterministic: no name, mtime 0,
// maximum compression, as apk's zlib stream, though not the same bytes.
//
// A script apk does not know (PackageInfo.Scripts keys are ".post-install"
// and so on) is an error, as are the records WriteInstalled refuses; then
// nothing is written.
func WriteScriptsArchive(w io.Writer, pkgs []*InstalledPackage) error {
	if err := checkInstalled(pkgs); err != nil {
		return fmt.Errorf("writing scripts archive: %w", err)
	}
	for _, ip := range pkgs {
		for name := range ip.Scripts {
			if !controlScripts[name] {
				return fmt.Errorf("writing scripts archive: package %s: unknown script %q", ip, name)
			}
		}
	}
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("writing scripts archive: %w", err)
	}
	zw.OS = 3 // Unix, as zlib writes it
	bw := bufio.NewWriter(zw)
	for _, ip := range sortInstalled(pkgs) {
		for _, typ := range scriptTypes {
			body, ok := ip.Scripts["."+typ]
			if !ok {
				continue
			}
			name := ip.Name + "-" + ip.Version + ".X1" + hex.EncodeToString(ip.Checksum) + "." + typ
			writeScriptEntry(bw, name, body, ip.BuildTime)
		}
	}
	bw.Write(make([]byte, 2*blockSize))
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing scripts archive: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("writing scripts archive: %w", err)
	}
	return nil
}

const blockSize = 512

// writeScriptEntry writes one file as apk_tar_write_entry does, preceded by
// a GNU long-name entry when the name does not fit the header's 99 bytes.
func writeScriptEntry(bw *bufio.Writer, name string, body []byte, mtime int64) {
	if len(name) > 99 {
		long := append([]byte(name), 0)
		bw.Write(scriptHeader(tar.TypeGNULongName, "././@LongLink", int64(len(name)), mtime))
		bw.Write(long)
		bw.Write(make([]byte, padding(len(long))))
		name = name[:99]
	}
	bw.Write(scriptHeader(tar.TypeReg, name, int64(len(body)), mtime))
	bw.Write(body)
	bw.Write(make([]byte, padding(len(body))))
}

func padding(n int) int { return (blockSize - n%blockSize) % blockSize }

// scriptHeader is apk_tar_fill_header's header for a root-owned 0755 file:
// uid, gid and mode as seven octal digits and a NUL, size and mtime as
// twelve octal digits, "ustar  \0", uname and gname "root", the checksum
// as six digits, a NUL and a space.
func scriptHeader(typeflag byte, name string, size, mtime int64) []byte {
	h := make([]byte, blockSize)
	copy(h[0:99], name)
	// octal is put_octal: v right-aligned in zero-padded octal digits
	// filling the field, the last byte a NUL when nul is set.
	octal := func(field []byte, v int64, nul bool) {
		if nul {
			field[len(field)-1] = 0
			field = field[:len(field)-1]
		}
		s := strings.Repeat("0", len(field)) + strconv.FormatInt(v, 8)
		copy(field, s[len(s)-len(field):])
	}
	octal(h[100:108], 0o755, true)
	octal(h[108:116], 0, true)
	octal(h[116:124], 0, true)
	octal(h[124:136], size, false)
	octal(h[136:148], mtime, false)
	h[156] = typeflag
	copy(h[257:265], "ustar  \x00")
	copy(h[265:297], "root")
	copy(h[297:329], "root")
	copy(h[148:156], "        ")
	var sum int64
	for _, c := range h {
		sum += int64(c)
	}
	octal(h[148:155], sum, true)
	return h
}

// ReadScriptsArchive reads a scripts archive, gzipped (scripts.tar.gz) or
// not (the scripts.tar of older apk), into the Scripts of the packages in
// pkgs, matched by the checksum in each entry's name; as apk does, it
// accepts the "X1" + hex and the "Q1" + base64 spellings, and ignores
// entries that name no package in pkgs or no script it knows.
func ReadScriptsArchive(r io.Reader, pkgs []*InstalledPackage) error {
	br := bufio.NewReader(r)
	var in io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("reading scripts archive: %w", err)
		}
		in = zr
	}
	byChecksum := map[string]*InstalledPackage{}
	for _, ip := range pkgs {
		byChecksum[string(ip.Checksum)] = ip
	}
	lr := &limitReader{r: in, n: MaxScriptsArchiveSize, what: "scripts archive"}
	tr := tar.NewReader(lr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading scripts archive: %w", err)
		}
		if !isRegular(hdr) {
			continue
		}
		sum, typ, ok := parseScriptName(hdr.Name)
		ip := byChecksum[string(sum)]
		if !ok || ip == nil {
			continue
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("reading scripts archive: entry %s: %w", hdr.Name, err)
		}
		if ip.Scripts == nil {
			ip.Scripts = map[string][]byte{}
		}
		ip.Scripts["."+typ] = body
	}
	if err := drain(lr); err != nil {
		return fmt.Errorf("reading scripts archive: %w", err)
	}
	return nil
}

// parseScriptName splits "<name>-<version>.<checksum>.<script>" as apk's
// apk_read_script_archive_entry does: the script after the last dot, the
// checksum between it and the dot before.
func parseScriptName(name string) (sum []byte, typ string, ok bool) {
	rest, typ, ok := cutLast(name, ".")
	if !ok || !controlScripts["."+typ] {
		return nil, "", false
	}
	_, digest, ok := cutLast(rest, ".")
	if !ok {
		return nil, "", false
	}
	sum, err := parseDigest(digest)
	return sum, typ, err == nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// parseDigest reads a SHA-1 in either spelling apk reads
// (apk_blob_pull_digest): "Q1" + base64 or "X1" + hex.
func parseDigest(s string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(s, "X1"); ok {
		b, err := hex.DecodeString(rest)
		if err != nil || len(b) != sha1.Size {
			return nil, fmt.Errorf("decoding checksum %q: not \"X1\" followed by a hex SHA-1", s)
		}
		return b, nil
	}
	return ParseChecksum(s)
}

// WriteTriggers writes lib/apk/db/triggers as apk writes it
// (apk_db_triggers_write): for each package with Triggers, in the
// database's order (see WriteInstalled), one line of its checksum
// ("Q1" + base64) and its globs, separated by single spaces. An empty or
// space-holding glob is an error, as are the records WriteInstalled
// refuses; then nothing is written.
func WriteTriggers(w io.Writer, pkgs []*InstalledPackage) error {
	if err := checkInstalled(pkgs); err != nil {
		return fmt.Errorf("writing triggers: %w", err)
	}
	for _, ip := range pkgs {
		for _, g := range ip.Triggers {
			if g == "" || strings.ContainsAny(g, " \t\r\n") {
				return fmt.Errorf("writing triggers: package %s: trigger %q is empty or holds white space", ip, g)
			}
		}
	}
	bw := bufio.NewWriter(w)
	for _, ip := range sortInstalled(pkgs) {
		if len(ip.Triggers) == 0 {
			continue
		}
		bw.WriteString(FormatChecksum(ip.Checksum) + " " + strings.Join(ip.Triggers, " ") + "\n")
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing triggers: %w", err)
	}
	return nil
}

// ReadTriggers reads a triggers file, adding each line's globs to the
// Triggers of the package in pkgs with that checksum; as apk does, it
// ignores lines for packages not in pkgs. A line whose checksum does not
// parse is an *IndexError with File "triggers".
func ReadTriggers(r io.Reader, pkgs []*InstalledPackage) error {
	byChecksum := map[string]*InstalledPackage{}
	for _, ip := range pkgs {
		byChecksum[string(ip.Checksum)] = ip
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4<<10), maxIndexLine)
	line := 0
	for sc.Scan() {
		line++
		words := strings.Fields(sc.Text())
		if len(words) == 0 {
			continue
		}
		sum, err := parseDigest(words[0])
		if err != nil {
			return &IndexError{File: "triggers", Line: line, Err: err}
		}
		if ip := byChecksum[string(sum)]; ip != nil {
			ip.Triggers = append(ip.Triggers, words[1:]...)
		}
	}
	if err := sc.Err(); err != nil {
		return &IndexError{File: "triggers", Line: line + 1, Err: fmt.Errorf("reading: %w", err)}
	}
	return nil
}

// WriteWorld writes etc/apk/world as apk writes it (apk_db_write_layers):
// the atoms sorted by name the way apk sorts them before it commits a
// world (case-insensitively, then bytewise), one per line as
// Dependency.String spells them, then a newline; an empty world is a lone
// newline. ParseDependencies reads it back. A name given twice (apk keeps
// one atom per name) or an atom that would not read back is an error, and
// then nothing is written.
func WriteWorld(w io.Writer, world []Dependency) error {
	seen := map[string]bool{}
	for _, d := range world {
		s := d.String()
		if back, err := ParseDependency(s); err != nil || back.String() != s || strings.ContainsAny(s, " \t\r\n") {
			return fmt.Errorf("writing world: atom %q would not read back", s)
		}
		if seen[d.Name] {
			return fmt.Errorf("writing world: %s is named twice", d.Name)
		}
		seen[d.Name] = true
	}
	sorted := slices.Clone(world)
	slices.SortFunc(sorted, func(a, b Dependency) int {
		return cmp.Or(strings.Compare(asciiLower(a.Name), asciiLower(b.Name)), strings.Compare(a.Name, b.Name))
	})
	bw := bufio.NewWriter(w)
	for i, d := range sorted {
		if i > 0 {
			bw.WriteByte('\n')
		}
		bw.WriteString(d.String())
	}
	bw.WriteByte('\n')
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing world: %w", err)
	}
	return nil
}
