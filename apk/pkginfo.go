package apk

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// PackageInfo is what a package says about itself: its .PKGINFO, its
// scripts and the names of its signatures.
type PackageInfo struct {
	Package // from .PKGINFO; Checksum is the SHA-1 of the control member, Size the .apk size once read to the end

	DataHash   []byte            // datahash: SHA-256 of the data member's compressed bytes
	Triggers   []string          // triggers: the directory globs the .trigger script watches
	Scripts    map[string][]byte // ".pre-install", ".post-install", ".trigger", ... → body
	Signatures []string          // the .SIGN.* entry names, in file order
}

// controlScripts are the control entries apk knows; others are ignored, as
// apk-tools does.
var controlScripts = map[string]bool{
	".pre-install":    true,
	".post-install":   true,
	".pre-upgrade":    true,
	".post-upgrade":   true,
	".pre-deinstall":  true,
	".post-deinstall": true,
	".trigger":        true,
}

// parsePkgInfo reads a .PKGINFO: "key = value" lines, # comments, keys that
// may repeat (depend, provides, replaces, install_if, triggers) adding to a
// list. Unknown keys are ignored, like apk-tools does, so that newer abuild
// fields do not break older readers.
func parsePkgInfo(data []byte, info *PackageInfo) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(text, " = ")
		if !ok {
			return fmt.Errorf(".PKGINFO line %d: %q is not \"key = value\"", line, truncate(text))
		}
		if err := info.setPkgInfoField(key, value); err != nil {
			return fmt.Errorf(".PKGINFO line %d: %s: %w", line, key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading .PKGINFO: %w", err)
	}
	for _, f := range []struct{ key, value string }{{"pkgname", info.Name}, {"pkgver", info.Version}} {
		if f.value == "" {
			return fmt.Errorf(".PKGINFO has no %s", f.key)
		}
	}
	return nil
}

// pkgInfoFields maps the .PKGINFO keys that describe the package to the
// index fields abuild writes them to, so that one parser, setIndexField,
// reads both.
var pkgInfoFields = map[string]byte{
	"pkgname": 'P', "pkgver": 'V', "arch": 'A', "size": 'I', "pkgdesc": 'T',
	"url": 'U', "license": 'L', "origin": 'o', "maintainer": 'm',
	"builddate": 't', "commit": 'c', "depend": 'D', "provides": 'p',
	"install_if": 'i', "replaces": 'r', "provider_priority": 'k',
	"replaces_priority": 'q',
}

func (info *PackageInfo) setPkgInfoField(key, value string) error {
	switch key {
	case "triggers":
		info.Triggers = append(info.Triggers, strings.Fields(value)...)
		return nil
	case "datahash":
		h, err := hex.DecodeString(value)
		if err == nil && len(h) != 32 {
			err = fmt.Errorf("%d bytes, want a 32-byte SHA-256", len(h))
		}
		info.DataHash = h
		return err
	case "pkgver":
		// An index record keeps a version outside the grammar; the
		// package that is being installed must not have one.
		if !ValidVersion(value) {
			return fmt.Errorf("invalid version %q", value)
		}
	}
	field, ok := pkgInfoFields[key]
	if !ok {
		return nil
	}
	p := &info.Package
	if err := p.setIndexField(field, value); err != nil {
		return err
	}
	// A dependency that does not parse leaves an index record usable but
	// Uninstallable; in the package itself it is an error.
	switch {
	case p.Uninstallable:
		return errors.New(p.UninstallableReason)
	case p.BrokenInstallIf:
		_, err := parseIndexDeps(value)
		return err
	}
	return nil
}
