package sbom

import (
	"cmp"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/github/go-spdx/v2/spdxexp"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/ext4fs"
)

// The document's fixed parts.
const (
	documentID = "SPDXRef-DOCUMENT"
	imageID    = "SPDXRef-Image"
	noAssert   = "NOASSERTION"

	// namespaceBase is the documents' namespace: .invalid because the
	// URI names the document and is never fetched (SPDX asks for a unique
	// URI, not a reachable one).
	namespaceBase = "https://rootfs-synth.invalid/spdxdocs/"

	apkChecksumsComment = "SHA1 is the package's C: checksum, the SHA-1 of its control segment " +
		"(which names the data's SHA-256); SHA256 is its datahash, the SHA-256 of its data segment " +
		"(the files it installs). Neither is the hash of the .apk file."
	imageComment = "The raw ext4 image: SHA256 is over its bytes as a VM reads them " +
		"(holes as zeros), not over a compressed file."
)

// docBuilder puts the document together.
type docBuilder struct {
	img    *image
	digest string // hex SHA-256 of the raw image
	osID   string // "alpine"
	distro string // "3.23", "" when unknown

	apkIDs   map[string]string // installed package name → SPDXID
	packages []Package         // the APKs
	files    []File
	rels     []Relationship
}

func newBuilder(img *image, digest string) *docBuilder {
	b := &docBuilder{img: img, digest: digest, osID: "alpine", distro: majorMinor(img.version()), apkIDs: map[string]string{}}
	if id := spdxIDPart(img.osID); id != "" {
		b.osID = id
	}
	return b
}

func (b *docBuilder) osPackageID() string { return "SPDXRef-OperatingSystem-" + b.osID }

func (b *docBuilder) relate(from, typ, to string) {
	b.rels = append(b.rels, Relationship{SPDXElementID: from, RelationshipType: typ, RelatedSPDXElement: to})
}

// addPackages adds one package per installed APK, and their DEPENDS_ON
// relationships, resolved against the installed set (a dependency on
// so:libc.musl-x86_64.so.1 is on the package that provides it).
func (b *docBuilder) addPackages() {
	byChecksum := map[string]reportPackage{}
	if b.img.report != nil {
		for _, p := range b.img.report.Packages {
			byChecksum[p.Checksum] = p
		}
	}
	pkgs := slices.Clone(b.img.pkgs)
	slices.SortFunc(pkgs, func(x, y *apk.InstalledPackage) int { return strings.Compare(x.Name, y.Name) })
	taken := map[string]bool{}
	for _, p := range pkgs {
		id := "SPDXRef-Package-apk-" + spdxIDPart(p.Name)
		for n := 2; taken[id]; n++ { // names differing only in characters an ID cannot hold
			id = fmt.Sprintf("SPDXRef-Package-apk-%s-%d", spdxIDPart(p.Name), n)
		}
		taken[id] = true
		b.apkIDs[p.Name] = id
		b.packages = append(b.packages, b.apkPackage(id, p.Package, byChecksum[apk.FormatChecksum(p.Checksum)]))
		b.relate(b.osPackageID(), "CONTAINS", id)
	}
	providers := map[string][]string{}
	for _, p := range pkgs {
		providers[p.Name] = append(providers[p.Name], p.Name)
		for _, pr := range p.Provides {
			providers[pr.Name] = append(providers[pr.Name], p.Name)
		}
	}
	for _, p := range pkgs {
		seen := map[string]bool{p.Name: true}
		for _, d := range p.Depends {
			if d.Conflict {
				continue
			}
			for _, q := range providers[d.Name] {
				if !seen[q] {
					seen[q] = true
					b.relate(b.apkIDs[p.Name], "DEPENDS_ON", b.apkIDs[q])
				}
			}
		}
	}
}

// apkPackage is the SPDX package of one APK; rep is its record in the
// build report (zero when the image has none).
func (b *docBuilder) apkPackage(id string, p *apk.Package, rep reportPackage) Package {
	origin := cmp.Or(p.Origin, p.Name)
	licence, licenceComment := declaredLicense(p.License)
	pkg := Package{
		SPDXID:           id,
		Name:             p.Name,
		VersionInfo:      p.Version,
		Supplier:         supplier(p.Maintainer),
		DownloadLocation: downloadLocation(rep.Repository, p),
		SourceInfo:       "built package from: " + origin + " " + p.Version,
		LicenseConcluded: noAssert,
		LicenseDeclared:  licence,
		LicenseComments:  licenceComment,
		CopyrightText:    noAssert,
		Description:      p.Description,
		Comment:          apkChecksumsComment,
		ExternalRefs: []ExternalRef{{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl",
			ReferenceLocator: b.purl(p, origin)}},
	}
	if u, err := url.Parse(p.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		pkg.Homepage = p.URL
	}
	if len(p.Checksum) == 20 { // Q1: SHA-1
		pkg.Checksums = append(pkg.Checksums, Checksum{Algorithm: "SHA1", ChecksumValue: hex.EncodeToString(p.Checksum)})
	}
	if h, err := hex.DecodeString(rep.DataHash); err == nil && len(h) == 32 {
		pkg.Checksums = append(pkg.Checksums, Checksum{Algorithm: "SHA256", ChecksumValue: strings.ToLower(rep.DataHash)})
	}
	return pkg
}

