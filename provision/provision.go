// Package provision turns resolved, verified Alpine packages into a
// complete root tree (a *rootfs.Tree) the way `apk add --initdb` would on a
// fresh root, without running a single package script.
//
// Provision installs the packages in install order: directories from the
// tar and implied parents, owners looked up by name in the tree's own
// /etc/passwd and /etc/group at the moment the package is installed, modes,
// mtimes, xattrs, hard links and symlinks; a path owned by two packages is
// settled by apk's replaces rules or refused. Then it does statically what
// the package scripts and triggers of Alpine's base would have done: system
// users and groups from `addgroup`/`adduser` lines (before that package's
// files get owners), busybox applet links from /etc/busybox-paths.d, the
// bbsuid links, `root:*` in /etc/shadow, shells registered with
// `add-shell` (kept in the /etc/shells the overlays leave), following the
// if, case, function and exit around such lines to tell what a script does
// on a fresh root. It writes apk's own database
// (lib/apk/db/installed, scripts.tar.gz, triggers, lock, etc/apk/*) so that
// `apk` works inside the guest, and lays the overlays (the static sandbox
// files, then the user's) over the result.
//
// File contents never enter the Go heap: a package is unpacked once into a
// content-addressed store of files (Options.StoreDir, keyed by the SHA-1 the
// package's checksum chain vouches for) plus a manifest of its entries, and
// the tree refers to the stored files. A warm build reads manifests only.
// The store is a build cache in the user's own directory (made 0700): a
// manifest is written only from a package that verified, and the bytes of
// a stored file are checked against the SHA-1 its manifest records
// whenever they are read, so corruption fails the build (a
// *StoreCorruptError), and the store forgets the package so that the next
// run unpacks it again from its verified .apk. The manifests themselves are
// trusted, so a store that another user could change (its directory, one
// above or in it, or a file in it of another user's or writable by others)
// is refused (internal/privdir).
//
// Left out on purpose: running scripts (nothing is executed, so any
// arch can be built on any host), scripts and triggers beyond what is
// listed in Result.Scripts as reproduced (each one not reproduced is
// reported with its reason, and stored for the guest's first boot when
// Options.DeferredScriptsDir is set; Options.Strict makes either an
// error), upgrades and removals (the root is always fresh), and the v3
// ADB database.
package provision

