package provision

import (
	"context"
	"fmt"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk"

	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// writeDatabase writes what apk inside the guest reads: /etc/apk/{world,
// arch,repositories,keys/*} and lib/apk/db/{installed,scripts.tar.gz,
// triggers,lock}, and the scripts deferred to the first boot.
func (in *installer) writeDatabase(context.Context) error {
	dir := rootfs.Node{Mode: 0o755, ModTime: in.time}
	for _, d := range []string{"etc/apk/keys", "lib/apk/db", "lib/apk/exec"} {
		if err := in.tree.MkdirAll(d, dir); err != nil {
			return err
		}
	}
	var world strings.Builder
	if err := apk.WriteWorld(&world, in.opts.World); err != nil {
		return err
	}
	files := []struct {
		path string
		mode uint32
		data string
	}{
		{"etc/apk/world", 0o644, world.String()},
		{"etc/apk/arch", 0o644, in.opts.Arch + "\n"},
		{"etc/apk/repositories", 0o644, joinLines(in.opts.Repositories)},
	}
	for _, f := range files {
		if err := in.putFile(f.path, &rootfs.Node{Mode: 0o644, ModTime: in.time}, []byte(f.data)); err != nil {
			return fmt.Errorf("writing /%s: %w", f.path, err)
		}
	}
	if err := in.installKeys(); err != nil {
		return err
	}
	if err := in.writeDeferred(); err != nil {
		return err
	}
	return in.writeInstalled()
}

func joinLines(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// installKeys puts the build's trusted keys into /etc/apk/keys unless a
// package (alpine-keys) already put keys there.
func (in *installer) installKeys() error {
	if len(in.tree.Children("etc/apk/keys")) > 0 || in.opts.Keys == nil {
		return nil
	}
	for _, name := range in.opts.Keys.Names() {
		p := "etc/apk/keys/" + name
		if err := in.putFile(p, &rootfs.Node{Mode: 0o644, ModTime: in.time}, in.opts.Keys.PEM(name)); err != nil {
			return fmt.Errorf("writing /%s: %w", p, err)
		}
	}
	return nil
}
