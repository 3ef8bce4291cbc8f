package apk

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
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
			return fmt.Errorf(".PKGINFO line %d: %q is not \"key = value\"", line, text)
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

func (info *PackageInfo) setPkgInfoField(key, value string) error {
	p := &info.Package
	var err error
	switch key {
	case "pkgname":
		if !ValidName(value) {
			return fmt.Errorf("invalid package name %q", value)
		}
		p.Name = value
	case "pkgver":
		if !ValidVersion(value) {
			return fmt.Errorf("invalid version %q", value)
		}
		p.Version = value
	case "pkgdesc":
		p.Description = value
	case "url":
		p.URL = value
	case "builddate":
		p.BuildTime, err = strconv.ParseInt(value, 10, 64)
	case "size":
		p.InstalledSize, err = strconv.ParseInt(value, 10, 64)
	case "arch":
		p.Arch = value
	case "origin":
		p.Origin = value
	case "commit":
		p.Commit = value
	case "maintainer":
		p.Maintainer = value
	case "license":
		p.License = value
	case "depend":
		err = appendDeps(&p.Depends, value)
	case "provides":
		err = appendDeps(&p.Provides, value)
	case "install_if":
		err = appendDeps(&p.InstallIf, value)
	case "replaces":
		err = appendDeps(&p.Replaces, value)
	case "provider_priority":
		p.ProviderPriority, err = strconv.Atoi(value)
		p.HasProviderPriority = err == nil
	case "replaces_priority":
		p.ReplacesPriority, err = strconv.Atoi(value)
	case "triggers":
		info.Triggers = append(info.Triggers, strings.Fields(value)...)
	case "datahash":
		var h []byte
		h, err = hex.DecodeString(value)
		if err == nil && len(h) != 32 {
			err = fmt.Errorf("%d bytes, want a 32-byte SHA-256", len(h))
		}
		info.DataHash = h
	}
	return err
}

func appendDeps(list *[]Dependency, value string) error {
	deps, err := ParseDependencies(value)
	if err != nil {
		return err
	}
	*list = append(*list, deps...)
	return nil
}
