package provision

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io/fs"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// writeInstalled writes lib/apk/db: installed, scripts.tar.gz and triggers
// as apk 3 writes them on a fresh root, and an empty lock (0600).
func (in *installer) writeInstalled() error {
	db := in.installedDB()
	files := []struct {
		path  string
		mode  fs.FileMode
		write func(*bytes.Buffer) error
	}{
		{"lib/apk/db/installed", 0o644, func(b *bytes.Buffer) error { return apk.WriteInstalled(b, db) }},
		{"lib/apk/db/scripts.tar.gz", 0o644, func(b *bytes.Buffer) error { return apk.WriteScriptsArchive(b, db) }},
		{"lib/apk/db/triggers", 0o644, func(b *bytes.Buffer) error { return apk.WriteTriggers(b, db) }},
		{"lib/apk/db/lock", 0o600, func(*bytes.Buffer) error { return nil }},
	}
	for _, f := range files {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return err
		}
		if err := in.putFile(f.path, &rootfs.Node{Mode: f.mode, ModTime: in.time}, b.Bytes()); err != nil {
			return fmt.Errorf("writing /%s: %w", f.path, err)
		}
	}
	return nil
}

// installedDB is what the packages own, in install order: each package's
// record with its .PKGINFO's replaces, its directories as its archive
// listed them and the files it still owns (a later package may have
// taken some over), with owners and modes where they differ from apk's
// defaults and the checksums the packages vouched for.
func (in *installer) installedDB() []*apk.InstalledPackage {
	var db []*apk.InstalledPackage
	for _, ps := range in.pkgs {
		rec := *ps.rec
		rec.Replaces, rec.ReplacesPriority = ps.replaces, ps.m.ReplacesPriority
		ip := &apk.InstalledPackage{Package: &rec, Triggers: ps.m.Triggers}
		if len(ps.m.Scripts) > 0 {
			ip.Scripts = map[string][]byte{}
			for name, body := range ps.m.Scripts {
				ip.Scripts[name] = []byte(body)
			}
		}
		for _, d := range ps.dirs {
			dir := apk.InstalledDir{Name: d.path, ACL: acl(d.uid, d.gid, d.mode, d.xattrs, 0o755)}
			for _, f := range d.files {
				if f.removed {
					continue
				}
				file := apk.InstalledFile{Name: f.name, ACL: acl(f.uid, f.gid, f.mode, f.node.Xattrs, 0o644)}
				if f.sha1 != "" {
					file.Checksum, _ = hex.DecodeString(f.sha1)
				}
				dir.Files = append(dir.Files, file)
			}
			ip.Dirs = append(ip.Dirs, dir)
		}
		db = append(db, ip)
	}
	return db
}

// acl is the M: or a: of a path, nil when it is apk's default.
func acl(uid, gid uint32, mode int64, xattrs map[string][]byte, def int64) *apk.ACL {
	var xsum []byte
	if len(xattrs) > 0 {
		m := make(map[string]string, len(xattrs))
		for k, v := range xattrs {
			m[k] = string(v)
		}
		xsum = apk.XattrChecksum(m)
	}
	if uid == 0 && gid == 0 && mode == def && xsum == nil {
		return nil
	}
	return &apk.ACL{UID: uid, GID: gid, Mode: uint32(mode), XattrChecksum: xsum}
}
