package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/files"
	"github.com/rootfs-synth/rootfs-synth/internal/imagefile"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// Defaults of the build, as the shell builder it replaces had them.
const (
	defaultBranch    = "v3.23"
	defaultMirror    = "https://dl-cdn.alpinelinux.org/alpine"
	defaultImageName = "alpine-agentic.ext4"

	// noShrinkHeadroomBytes and noShrinkHeadroomInodes are the free space
	// of an image built with --no-shrink: what the shell builder's
	// over-allocation left before it shrank the image. Free blocks are
	// holes in the sparse file, so they cost no disk space.
	noShrinkHeadroomBytes  = 1 << 30
	noShrinkHeadroomInodes = 65536
)

// mirrorRepositories are the repositories of a mirror for a branch, in
// the order apk prefers them.
var mirrorRepositories = []string{"main", "community"}

// buildFlags are the flags of `rootfs-synth [flags]`: the shell builder's,
// then ours.
func buildFlags() []cli.Flag {
	flags := append(selectionFlags(),
		&cli.BoolFlag{
			Name: "no-shrink",
			Usage: fmt.Sprintf("do not right-size the image: keep %d GiB of free blocks and %d free inodes "+
				"(holes in the sparse file, so no disk space); default: the tree plus %d MiB and %d inodes",
				noShrinkHeadroomBytes>>30, noShrinkHeadroomInodes, ext4img.DefaultHeadroomBytes>>20, ext4img.DefaultHeadroomInodes),
		},
		&cli.StringFlag{
			Name:  "image-name",
			Usage: "image file `NAME` under ~/.sbx/images (the directory is created)",
			Value: defaultImageName,
		},
		&cli.StringFlag{
			Name:    "output",
			Aliases: []string{"o"},
			Usage: "image `FILE` to write instead of ~/.sbx/images/NAME, replaced atomically; " +
				"a name ending in .zst or .xz writes a compressed image",
		},
		&cli.GenericFlag{
			Name:  "files",
			Value: &lineList{},
			Usage: "overlay the files of `DIR` on the image (repeatable, in order, after the built-in sandbox files)",
		},
		&cli.StringFlag{Name: "size", Usage: "image `SIZE` in bytes, or with K, M, G or T (powers of 1024); default: fit the tree"},
		&cli.BoolFlag{Name: "no-journal", Usage: "leave out the ext4 journal"},
		&cli.StringFlag{Name: "report", Usage: "write the JSON build report to `FILE` (usable as --lock later)"},
		&cli.StringFlag{Name: "authorized-keys", Usage: "install `FILE` as /root/.ssh/authorized_keys"},
		&cli.StringFlag{Name: "hostname", Usage: "write `NAME` to /etc/hostname"},
		&cli.BoolFlag{Name: "strict", Usage: "fail when a package script or trigger could not be reproduced statically"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print errors only"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log every package and step"},
	)
	return flags
}

// builder holds everything one build needs, read from the flags before
// any work starts, so that bad input fails before anything is fetched.
type builder struct {
	sel      *selection
	client   *apk.Client
	storeDir string
	output   string
	sudo     *owner // give created files to this user (run under sudo)

	imageOpts      ext4img.Options
	overlays       []fs.FS
	sourceDate     time.Time
	authorizedKeys []byte
	hostname       string
	rootShell      string // root's login shell: the session-env wrapper of the built-in files
	strict         bool
	reportPath     string

	ui     *ui
	stdout io.Writer // the closing summary
	phases []PhaseReport

	// provisionTree is provision.Provision; tests of the other steps
	// give a stand-in.
	provisionTree func(context.Context, provision.Options) (*provision.Result, error)
}

// runBuild is the action of `rootfs-synth [flags]`.
func runBuild(cCtx *cli.Context) error {
	if cCtx.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("unexpected argument %q: the build takes flags only (commands: %s)",
			cCtx.Args().First(), strings.Join(commandNames(cCtx.App), ", ")), 2)
	}
	ctx := cCtx.Context // canceled by a signal (main's interruptContext)
	b, err := newBuilder(cCtx)
	if err != nil {
		return oneLine(err)
	}
	err = build(ctx, b)
	b.ui.close()
	if cause := context.Cause(ctx); cause != nil && err != nil {
		return fmt.Errorf("%w; no image written", cause)
	}
	return oneLine(err)
}

// oneLine makes err print as one line: an errors.Join (the indexes of
// several repositories failing at once) puts each error on a line of its
// own, and a person reading a terminal or a CI log wants the one line
// that says what went wrong.
func oneLine(err error) error {
	if err == nil || !strings.Contains(err.Error(), "\n") {
		return err
	}
	return oneLineError{err}
}

type oneLineError struct{ err error }

