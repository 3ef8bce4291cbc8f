package sbom_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/internal/e2fsck"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
	"github.com/rootfs-synth/rootfs-synth/sbom"
)

// realPackages are the real v3.23 packages of the shared test data, with
// what their .PKGINFO says (read with tar -xzOf FILE .PKGINFO).
var realPackages = []struct {
	file, name, version, origin, license, maintainer, datahash string
}{
	{"ca-certificates-bundle-20251003-r0.apk", "ca-certificates-bundle", "20251003-r0", "ca-certificates", "MPL-2.0 AND MIT",
		"Person: Natanael Copa (ncopa@alpinelinux.org)", "3f8b1c5c6d2f44029cd72e572f51b229676cc39f3c8c72e1ec652c8918b2502e"},
	{"busybox-binsh-1.37.0-r30.apk", "busybox-binsh", "1.37.0-r30", "busybox", "GPL-2.0-only",
		"Person: Sören Tempel (soeren+alpine@soeren-tempel.net)", "78dd2a2d92572cc513acee21a680b7f096761ca12d8610835f23b664ee6b3e0e"},
}

// realMirror serves, on 127.0.0.1, a v3.23 mirror whose main repository
// holds the real packages (their index signed with a test key; the
// packages keep Alpine's bytes) and generated ones: busybox (which
// busybox-binsh depends on), alpine-release with /etc/os-release a
// symlink to ../usr/lib/os-release as in Alpine, and packages whose L:
// is not an SPDX expression.
func realMirror(t *testing.T) (url string, keys *apk.KeyRing) {
	t.Helper()
	key, err := apktest.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	main, community := apktest.NewRepo(key), apktest.NewRepo(key)
	community.Name = "community"
	for _, rp := range realPackages {
		data, err := os.ReadFile(filepath.Join(testenv.SharedTestdata(t), "packages", rp.file))
		if err != nil {
			t.Fatal(err)
		}
		info, err := apk.VerifyPackage(bytes.NewReader(data), nil)
		if err != nil {
			t.Fatal(err)
		}
		rec := info.Package
		rec.Size = int64(len(data))
		main.Packages = append(main.Packages, apktest.Built{Record: &rec, Data: data})
	}
	for _, p := range []apktest.Pkg{
		{Name: "busybox", Version: "1.37.0-r30", License: "GPL-2.0-only", Maintainer: "Sören Tempel <soeren+alpine@soeren-tempel.net>",
			URL: "https://busybox.net/", Provides: []string{"cmd:busybox=1.37.0-r30"},
			Files: []apktest.File{{Name: "bin/busybox", Mode: 0o755, Data: []byte("#!/bin/true\n")}}},
		{Name: "alpine-release", Version: "3.23.2-r0", Origin: "alpine-base", License: "mit",
			Files: []apktest.File{
				{Name: "usr/lib/os-release", Data: []byte("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.23.2\n")},
				{Name: "etc/os-release", Linkname: "../usr/lib/os-release"},
			}},
		{Name: "custom-licence", Version: "1-r0", License: "custom", Maintainer: "No Address",
			Depends: []string{"cmd:busybox", "so:libtwo.so.2"}, Files: []apktest.File{{Name: "etc/custom", Data: []byte("custom\n")}}},
		{Name: "two-licences", Version: "2-r0", License: "GPL-2.0-or-later LGPL-2.1-or-later", Provides: []string{"so:libtwo.so.2=2"},
			Files: []apktest.File{{Name: "etc/two", Data: []byte("two\n")}}},
	} {
		if _, err := main.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	mainH, commH := main.Handler(), community.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v3.23/community/") {
			commH.ServeHTTP(w, r)
			return
		}
		mainH.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, key.KeyRing()
}

var overlayFile = []byte("an overlay's file\n")

