// Package apk is a client for Alpine Linux package repositories: it parses
// and verifies signed APKINDEX archives and v2 .apk packages, orders versions
// and resolves a world of dependency atoms exactly as apk-tools does,
// fetches packages into a verified, content-addressed cache, and reads and
// writes apk's own database (lib/apk/db) byte for byte as apk-tools 3 does,
// so that apk works in a root it did not install.
//
// It reads the v2 index and package formats that Alpine v3.23 still ships
// (apk-tools 3 reads and writes them too). The v3 ADB formats are left out on
// purpose: no Alpine branch publishes them yet. Of apk's database it writes
// installed, triggers and the scripts archive; the uvol layer and the
// overlay list (apk --overlay-from-stdin) are left out: a fresh root has
// neither.
package apk

// Package is one record of an APKINDEX (or the .PKGINFO of a package).
// Fields hold the values as the index spells them; empty means absent.
type Package struct {
	Name          string       // P: pkgname
	Version       string       // V: pkgver
	Arch          string       // A: arch ("noarch" matches every arch)
	Checksum      []byte       // C: SHA-1 of the control gzip member (decoded from "Q1" + base64)
	Size          int64        // S: size of the .apk file in bytes
	InstalledSize int64        // I: installed size in bytes
	Description   string       // T: pkgdesc, verbatim
	URL           string       // U: url
	License       string       // L: license
	Origin        string       // o: origin (source package name)
	Maintainer    string       // m: maintainer
	BuildTime     int64        // t: builddate, Unix seconds
	Commit        string       // c: aports commit
	Depends       []Dependency // D: depend
	Provides      []Dependency // p: provides (Op is Equal or Any)
	InstallIf     []Dependency // i: install_if
	Replaces      []Dependency // r: replaces (installed db and .PKGINFO only)

	// ProviderPriority is k: provider_priority; HasProviderPriority tells
	// whether the record carried one, because apk never auto-selects an
	// unversioned provide from a package without it.
	ProviderPriority    int
	HasProviderPriority bool
	ReplacesPriority    int // q: replaces_priority

	// Uninstallable is set when the record cannot be installed: it has an
	// unknown upper-case field (a feature this reader does not know, as
	// apk-tools treats it), or a D: or p: that does not parse.
	// UninstallableReason says which.
	Uninstallable       bool
	UninstallableReason string
	BrokenInstallIf     bool // an i: did not parse and was dropped, as apk does

	// Set by the code that reads an index, not by the index text itself.
	Repository *Index // the index this record came from
}

// Dependency is one atom: [!]name[@tag][op version].
type Dependency struct {
	Name     string
	Conflict bool // "!name": the name must not be installed
	Op       VersionOp
	Version  string // the version to compare with; for OpChecksum a "Q1..." checksum
	Tag      string // "@tag" pin (world atoms only)
}

// VersionOp is a bit mask of version relations, as apk-tools encodes them.
type VersionOp uint8

const (
	OpLess     VersionOp = 1 << iota // <
	OpEqual                          // =
	OpGreater                        // >
	OpFuzzy                          // ~ : prefix match
	OpChecksum                       // >< : Version holds a package checksum

	OpAny VersionOp = OpLess | OpEqual | OpGreater // no version constraint
)

// Index is a parsed repository index.
type Index struct {
	Source      string // where it came from (URL or path), for error messages
	Tag         string // "@tag" repositories serve only atoms pinned to them; "" for a plain one
	Description string // the DESCRIPTION member, e.g. "v3.23.0-123-gabcdef"
	Packages    []*Package

	// Trusted tells that a signature by a trusted key verified the index;
	// it is false only for an index read with IndexOptions.AllowUntrusted
	// whose signature is missing, unknown or wrong. SignedBy names the key.
	Trusted  bool
	SignedBy string
}