// Error joins the lines, trimmed: after a line ending in ":" (the
// solver's "unable to select packages:") with a space, otherwise with "; ".
func (e oneLineError) Error() string {
	var b strings.Builder
	for _, l := range strings.Split(e.err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(l)
	}
	return b.String()
}
func (e oneLineError) Unwrap() error { return e.err }

func commandNames(app *cli.App) []string {
	var names []string
	for _, c := range app.Commands {
		if !c.Hidden && c.Name != "help" {
			names = append(names, c.Name)
		}
	}
	return names
}

// interruptContext is canceled by SIGINT, SIGTERM or SIGHUP, with a cause
// naming the signal; every step stops at its next check and removes what
// it had begun.
func interruptContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		select {
		case s := <-sigs:
			// A second signal gets the default action: a person pressing
			// Ctrl-C again wants out now, cleanup or not.
			signal.Stop(sigs)
			cancel(fmt.Errorf("interrupted by %s", signalName(s)))
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(sigs); cancel(nil) }
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// newBuilder reads and checks the flags.
func newBuilder(cCtx *cli.Context) (*builder, error) {
	b := &builder{
		ui:         newUI(cCtx.App.ErrWriter, cCtx.Bool("quiet"), cCtx.Bool("verbose")),
		stdout:     cCtx.App.Writer,
		hostname:   cCtx.String("hostname"),
		strict:     cCtx.Bool("strict"),
		reportPath: cCtx.String("report"),
		imageOpts:  ext4img.Options{NoJournal: cCtx.Bool("no-journal")},

		provisionTree: provision.Provision,
	}
	// Flag-only checks first: a usage error must not wait for anything.
	if err := checkHostname(b.hostname); err != nil {
		return nil, err
	}
	var err error
	if b.output, err = outputPath(cCtx); err != nil {
		return nil, err
	}
	if b.reportPath != "" && sameFile(b.reportPath, b.output) {
		return nil, usageError("--report %q is the image (%q): give the report a file of its own", b.reportPath, b.output)
	}
	if s := cCtx.String("size"); s != "" {
		if b.imageOpts.Size, err = parseSize(s); err != nil {
			return nil, usageError("parsing --size: %v", err)
		}
	}
	if b.sel, err = newSelection(cCtx); err != nil {
		return nil, err
	}
	if b.client, err = b.sel.client(cCtx, b.ui.logger()); err != nil {
		return nil, err
	}
	b.client.Progress = b.ui.download
	b.storeDir = filepath.Join(b.client.CacheDir, "unpacked")

	if cCtx.Bool("no-shrink") && b.imageOpts.Size == 0 {
		b.imageOpts.HeadroomBlocks = noShrinkHeadroomBytes / 4096
		b.imageOpts.HeadroomInodes = noShrinkHeadroomInodes
	}
	if b.sourceDate, err = sourceDateEpoch(); err != nil {
		return nil, err
	}
	if b.sourceDate.IsZero() && b.sel.lock != nil && b.sel.lock.SourceDateEpoch > 0 {
		b.sourceDate = time.Unix(b.sel.lock.SourceDateEpoch, 0)
	}
	b.overlays = []fs.FS{files.FS()}
	b.rootShell = files.RootShell
	for _, dir := range cCtx.Generic("files").(*lineList).values {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("reading --files directory: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("reading --files directory: %s is not a directory", dir)
		}
		b.overlays = append(b.overlays, filesDir{os.DirFS(dir).(fs.ReadLinkFS), dir})
	}
	if f := cCtx.String("authorized-keys"); f != "" {
		if b.authorizedKeys, err = readFlagFile("--authorized-keys", f, maxAuthorizedKeysSize); err != nil {
			return nil, err
		}
	}
	if b.sudo, err = sudoOwner(); err != nil {
		return nil, err
	}
	if err := b.prepareOutputDir(); err != nil {
		return nil, err
	}
	if b.reportPath != "" {
		// Checked now like the output, so that a report that cannot be
		// written fails before the work, not after it.
		if err := b.mkdirAll(filepath.Dir(b.reportPath)); err != nil {
			return nil, fmt.Errorf("writing report %s: %w", b.reportPath, err)
		}
		if err := checkOutputFile("--report", b.reportPath); err != nil {
			return nil, err
		}
		if err := probeWritable(filepath.Dir(b.reportPath), b.reportPath); err != nil {
			return nil, fmt.Errorf("writing report %s: %w", b.reportPath, err)
		}
		// Again now that both directories exist: through a link that
		// dangled before they were made, both may name one file.
		if sameFile(b.reportPath, b.output) {
			return nil, usageError("--report %q is the image (%q): give the report a file of its own", b.reportPath, b.output)
		}
	}
	return b, nil
}