// purl is the package's package URL as syft writes it for Alpine, which
// grype reads: pkg:apk/alpine/NAME@VERSION?arch=ARCH&distro=alpine-X.Y&upstream=ORIGIN
// (qualifiers in key order, as the purl spec asks; the name lowercased).
func (b *docBuilder) purl(p *apk.Package, origin string) string {
	s := "pkg:apk/" + purlEscape(b.osID) + "/" + purlEscape(strings.ToLower(p.Name)) + "@" + purlEscape(p.Version) +
		"?arch=" + purlEscape(p.Arch)
	if b.distro != "" {
		s += "&distro=" + purlEscape(b.osID+"-"+b.distro)
	}
	return s + "&upstream=" + purlEscape(origin)
}

// purlEscape percent-encodes all but the characters the purl spec leaves
// as they are in a name, version or qualifier value.
func purlEscape(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "%%%02X", c)
		}
	}
	return sb.String()
}

// declaredLicense is L: normalized as an SPDX expression ("mit" → "MIT",
// "GPL-2.0-or-later OR MIT"), else NOASSERTION with the raw text in a
// comment: Alpine's abuild only warns about L: values that are not
// expressions ("custom", "GPL-2.0-or-later LGPL-2.1-or-later"), and a
// LicenseRef- would need its text in the document.
func declaredLicense(l string) (expr, comment string) {
	if strings.TrimSpace(l) == "" {
		return noAssert, ""
	}
	notExpr := fmt.Sprintf("the package's licence (L:) %q is not an SPDX license expression", l)
	norm, invalid := spdxexp.ValidateAndNormalizeLicensesWithOptions([]string{l}, spdxexp.ValidateLicensesOptions{})
	if len(invalid) > 0 || len(norm) != 1 {
		return noAssert, notExpr
	}
	ids, err := spdxexp.ExtractLicenses(norm[0])
	if err != nil {
		return noAssert, notExpr
	}
	for _, id := range ids {
		if strings.HasPrefix(id, "LicenseRef-") || strings.HasPrefix(id, "DocumentRef-") {
			return noAssert, fmt.Sprintf("the package's licence (L:) is %q, whose licence references this document does not define", l)
		}
	}
	return norm[0], ""
}

// supplier is m: ("Name <email>") as SPDX has a person: "Person: Name
// (email)", or NOASSERTION.
func supplier(m string) string {
	m = strings.TrimSpace(m)
	if m == "" {
		return noAssert
	}
	// Parentheses would end the name early for a reader of the field.
	clean := strings.NewReplacer("(", "", ")", "").Replace
	lt, gt := strings.LastIndexByte(m, '<'), strings.LastIndexByte(m, '>')
	if lt < 0 || gt < lt {
		return "Person: " + clean(m)
	}
	name, email := strings.TrimSpace(m[:lt]), strings.TrimSpace(m[lt+1:gt])
	if name == "" {
		name = email
	}
	return "Person: " + clean(name) + " (" + clean(email) + ")"
}

// downloadLocation is the .apk's URL in the repository it came from
// (the index's URL less APKINDEX.tar.gz, then NAME-VERSION.apk, as apk
// fetches it), or NOASSERTION when the report names none or a local one.
func downloadLocation(repository string, p *apk.Package) string {
	dir, ok := strings.CutSuffix(repository, "/APKINDEX.tar.gz")
	u, err := url.Parse(dir)
	if !ok || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return noAssert
	}
	return dir + "/" + url.PathEscape(p.Name+"-"+p.Version) + ".apk"
}

