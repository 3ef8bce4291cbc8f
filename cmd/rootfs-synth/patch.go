package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/ext4patch"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
)

// Caps of the files patch reads whole into memory (ext4patch holds a
// file's content until Commit): an --env-file is a few variables; a
// --put file is a config file, a script or a small binary.
const (
	maxEnvFileSize = 1 << 20
	maxPutFileSize = 64 << 20
)

// patchCommand is `rootfs-synth patch IMAGE [-o NEW] [flags]`. now is the
// wall-clock time (the patched files' mtime, unless SOURCE_DATE_EPOCH).
func patchCommand(now time.Time) *cli.Command {
	return &cli.Command{
		Name:      "patch",
		Usage:     "change an ext4 image per sandbox: keys, hostname, session env, files",
		ArgsUsage: "IMAGE",
		Description: "Changes IMAGE in place, or with -o NEW a clone of it (a reflink where the\n" +
			"filesystem has one, else a sparse copy), patched under a temporary name beside\n" +
			"NEW and renamed: a failed patch leaves no NEW. In place, every change lands as\n" +
			"one transaction in the image's own journal: after a crash the image is the old\n" +
			"one or the new one once the journal is replayed (by the kernel at mount, e2fsck\n" +
			"or --replay). Order: --grow, --rm, --put, --authorized-keys, --hostname, then\n" +
			"the env. --grow extends the file and the filesystem (new block groups, no\n" +
			"resize2fs): up to 64x for images rootfs-synth writes, within the reserve for\n" +
			"mke2fs's; never shrinks.\n\n" +
			"Never patch an image a running VM has attached. patch takes an OFD lock on\n" +
			"IMAGE and fails when QEMU (file.locking=on) or another patch holds one;\n" +
			"Firecracker takes no lock, so that case is yours to rule out. A journal that\n" +
			"needs recovery looks exactly like a mounted image: it is refused unless\n" +
			"--replay. Refused, with nothing written: features the patcher cannot handle\n" +
			"(inline_data, encrypt, casefold, bigalloc, meta_bg, ...), an orphan list or\n" +
			"recorded errors, a path through a symlink that leaves the image, an IMAGE that\n" +
			"is not a regular file, and in place an image without a journal unless\n" +
			"--allow-no-journal.\n\n" +
			"--env and --env-file rewrite /etc/sbx/session-env.sh (0600) with one\n" +
			"`export NAME='VALUE'` line per variable (quoted for sh, so any value arrives\n" +
			"verbatim): login shells and `ssh host cmd` read it. --env-file lines are\n" +
			"NAME=VALUE, the value taken as it stands; blank lines and # comments are\n" +
			"skipped; --env comes after it and a later NAME wins.\n\n" +
			"Examples:\n" +
			"   rootfs-synth patch alpine.ext4 -o sandbox-1.ext4 --authorized-keys ~/.ssh/id_ed25519.pub \\\n" +
			"       --hostname sandbox-1 --env API_URL=https://api.example --env-file secrets.env\n" +
			"   rootfs-synth patch sandbox-1.ext4 --put /etc/motd=./motd:0644 \\\n" +
			"       --put /usr/local/bin/agent=./agent:0755:0:0 --rm /etc/issue\n" +
			"   rootfs-synth patch sandbox-1.ext4 --grow 4G\n" +
			"   rootfs-synth patch --replay sandbox-1.ext4   # after a host crash, no VM attached",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "patch a clone of IMAGE written to `NEW` (replaced atomically) instead of IMAGE"},
			&cli.StringFlag{Name: "authorized-keys", Usage: "install `FILE` as /root/.ssh/authorized_keys (0600, directory 0700)"},
			&cli.StringFlag{Name: "hostname", Usage: "write `NAME` to /etc/hostname"},
			&cli.GenericFlag{Name: "env", Value: &lineList{}, Usage: "session variable `NAME=VALUE` (repeatable)"},
			&cli.StringFlag{Name: "env-file", Usage: "session variables from `FILE`, NAME=VALUE lines"},
			&cli.GenericFlag{Name: "put", Value: &lineList{}, Usage: "put HOST_FILE at GUEST_PATH: `GUEST_PATH=HOST_FILE[:MODE[:UID:GID]]` (repeatable; MODE octal, default the host file's; owner default 0:0)"},
			&cli.GenericFlag{Name: "rm", Value: &lineList{}, Usage: "remove the file, symlink or empty directory at `GUEST_PATH` (repeatable)"},
			&cli.StringFlag{Name: "grow", Usage: "grow the image file and its filesystem to `SIZE` in bytes, or with K, M, G or T (powers of 1024)"},
			&cli.BoolFlag{Name: "replay", Usage: "replay a journal that needs recovery first (only when no VM has IMAGE attached)"},
			&cli.BoolFlag{Name: "allow-no-journal", Usage: "patch an image without a journal in place (a crash can leave it half patched)"},
		},
		Action: func(c *cli.Context) error { return runPatch(c, now) },
	}
}