// checkHostname refuses a --hostname the guest's hostname(1) would: it
// must be dot-separated labels of letters, digits and inner hyphens, at
// most 63 bytes each and 253 in all (RFC 1123). "" means none.
func checkHostname(h string) error {
	if h == "" {
		return nil
	}
	bad := len(h) > 253
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			bad = true
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				bad = true
			}
		}
	}
	if bad {
		return cli.Exit(fmt.Sprintf("--hostname %q: want letters, digits and hyphens in dot-separated labels (RFC 1123)", h), 2)
	}
	return nil
}

// outputPath is -o, or --image-name under ~/.sbx/images.
func outputPath(cCtx *cli.Context) (string, error) {
	if o := cCtx.String("output"); o != "" {
		if cCtx.IsSet("image-name") {
			return "", cli.Exit("give -o/--output or --image-name, not both", 2)
		}
		return filepath.Abs(o)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the home directory for ~/.sbx/images (give -o): %w", err)
	}
	return imagePath(home, cCtx.String("image-name"))
}

// sameFile reports whether paths a and b name one file: the same name in
// the same directory as the kernel resolves it (symlinks, and ".." after
// them), or two names of one existing file (a symlink to it, a hard link).
func sameFile(a, b string) bool {
	if resolveDir(a) == resolveDir(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// pathSeparators are what ends a directory in a path: '/' everywhere, and
// the OS's own.
const pathSeparators = "/" + string(filepath.Separator)

// resolveDir is p with its directory resolved as the kernel would, when
// the directory exists: not filepath.Dir or Abs, which clean "link/.." away
// as text where the kernel goes up from the link's target.
func resolveDir(p string) string {
	dir, base := ".", p
	if i := strings.LastIndexAny(p, pathSeparators); i >= 0 {
		dir, base = p[:i+1], p[i+1:]
	}
	if !filepath.IsAbs(dir) {
		wd, err := os.Getwd()
		if err != nil {
			return p
		}
		dir = wd + string(filepath.Separator) + dir
	}
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		return filepath.Join(r, base)
	}
	return filepath.Clean(dir + string(filepath.Separator) + base)
}

// imagePath is where --image-name puts the image: the shell builder's
// ~/.sbx/images/NAME, with the home directory and separators of the host.
func imagePath(home, name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || filepath.Base(name) != name || filepath.VolumeName(name) != "" {
		return "", cli.Exit(fmt.Sprintf("--image-name %q: want a file name (for a path, use -o)", name), 2)
	}
	return filepath.Join(home, ".sbx", "images", name), nil
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH; zero when unset.
func sourceDateEpoch() (time.Time, error) {
	s, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || s == "" {
		return time.Time{}, nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec < 0 {
		return time.Time{}, fmt.Errorf("parsing SOURCE_DATE_EPOCH %q: want seconds since 1970", s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

// prepareOutputDir creates the output's directory and proves it writable
// before anything is fetched, so an unwritable target fails in a second,
// not after the downloads.
func (b *builder) prepareOutputDir() error {
	dir := filepath.Dir(b.output)
	if err := b.mkdirAll(dir); err != nil {
		return fmt.Errorf("creating the output directory: %w", err)
	}
	// A regular file or nothing: a symlink, device node, directory or
	// FIFO is refused, never replaced (as mkfs does).
	if err := imagefile.Check(b.output); err != nil {
		return err
	}
	if err := probeWritable(dir, b.output); err != nil {
		return fmt.Errorf("writing image %s: %w", b.output, err)
	}
	return nil
}

// mkdirAll creates dir and its missing parents, owned by the invoking
// user when run under sudo.
func (b *builder) mkdirAll(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || filepath.Dir(d) == d {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, d := range missing {
		if err := b.sudo.chown(d); err != nil {
			return err
		}
	}
	return nil
}

// owner is a user to give created files to.
type owner struct{ uid, gid int }

// sudoOwner returns the user who ran `sudo rootfs-synth`, so that, as
// with the shell builder, ~/.sbx/images and the image belong to them; nil
// when not run as root under sudo.
func sudoOwner() (*owner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, g := os.Getenv("SUDO_UID"), os.Getenv("SUDO_GID")
	if u == "" || g == "" {
		return nil, nil
	}
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("reading SUDO_UID/SUDO_GID %q/%q: want numbers", u, g)
	}
	return &owner{uid, gid}, nil
}

func (o *owner) chown(path string) error {
	if o == nil {
		return nil
	}
	return os.Lchown(path, o.uid, o.gid)
}

// filesDir is a --files directory, named so in provision's errors.
type filesDir struct {
	fs.ReadLinkFS
	dir string
}

func (d filesDir) String() string { return "--files " + d.dir }