// spdxIDPart is s with every character an SPDX identifier cannot hold
// (letters, digits, '.' and '-' only) made '-'.
func spdxIDPart(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// maxPath is PATH_MAX: a directory deeper than that is a hostile image.
const maxPath = 4096

// addFiles adds every regular file and symlink of fsys that no package
// owns, with its SHA1 and SHA256 (of a symlink's target path, as apk
// records a link's checksum).
func (b *docBuilder) addFiles(ctx context.Context, fsys fs.FS) error {
	owned := map[string]bool{}
	for _, p := range b.img.pkgs {
		for _, d := range p.Dirs {
			for _, f := range d.Files {
				owned[joinPath(d.Name, f.Name)] = true
			}
		}
	}
	seen := map[uint32]bool{} // directories of an ext4fs, against loops in a hostile image
	return fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if d.IsDir() {
			if len(p) > maxPath {
				return fmt.Errorf("directory %q... is more than %d bytes deep, longer than any path the kernel opens", p[:64], maxPath)
			}
			if info, err := d.Info(); err == nil {
				if in, ok := info.Sys().(*ext4fs.Inode); ok {
					if seen[in.Ino] {
						return fmt.Errorf("directory %q is met twice (a loop in a corrupt image)", p)
					}
					seen[in.Ino] = true
				}
			}
		}
		t := d.Type()
		if owned[p] || (!t.IsRegular() && t&fs.ModeSymlink == 0) {
			return nil
		}
		f := File{SPDXID: "SPDXRef-File-" + pathID(p), FileName: "./" + p, LicenseConcluded: noAssert, CopyrightText: noAssert}
		if t&fs.ModeSymlink != 0 {
			target, err := fs.ReadLink(fsys, p)
			if err != nil {
				return err
			}
			f.Comment = fmt.Sprintf("a symbolic link to %q; the checksums are of that target path, as apk records a link's", target)
			f.Checksums, err = fileSums(strings.NewReader(target))
			if err != nil {
				return err
			}
		} else {
			r, err := fsys.Open(p)
			if err != nil {
				return err
			}
			f.Checksums, err = fileSums(r)
			r.Close()
			if err != nil {
				return fmt.Errorf("reading /%s: %w", p, err)
			}
		}
		b.files = append(b.files, f)
		b.relate(imageID, "CONTAINS", f.SPDXID)
		return nil
	})
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// pathID names a file by a hash of its path: the same path has the same
// ID in every document, so two images' documents can be compared.
func pathID(p string) string {
	sum := sha1.Sum([]byte(p))
	return hex.EncodeToString(sum[:10])
}

// document puts the parts in their order: the image, the operating
// system and the APKs by name; files by path; relationships sorted.
func (b *docBuilder) document() *Document {
	name := "rootfs-synth-image-" + b.digest[:12]
	doc := &Document{
		SPDXVersion:       "SPDX-2.3",
		DataLicense:       "CC0-1.0",
		SPDXID:            documentID,
		Name:              name,
		DocumentNamespace: namespaceBase + name + "-" + uuid5(urlNamespace, "sha256:"+b.digest),
		CreationInfo: CreationInfo{
			Created:  b.img.created.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: rootfs-synth"},
			Comment:  "Made from the image's apk database (/" + installedPath + ") and build report (/" + reportPath + ").",
		},
	}
	image := Package{
		SPDXID: imageID, Name: name, DownloadLocation: noAssert,
		Checksums:        []Checksum{{Algorithm: "SHA256", ChecksumValue: b.digest}},
		LicenseConcluded: noAssert, LicenseDeclared: noAssert, CopyrightText: noAssert,
		Comment: imageComment, PrimaryPackagePurpose: "FILE",
	}
	osPkg := Package{
		SPDXID: b.osPackageID(), Name: b.osID, VersionInfo: b.img.version(),
		Supplier: "Organization: Alpine Linux", DownloadLocation: noAssert,
		LicenseConcluded: noAssert, LicenseDeclared: noAssert, CopyrightText: noAssert,
		PrimaryPackagePurpose: "OPERATING_SYSTEM",
	}
	if b.osID != "alpine" {
		osPkg.Supplier = noAssert
	}
	doc.Packages = append([]Package{image, osPkg}, b.packages...)
	slices.SortFunc(b.files, func(x, y File) int { return strings.Compare(x.FileName, y.FileName) })
	doc.Files = b.files
	b.relate(documentID, "DESCRIBES", imageID)
	b.relate(imageID, "CONTAINS", b.osPackageID())
	slices.SortFunc(b.rels, func(x, y Relationship) int {
		return cmp.Or(strings.Compare(x.SPDXElementID, y.SPDXElementID),
			strings.Compare(x.RelationshipType, y.RelationshipType),
			strings.Compare(x.RelatedSPDXElement, y.RelatedSPDXElement))
	})
	doc.Relationships = b.rels
	return doc
}

// urlNamespace is RFC 9562's namespace for names that are URLs
// (6ba7b811-9dad-11d1-80b4-00c04fd430c8), in hex.
const urlNamespace = "6ba7b8119dad11d180b400c04fd430c8"

// uuid5 is the version 5 (SHA-1, name-based) UUID of name in ns (RFC
// 9562, section 5.5), which SPDX suggests for a namespace derived from a
// checksum.
func uuid5(ns, name string) string {
	nsBytes, _ := hex.DecodeString(ns)
	h := sha1.New()
	h.Write(nsBytes)
	h.Write([]byte(name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
