// Package build builds an Alpine Linux ext4 root filesystem image for a
// Firecracker microVM, the whole of `rootfs-synth [flags]` as a Go call:
// Run resolves a world (a profile, extra packages, or the exact packages
// of an earlier build's report) against a mirror's repositories, fetches
// and verifies the packages into a cache, provisions the root tree
// (package/provision) and writes it as an ext4 image (package/ext4img),
// through a temporary file renamed over Options.Output at the end. With
// Options.Report it also writes the build's JSON report, which a later
// build takes as its Options.Lock. The report names the image by its
// SHA-256 (ImageReport.Digest), and every image carries the report (less
// what is known only once it is written) at ReportPath. With Options.SBOM
// it also writes the image's SPDX bill of materials (package sbom).
//
// The zero Options build what the shell builder it replaces built: the
// balanced profile from Alpine v3.23's main and community on the official
// mirror, for the host's arch, into ~/.sbx/images/alpine-agentic.ext4.
// Options that cannot work fail, most before anything is fetched or
// created, with an error that matches ErrUsage; an *OptionError names the
// field (a lock that does not match its repositories is found only once
// their indexes are read).
//
// Run never prints: progress goes to Options.Progress, the library's
// warnings to Options.Logger, and what was built comes back as the Result.
// Reading files a person names (a profile file, keys, a lock) is the
// caller's: Options take their contents.
//
// Left out on purpose: SOURCE_DATE_EPOCH and the owner of the outputs
// under sudo are the caller's to turn into Options.Time and Options.Owner
// (the environment is read only for the defaults of the home and cache
// directories, and by the cache check, which trusts SUDO_UID's files under
// sudo: see internal/privdir); signals (cancel ctx); any image format but
// ext4.
package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/provision"
)

// Defaults of the zero Options, the shell builder's.
const (
	DefaultBranch    = "v3.23"
	DefaultMirror    = "https://dl-cdn.alpinelinux.org/alpine"
	DefaultImageName = "alpine-agentic.ext4" // under ~/.sbx/images

	// NoShrinkHeadroomBytes and NoShrinkHeadroomInodes are the free space
	// of an image built with Options.NoShrink: what the shell builder's
	// over-allocation left before it shrank the image. Free blocks are
	// holes in the sparse file, so they cost no disk space.
	NoShrinkHeadroomBytes  = 1 << 30
	NoShrinkHeadroomInodes = 65536
)

// Options say what to build, from where, and where to put it.
type Options struct {
	// What to install: a built-in profile (profiles.Names; "" is
	// profiles.Default, "none" is none) plus Packages, atoms as apk takes
	// them ("musl>=1.2", "foo@edge"). Lock instead builds exactly the
	// packages of an earlier build's report (ReadReport); it goes without
	// Profile and Packages. A report with Inputs also supplies the Options
	// it records that are left zero, and refuses those that differ (see
	// Inputs): the same image, or an error naming the input.
	Profile  string
	Packages []string
	Lock     *Report

	// Where from: the repositories <Branch>/main and <Branch>/community
	// of each of Mirrors (URLs or directories laid out as a mirror; later
	// ones are failovers; nil is DefaultMirror, ["none"] none), then
	// Repositories, as lines of /etc/apk/repositories ("@tag URL",
	// "URL main community"). Branch "" is DefaultBranch; Arch "" is the
	// host's (apk.HostArch), or the lock's.
	Branch       string
	Arch         string
	Mirrors      []string
	Repositories []string

	// GuestRepositories are the lines of the image's
	// /etc/apk/repositories ("@tag URL" lines too), which must serve
	// every tag the world pins; nil is the official mirror's main and
	// community for Branch, plus a line for each tag the world pins (the
	// tagged repository's URL, or its <branch>/<repo> on the official
	// mirror when it is on this machine). A mirror the build read from
	// is a detail of where it ran and is never baked in unless given here.
	GuestRepositories []string

	// Keys are trusted besides Alpine's own keys for the arch.
	// AllowUntrusted accepts indexes that are unsigned or signed by an
	// unknown key (whoever can change them chooses what gets installed).
	Keys           *apk.KeyRing
	AllowUntrusted bool

	// CacheDir caches indexes, packages and unpacked files; "" is
	// rootfs-synth under os.UserCacheDir. Offline never uses the network.
	// HTTP is the client for the network; nil is apk.Client's default.
	CacheDir string
	Offline  bool
	HTTP     *http.Client

	// Output is the image file; "" is DefaultImageName under
	// ~/.sbx/images. A name ending in .zst or .xz is written compressed.
	// Report, when not "", is where the JSON report goes; it must not be
	// Output. SBOM, when not "", is where the image's SPDX 2.3 JSON bill
	// of materials goes (package sbom; put in place after the image); it
	// must be neither. Owner, when not nil, gets the files and
	// directories the build creates (the user who ran the command under
	// sudo).
	Output string
	Report string
	SBOM   string
	Owner  *Owner

	// The image: Size fixes its size in bytes (0 fits the tree);
	// NoShrink keeps NoShrinkHeadroomBytes free instead of
	// ext4img.DefaultHeadroomBytes; NoJournal leaves out the journal.
	Size      int64
	NoShrink  bool
	NoJournal bool

	// The tree: Files are laid over it after the built-in sandbox files
	// (a file of theirs replaces a package's; an fs.FS with a String
	// method is named so in errors); AuthorizedKeys becomes
	// /root/.ssh/authorized_keys, Hostname /etc/hostname. Strict fails the
	// build when a package script or trigger could not be reproduced.
	Files          []fs.FS
	AuthorizedKeys []byte
	Hostname       string
	Strict         bool

	// NoDeferredScripts leaves out of the image the package scripts and
	// triggers that could not be reproduced, which are otherwise stored
	// for the guest to run once at first boot (files.DeferredScriptsDir;
	// the report says "deferred"): the image is then only what was built.
	NoDeferredScripts bool

	// Time caps every mtime and stamps the filesystem
	// (SOURCE_DATE_EPOCH); zero is the lock's, if any, else none.
	Time time.Time

	// Progress, when not nil, is called as the build goes (see Event),
	// from one goroutine at a time. Logger gets the warnings of the
	// libraries (a mirror failing over, ...); nil discards them.
	Progress func(Event)
	Logger   *slog.Logger
}