import (
	"context"
	"io/fs"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// Options describe one provisioning run. Packages, PackageFiles and
// StoreDir are required; the zero value of the rest works.
type Options struct {
	// Arch is the packages' architecture, written to /etc/apk/arch;
	// "" is apk.HostArch().
	Arch string

	// World is what was asked for, written sorted to /etc/apk/world.
	World []apk.Dependency

	// Packages are the solver's result in install order (apk.Solve), and
	// PackageFiles the verified .apk file of each, in the same order
	// (apk.Client.FetchPackages).
	Packages     []*apk.Package
	PackageFiles []string

	// StoreDir holds the unpacked-file store and the package manifests
	// (typically <cache>/unpacked). It is shared safely by concurrent runs.
	StoreDir string

	// Repositories are the lines of /etc/apk/repositories.
	Repositories []string

	// Keys are installed into /etc/apk/keys when the packages do not
	// install alpine-keys (which brings its own).
	Keys *apk.KeyRing

	// Time is SOURCE_DATE_EPOCH: no mtime in the tree is later, and the
	// files the build makes itself carry it. Zero means the newest build
	// time among the packages.
	Time time.Time

	// Overlays are laid over the tree last, in order (files.FS() first,
	// then the user's --files directories), each replacing what it
	// shares with the tree. Modes come from the FS's FileInfo; owners
	// too when its Sys() is a *rootfs.Node (a Tree's FS), and are
	// root:root otherwise: a host directory's files do not bring the
	// building user's uid into the guest.
	Overlays []fs.FS

	// AuthorizedKeys, when not empty, becomes /root/.ssh/authorized_keys
	// (0600, the directory 0700).
	AuthorizedKeys []byte

	// Hostname, when not empty, becomes /etc/hostname.
	Hostname string

	// RootShell, when not empty, becomes root's login shell in
	// /etc/passwd (files.RootShell: the wrapper that gives `ssh host cmd`
	// the session environment).
	RootShell string

	// Strict makes every script or trigger that was not reproduced an
	// error instead of a report entry (a deferred one too).
	Strict bool

	// DeferredScriptsDir, when not "", is where each script or trigger
	// that could not be reproduced is stored, unchanged, for the guest to
	// run once at first boot (files.DeferredScriptsDir, which sbx-init's
	// runner reads); its report entry says "deferred". Empty: such
	// scripts are only reported, "not-reproduced".
	DeferredScriptsDir string

	// Progress, when not nil, is called as the run advances, from one
	// goroutine at a time.
	Progress func(Event)
}

// Event reports progress. Phase is the step that runs: "unpack",
// "install", "triggers", "accounts", "database" and "overlay", in that
// order. While unpack, install and overlay run, Done of Total units
// (packages, overlays) are finished and Package names the package just
// finished, if any. When a step ends, one last Event of it carries only
// Phase and Elapsed, its wall time (never zero); Result.Steps keeps these.
type Event struct {
	Phase       string
	Done, Total int
	Package     string
	Elapsed     time.Duration
}

// Result is what Provision built: the tree, and provision's part of the
// build report. The records' JSON is the report's, which is also a lock
// that later builds read, so their fields and names do not change.
type Result struct {
	Tree *rootfs.Tree

	// Packages are the installed packages in install order, Scripts every
	// package script and trigger and what became of it, Users and Groups
	// the accounts scripts made.
	Packages      []PackageReport
	Scripts       []ScriptReport
	Users, Groups []AccountReport

	// Files and UnpackedBytes are the tree's size: its entries, and the
	// bytes of its regular files.
	Files         int
	UnpackedBytes int64

	// Steps are the Events that ended the steps, in order: the wall time
	// of each (for the report; nothing in the tree depends on them).
	Steps []Event

	// UUID and HashSeed for the image, derived from the installed
	// packages' checksums and everything else that went into the tree, so
	// that trees differing only in content get different UUIDs.
	UUID, HashSeed [16]byte

	// Time is the filesystem time the image should carry (Options.Time or
	// the newest package build time).
	Time time.Time

	store *store
}

// Close releases the stored package data the tree's contents are read
// from (the files stay in the store). The tree's Content functions must
// not be called after Close.
func (r *Result) Close() error {
	if r.store != nil {
		r.store.close()
	}
	return nil
}

// PackageReport is one installed package.
type PackageReport struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	Arch          string `json:"arch"`
	Checksum      string `json:"checksum"` // Q1 + base64 SHA-1 of the control member, as in C:
	Size          int64  `json:"size"`
	InstalledSize int64  `json:"installed_size"`
	Repository    string `json:"repository,omitempty"`
	DataHash      string `json:"datahash,omitempty"` // hex SHA-256 of the data member, as in .PKGINFO; set by the build, which has the .apk
}

// ScriptReport is one package script or trigger and what became of it.
// Status is "reproduced" (its effect is in the tree), "no-op" (it does
// nothing on a fresh root), "deferred" (not reproduced, stored for the
// guest to run at first boot: Options.DeferredScriptsDir) or
// "not-reproduced"; Why says why for the last three, Effects lists what
// was done (for a deferred script, what was done already).
type ScriptReport struct {
	Package string   `json:"package"`
	Script  string   `json:"script"` // ".pre-install", ".post-install", ".trigger"
	Status  string   `json:"status"`
	Effects []string `json:"effects,omitempty"`
	Why     string   `json:"why,omitempty"`
}

// AccountReport is a user or group a script created.
type AccountReport struct {
	Name    string `json:"name"`
	ID      uint32 `json:"id"`
	GID     uint32 `json:"gid,omitempty"`
	Home    string `json:"home,omitempty"`
	Shell   string `json:"shell,omitempty"`
	Package string `json:"package"`
}

// Provision builds the tree. On error nothing is left behind but complete,
// verified entries of the store.
func Provision(ctx context.Context, opts Options) (*Result, error) {
	return provision(ctx, opts)
}