// patchOp is one change, read and checked before the image is opened.
type patchOp struct {
	grow     int64 // the new size, for --grow
	remove   bool
	dir      bool // a directory with mode and owner (PutDir)
	path     string
	data     []byte
	mode     fs.FileMode
	uid, gid int
}

func runPatch(c *cli.Context, now time.Time) error {
	if c.NArg() != 1 {
		return usageError("patch: need exactly one IMAGE (e.g. rootfs-synth patch alpine.ext4 -o sandbox.ext4 --hostname sb1)")
	}
	image, out := c.Args().First(), c.String("output")
	if out != "" && sameFile(image, out) {
		return usageError("patch: -o %q is IMAGE itself (leave -o out to patch in place)", out)
	}
	mtime, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	if mtime.IsZero() {
		mtime = now
	}
	ops, err := patchOps(c)
	if err != nil {
		return err
	}
	if len(ops) == 0 && !c.Bool("replay") {
		return usageError("patch: nothing to change (give --authorized-keys, --hostname, --env, --env-file, --put, --rm, --grow or --replay)")
	}
	opts := ext4patch.Options{Replay: c.Bool("replay"), AllowNoJournal: c.Bool("allow-no-journal") || out != "", Time: mtime}
	if out == "" {
		if err := applyPatch(image, opts, ops, mtime); err != nil {
			return patchError(err, "", "")
		}
		fmt.Fprintf(c.App.Writer, "patched %s: %s\n", image, summary(ops))
		return nil
	}
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(image); err == nil {
		perm = fi.Mode().Perm()
	}
	var tmp string
	s, method, err := imagefile.StageClone(c.Context, out, image, imagefile.Options{Perm: perm}, func(name string) error {
		tmp = name
		return applyPatch(name, opts, ops, mtime)
	})
	if err != nil {
		return patchError(err, tmp, out)
	}
	defer s.Discard()
	if err := s.Commit(c.Context); err != nil {
		return patchError(err, "", "")
	}
	fmt.Fprintf(c.App.Writer, "patched %s (%s of %s): %s\n", out, method, image, summary(ops))
	return nil
}

// applyPatch opens the image file at name, stages ops and commits them.
func applyPatch(name string, opts ext4patch.Options, ops []patchOp, mtime time.Time) error {
	im, err := ext4patch.Open(name, opts)
	if err != nil {
		return err
	}
	defer im.Close()
	for _, op := range ops {
		switch {
		case op.grow > 0:
			err = im.Grow(op.grow)
		case op.remove:
			err = im.Remove(op.path)
		case op.dir:
			err = im.PutDir(op.path, op.mode, op.uid, op.gid, mtime)
		default:
			err = im.Put(op.path, bytes.NewReader(op.data), op.mode, op.uid, op.gid, mtime)
		}
		if err != nil {
			return err
		}
	}
	if len(ops) > 0 {
		if err := im.Commit(); err != nil {
			return err
		}
	}
	return im.Close()
}

// patchError makes err one line saying what a person typed: the clone's
// temporary name becomes NEW, and a journal that needs recovery names
// --replay.
func patchError(err error, tmp, out string) error {
	msg := err.Error()
	if tmp != "" {
		msg = strings.ReplaceAll(msg, tmp, out+" (the clone)")
	}
	if errors.Is(err, ext4patch.ErrNeedsRecovery) {
		msg += "; --replay replays it"
	}
	return oneLine(renamed{"patch: " + msg, err})
}

// sameFile reports whether paths a and b name one file, through
// symbolic links and hard links.
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// summary says what a patch changed, for the one line on stdout.
func summary(ops []patchOp) string {
	put, removed, grown := 0, 0, ""
	for _, op := range ops {
		switch {
		case op.grow > 0:
			grown = fmt.Sprintf(", grown to %d bytes", op.grow)
		case op.remove:
			removed++
		case !op.dir:
			put++
		}
	}
	if put+removed == 0 && grown == "" {
		return "nothing changed but the journal replayed, if it needed that"
	}
	return fmt.Sprintf("%d files put, %d removed%s", put, removed, grown)
}