// Owner is a user to give created files to.
type Owner struct{ UID, GID int }

// Event is progress of a build. Phase is the step that runs: "resolve",
// "fetch", "provision" and "write", in that order. A phase begins with an
// Event carrying only Phase (and, for fetch, Total: the bytes of all its
// packages) and ends with one carrying Elapsed and its Stats; between
// them:
//   - fetch: Package (name-version) has Done of Total bytes (Cached: it
//     was in the cache before and is only verified);
//   - provision: Step is provision's (provision.Event), with Done of
//     Total packages or overlays, Package the one just finished, and
//     Elapsed at the step's end;
//   - write: Step is the image pipeline's ("image", then "compress" for
//     a .zst or .xz Output) with Done of Total bytes of the raw image.
//
// Retry, on an Event of provision's, is why the phase starts again: stored
// content found changed, so provision and write run once more.
type Event struct {
	Phase   string
	Step    string
	Package string
	Cached  bool
	Done    int64
	Total   int64
	Elapsed time.Duration
	Stats   *Stats
	Retry   error
}

// Stats are what a phase did, on the Event that ends it.
type Stats struct {
	Packages      int                      // resolve, fetch: packages resolved or fetched
	Repositories  int                      // resolve: repositories read
	Cached        int                      // fetch: packages found in the cache
	Bytes         int64                    // resolve: the packages' size; fetch: downloaded; provision: unpacked
	Files         int                      // provision: entries of the tree
	NotReproduced []provision.ScriptReport // provision: scripts and triggers not reproduced, nor deferred
	Deferred      []provision.ScriptReport // provision: those not reproduced, stored for the guest's first boot
	Path          string                   // write: the image
}

// Result is what Run built. Its Report is also in Options.Report, when
// that is set.
type Result struct {
	Report *Report
}

// ErrUsage is matched (errors.Is) by the errors of Options that cannot
// work as given, whatever the machine: a malformed atom, a branch that is
// not a name, a lock given with packages, a report naming the image.
var ErrUsage = errors.New("build: options cannot work")

// OptionError is an option that cannot work: Option names the Options
// field, Value its value when a string.
type OptionError struct {
	Option string
	Value  string
	Err    error
}

func (e *OptionError) Error() string {
	if e.Value != "" {
		return fmt.Sprintf("%s %q: %v", e.Option, e.Value, e.Err)
	}
	return e.Option + ": " + e.Err.Error()
}

func (e *OptionError) Unwrap() error { return e.Err }

// usage is an error that matches ErrUsage and says only its message.
type usage string

func (u usage) Error() string        { return string(u) }
func (u usage) Is(target error) bool { return target == ErrUsage }

func usagef(format string, args ...any) error { return usage(fmt.Sprintf(format, args...)) }

// Run builds the image that opts describe. The report, when asked for,
// goes into place before the image does; if the image then cannot
// follow, the old report is put back, so a failed build leaves both
// outputs as they were (directories it made for them stay). A cancelled
// ctx stops the build at its next check and leaves no temporary file; the
// error then wraps context.Cause(ctx).
func Run(ctx context.Context, opts Options) (*Result, error) {
	b, err := newBuilder(opts)
	if err != nil {
		return nil, err
	}
	rep, err := b.run(ctx)
	if err != nil {
		// Some steps (provision's) report a cancellation as
		// context.Canceled, not its cause.
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			return nil, fmt.Errorf("%w (%w)", cause, err)
		}
		return nil, err
	}
	return &Result{Report: rep}, nil
}