// buildReal builds the real mirror's packages and an overlay into dir,
// with its SBOM (Options.SBOM) at dir/sbom.json.
func buildReal(t *testing.T, mirror string, keys *apk.KeyRing, dir string) *build.Result {
	t.Helper()
	res, err := build.Run(context.Background(), build.Options{
		Profile:  "none",
		Packages: []string{"ca-certificates-bundle", "busybox-binsh", "alpine-release", "custom-licence", "two-licences"},
		Arch:     "x86_64",
		Mirrors:  []string{mirror},
		Keys:     keys,
		CacheDir: filepath.Join(dir, "cache"),
		Output:   filepath.Join(dir, "alpine.ext4"),
		SBOM:     filepath.Join(dir, "sbom.json"),
		Files:    []fs.FS{fstest.MapFS{"etc/overlay.conf": {Data: overlayFile, Mode: 0o644}}},
		Time:     time.Unix(1750000000, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func sha1Hex(b []byte) string {
	s := sha1.Sum(b)
	return hex.EncodeToString(s[:])
}

func documentJSON(t *testing.T, doc *sbom.Document) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := doc.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// schema is the SPDX 2.3 JSON schema (testdata/README.md says where it
// comes from), compiled offline.
func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	sch, err := jsonschema.NewCompiler().Compile(filepath.Join("testdata", "spdx-schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// judge returns why the SPDX 2.3 schema or the SPDX project's Go library
// (tools-golang: its JSON reader, then spdxlib.ValidateDocument) refuses
// the document, or nil.
func judge(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if err := sch.Validate(v); err != nil {
		return err
	}
	doc, err := spdxjson.Read(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return spdxlib.ValidateDocument(doc)
}

// TestFromImageRealPackages: the SBOM of an image built from real Alpine
// packages (and generated ones) validates against the SPDX 2.3 schema and
// parses with tools-golang; it describes the image by its digest and the
// OS by its os-release (found through Alpine's symlink), and each APK
// has its licence (normalized, or NOASSERTION with L: kept in a comment),
// supplier, purl, checksums (the SHA256 is the real .PKGINFO's datahash),
// a download location that serves the real .apk, and its dependencies
// resolved through provides. The files no package owns (the overlay's,
// apk's database, the report) are listed with their checksums; a file a
// package owns is not. The image is e2fsck-clean.
func TestFromImageRealPackages(t *testing.T) {
	mirror, keys := realMirror(t)
	dir := t.TempDir()
	res := buildReal(t, mirror, keys, dir)
	img := res.Report.Image.Path
	if err := e2fsck.Check(t, img); err != nil {
		t.Fatal(err)
	}
	doc, err := sbom.FromImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	data := documentJSON(t, doc)
	if err := judge(t, schema(t), data); err != nil {
		t.Fatalf("the SBOM is refused: %v\n%s", err, data)
	}
	// The build's SBOM, made from the tree before it was written, is the
	// image's.
	if built, err := os.ReadFile(filepath.Join(dir, "sbom.json")); err != nil || !bytes.Equal(built, data) {
		t.Errorf("the build's Options.SBOM (%v) differs from FromImage's document:\n%s\n---\n%s", err, built, data)
	}

	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]sbom.Package{}
	for _, p := range doc.Packages {
		pkgs[p.SPDXID] = p
	}
	if p := pkgs["SPDXRef-Image"]; len(p.Checksums) != 1 || p.Checksums[0] != (sbom.Checksum{Algorithm: "SHA256", ChecksumValue: sha256Hex(raw)}) ||
		"sha256:"+p.Checksums[0].ChecksumValue != res.Report.Image.Digest {
		t.Errorf("image package checksums %+v, want the image's SHA256 %s (the report's %s)", p.Checksums, sha256Hex(raw), res.Report.Image.Digest)
	}
	if p := pkgs["SPDXRef-OperatingSystem-alpine"]; p.Name != "alpine" || p.VersionInfo != "3.23.2" || p.PrimaryPackagePurpose != "OPERATING_SYSTEM" {
		t.Errorf("operating system package %+v, want alpine 3.23.2", p)
	}
	if want := "2025-06-15T15:06:40Z"; doc.CreationInfo.Created != want {
		t.Errorf("created %q, want SOURCE_DATE_EPOCH's %q", doc.CreationInfo.Created, want)
	}

	checksums := map[string]string{}
	for _, p := range res.Report.Packages {
		checksums[p.Name] = p.Checksum
	}
	type apkWant struct{ licence, comment, supplier, purl, datahash, download string }
	wants := map[string]apkWant{
		"custom-licence": {licence: "NOASSERTION", comment: `"custom"`, supplier: "Person: No Address",
			purl: "pkg:apk/alpine/custom-licence@1-r0?arch=x86_64&distro=alpine-3.23&upstream=custom-licence"},
		"two-licences": {licence: "NOASSERTION", comment: `"GPL-2.0-or-later LGPL-2.1-or-later"`, supplier: "NOASSERTION",
			purl: "pkg:apk/alpine/two-licences@2-r0?arch=x86_64&distro=alpine-3.23&upstream=two-licences"},
		"alpine-release": {licence: "MIT", supplier: "NOASSERTION",
			purl: "pkg:apk/alpine/alpine-release@3.23.2-r0?arch=x86_64&distro=alpine-3.23&upstream=alpine-base"},
	}
	for _, rp := range realPackages {
		wants[rp.name] = apkWant{licence: rp.license, supplier: rp.maintainer, datahash: rp.datahash,
			purl:     "pkg:apk/alpine/" + rp.name + "@" + rp.version + "?arch=noarch&distro=alpine-3.23&upstream=" + rp.origin,
			download: build.DefaultMirror + "/v3.23/main/x86_64/" + rp.file}
	}
	for name, want := range wants {
		p := pkgs["SPDXRef-Package-apk-"+name]
		if p.LicenseDeclared != want.licence || !strings.Contains(p.LicenseComments, want.comment) || (want.comment == "") != (p.LicenseComments == "") {
			t.Errorf("%s: licence %q, comment %q; want %q, a comment quoting %s", name, p.LicenseDeclared, p.LicenseComments, want.licence, want.comment)
		}
		if p.Supplier != want.supplier {
			t.Errorf("%s: supplier %q, want %q", name, p.Supplier, want.supplier)
		}
		if len(p.ExternalRefs) != 1 || p.ExternalRefs[0].ReferenceLocator != want.purl || p.ExternalRefs[0].ReferenceType != "purl" {
			t.Errorf("%s: external refs %+v, want the purl %s", name, p.ExternalRefs, want.purl)
		}
		c, err := apk.ParseChecksum(checksums[name])
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Checksums) != 2 || p.Checksums[0] != (sbom.Checksum{Algorithm: "SHA1", ChecksumValue: hex.EncodeToString(c)}) ||
			p.Checksums[1].Algorithm != "SHA256" || len(p.Checksums[1].ChecksumValue) != 64 ||
			(want.datahash != "" && p.Checksums[1].ChecksumValue != want.datahash) {
			t.Errorf("%s: checksums %+v, want SHA1 of C: %s and the SHA256 datahash %s", name, p.Checksums, checksums[name], want.datahash)
		}
		if !strings.HasPrefix(p.SourceInfo, "built package from: ") || !strings.Contains(p.Comment, "control segment") {
			t.Errorf("%s: sourceInfo %q, comment %q; want the origin and what the checksums cover", name, p.SourceInfo, p.Comment)
		}
		if want.download == "" {
			continue
		}
		if p.DownloadLocation != want.download {
			t.Errorf("%s: download location %q, want %q", name, p.DownloadLocation, want.download)
			continue
		}
		// The image names Alpine's repositories by the official mirror;
		// the test's mirror serves the same path.
		resp, err := http.Get(mirror + strings.TrimPrefix(p.DownloadLocation, build.DefaultMirror))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		real, _ := os.ReadFile(filepath.Join(testenv.SharedTestdata(t), "packages", filepath.Base(want.download)))
		if err != nil || !bytes.Equal(got, real) {
			t.Errorf("%s: GET %s = %d bytes (%v), want the real package's %d", name, p.DownloadLocation, len(got), err, len(real))
		}
	}

	rels := map[string]bool{}
	for _, r := range doc.Relationships {
		rels[r.SPDXElementID+" "+r.RelationshipType+" "+r.RelatedSPDXElement] = true
	}
	for _, want := range []string{
		"SPDXRef-DOCUMENT DESCRIBES SPDXRef-Image",
		"SPDXRef-Image CONTAINS SPDXRef-OperatingSystem-alpine",
		"SPDXRef-OperatingSystem-alpine CONTAINS SPDXRef-Package-apk-busybox",
		"SPDXRef-Package-apk-busybox-binsh DEPENDS_ON SPDXRef-Package-apk-busybox",
		"SPDXRef-Package-apk-custom-licence DEPENDS_ON SPDXRef-Package-apk-busybox",      // cmd:busybox, a provide
		"SPDXRef-Package-apk-custom-licence DEPENDS_ON SPDXRef-Package-apk-two-licences", // so:libtwo.so.2
	} {
		if !rels[want] {
			t.Errorf("no relationship %q", want)
		}
	}

	files := map[string]sbom.File{}
	for _, f := range doc.Files {
		files[f.FileName] = f
	}
	inImageReport := readImageFile(t, img, build.ReportPath) // read back by debugfs, not by us
	for name, content := range map[string][]byte{"./etc/overlay.conf": overlayFile, "." + build.ReportPath: inImageReport} {
		f, ok := files[name]
		if !ok || len(f.Checksums) != 2 || f.Checksums[0].ChecksumValue != sha1Hex(content) || f.Checksums[1].ChecksumValue != sha256Hex(content) {
			t.Errorf("file %s: %+v, want SHA1 %s and SHA256 %s", name, f, sha1Hex(content), sha256Hex(content))
		}
		if !rels["SPDXRef-Image CONTAINS "+f.SPDXID] {
			t.Errorf("file %s is not CONTAINed by the image", name)
		}
	}
	for _, owned := range []string{"./etc/custom", "./etc/os-release", "./bin/sh"} {
		if _, ok := files[owned]; ok {
			t.Errorf("file %s is listed, but a package owns it", owned)
		}
	}
	if _, ok := files["./lib/apk/db/installed"]; !ok {
		t.Errorf("apk's database, which no package owns, is not listed")
	}
}

// TestSBOMReproducible: the same build made twice (another output and
// cache directory) gives the same image and the same SBOM bytes, and so
// does reading one image twice.
func TestSBOMReproducible(t *testing.T) {
	mirror, keys := realMirror(t)
	var docs [][]byte
	for range 2 {
		res := buildReal(t, mirror, keys, t.TempDir())
		doc, err := sbom.FromImage(context.Background(), res.Report.Image.Path)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, documentJSON(t, doc))
		if len(docs) == 1 {
			again, err := sbom.FromImage(context.Background(), res.Report.Image.Path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(documentJSON(t, again), docs[0]) {
				t.Errorf("two SBOMs of one image differ")
			}
		}
	}
	if !bytes.Equal(docs[0], docs[1]) {
		t.Errorf("the SBOMs of two equal builds differ:\n%s\n---\n%s", docs[0], docs[1])
	}
	var d struct{ DocumentNamespace string }
	if err := json.Unmarshal(docs[0], &d); err != nil || !strings.HasPrefix(d.DocumentNamespace, "https://rootfs-synth.invalid/spdxdocs/") {
		t.Errorf("namespace %q, %v", d.DocumentNamespace, err)
	}
}

// installedFS is a root holding only apk's database, of two packages
// (one depends on the other's provide), dated mtime.
func installedFS(t *testing.T, mtime time.Time) fstest.MapFS {
	t.Helper()
	var db bytes.Buffer
	err := apk.WriteInstalled(&db, []*apk.InstalledPackage{
		{Package: &apk.Package{Name: "musl", Version: "1.2.5-r10", Arch: "x86_64", Checksum: bytes.Repeat([]byte{1}, 20),
			License: "MIT", Origin: "musl", Maintainer: "Timo Teräs <timo.teras@iki.fi>",
			Provides: []apk.Dependency{{Name: "so:libc.musl-x86_64.so.1", Op: apk.OpEqual, Version: "1"}}},
			Dirs: []apk.InstalledDir{{Name: "lib", Files: []apk.InstalledFile{{Name: "ld-musl-x86_64.so.1"}}}}},
		{Package: &apk.Package{Name: "libstdc++", Version: "14.2.0-r6", Arch: "x86_64", Checksum: bytes.Repeat([]byte{2}, 20),
			License: "GPL-3.0-or-later WITH GCC-exception-3.1", Origin: "gcc",
			Depends: []apk.Dependency{{Name: "so:libc.musl-x86_64.so.1"}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return fstest.MapFS{
		"lib/apk/db/installed":    {Data: db.Bytes(), Mode: 0o644, ModTime: mtime},
		"lib/ld-musl-x86_64.so.1": {Data: []byte("musl"), Mode: 0o755},
		"etc/motd":                {Data: []byte("hello\n"), Mode: 0o644},
		"bin/sh":                  {Data: []byte("/bin/busybox"), Mode: fs.ModeSymlink | 0o777},
	}
}

const zeroDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// TestFromFSWithoutReport: an image without the build report (made by
// another tool, or before the report was stored) still gets a valid
// document: no distro qualifier, download location or datahash, created
// from the database's mtime; a name a purl must escape is escaped and one
// an SPDX ID cannot hold is mended; a symlink no package owns is listed
// with the checksums of its target path.
func TestFromFSWithoutReport(t *testing.T) {
	mtime := time.Unix(1700000000, 0)
	doc, err := sbom.FromFS(context.Background(), installedFS(t, mtime), zeroDigest)
	if err != nil {
		t.Fatal(err)
	}
	data := documentJSON(t, doc)
	if err := judge(t, schema(t), data); err != nil {
		t.Fatalf("the SBOM is refused: %v\n%s", err, data)
	}
	if doc.CreationInfo.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("created %q, want the database's mtime", doc.CreationInfo.Created)
	}
	var names []string
	for _, p := range doc.Packages {
		names = append(names, p.SPDXID)
		if p.Name == "libstdc++" {
			if got, want := p.ExternalRefs[0].ReferenceLocator, "pkg:apk/alpine/libstdc%2B%2B@14.2.0-r6?arch=x86_64&upstream=gcc"; got != want {
				t.Errorf("libstdc++ purl = %s, want %s", got, want)
			}
			if p.LicenseDeclared != "GPL-3.0-or-later WITH GCC-exception-3.1" || p.DownloadLocation != "NOASSERTION" || len(p.Checksums) != 1 {
				t.Errorf("libstdc++: %+v, want its licence, no download location, only the SHA1", p)
			}
		}
	}
	if got, want := strings.Join(names, " "), "SPDXRef-Image SPDXRef-OperatingSystem-alpine SPDXRef-Package-apk-libstdc-- SPDXRef-Package-apk-musl"; got != want {
		t.Errorf("packages %s, want %s", got, want)
	}
	var files []string
	for _, f := range doc.Files {
		files = append(files, f.FileName)
		if f.FileName == "./bin/sh" && (f.Checksums[0].ChecksumValue != sha1Hex([]byte("/bin/busybox")) || !strings.Contains(f.Comment, "symbolic link")) {
			t.Errorf("./bin/sh: %+v, want the checksums of its target path", f)
		}
	}
	if got, want := strings.Join(files, " "), "./bin/sh ./etc/motd ./lib/apk/db/installed"; got != want {
		t.Errorf("files %s, want %s (not the one musl owns)", got, want)
	}
	found := false
	for _, r := range doc.Relationships {
		found = found || r == (sbom.Relationship{SPDXElementID: "SPDXRef-Package-apk-libstdc--", RelationshipType: "DEPENDS_ON", RelatedSPDXElement: "SPDXRef-Package-apk-musl"})
	}
	if !found {
		t.Errorf("no libstdc++ DEPENDS_ON musl through so:libc.musl-x86_64.so.1: %+v", doc.Relationships)
	}

	if _, err := sbom.FromFS(context.Background(), fstest.MapFS{}, zeroDigest); err == nil || !strings.Contains(err.Error(), "lib/apk/db/installed") {
		t.Errorf("FromFS(no database) = %v, want an error naming apk's database", err)
	}
	if _, err := sbom.FromFS(context.Background(), installedFS(t, mtime), "sha256:abc"); err == nil {
		t.Errorf("FromFS(digest sha256:abc) succeeded, want an error")
	}
}

// TestJudgesRefuse is the judges' negative control: the SPDX 2.3 schema
// refuses a document with a checksum algorithm it does not know or a
// package without downloadLocation, tools-golang one whose supplier is
// not "Person: …" or "Organization: …", and spdxlib one that relates an
// element it does not have.
func TestJudgesRefuse(t *testing.T) {
	doc, err := sbom.FromFS(context.Background(), installedFS(t, time.Unix(1700000000, 0)), zeroDigest)
	if err != nil {
		t.Fatal(err)
	}
	sch := schema(t)
	good := documentJSON(t, doc)
	if err := judge(t, sch, good); err != nil {
		t.Fatalf("the unchanged document is refused: %v", err)
	}
	for _, tt := range []struct {
		name   string
		change func(map[string]any)
		want   string
	}{
		{"checksum algorithm SHA-1", func(d map[string]any) {
			pkg(d, 2)["checksums"].([]any)[0].(map[string]any)["algorithm"] = "SHA-1"
		}, "algorithm"},
		{"no downloadLocation", func(d map[string]any) { delete(pkg(d, 2), "downloadLocation") }, "downloadLocation"},
		{"supplier without Person:", func(d map[string]any) { pkg(d, 3)["supplier"] = "Timo Teräs" }, "upplier"},
		{"relationship to nothing", func(d map[string]any) {
			d["relationships"] = append(d["relationships"].([]any), map[string]any{
				"spdxElementId": "SPDXRef-Image", "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-Nothing"})
		}, "Nothing used in relationship"},
	} {
		var d map[string]any
		if err := json.Unmarshal(good, &d); err != nil {
			t.Fatal(err)
		}
		tt.change(d)
		bad, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := judge(t, sch, bad); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("judge(document with %s) = %v, want an error mentioning %q", tt.name, err, tt.want)
		}
	}
}

func pkg(d map[string]any, i int) map[string]any { return d["packages"].([]any)[i].(map[string]any) }

// readImageFile reads the file name of image with debugfs.
func readImageFile(t *testing.T, image, name string) []byte {
	t.Helper()
	out, err := exec.Command(testenv.Tool(t, "debugfs"), "-R", "cat "+name, image).Output()
	if err != nil {
		t.Fatalf("debugfs cat %s: %v", name, err)
	}
	return out
}
