package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"time"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/rootfs"
)

// Inputs are the Options of a build that shape the image's bytes, beside
// those the report has always held where older locks keep them (Arch,
// World, SourceDateEpoch). With them a lock
// (Options.Lock) supplies what the Options leave out and refuses what
// contradicts it, so that it rebuilds the same image or says which input
// differs. What a report cannot carry (an overlay's files, the authorized
// keys, a trusted key) it records by digest: those must be given again.
// Nothing in it depends on the host (an overlay's path does not count),
// so that the same build elsewhere records the same inputs.
type Inputs struct {
	Branch    string `json:"branch"`
	Hostname  string `json:"hostname,omitempty"`
	Size      int64  `json:"size,omitempty"`
	NoShrink  bool   `json:"no_shrink,omitempty"`
	NoJournal bool   `json:"no_journal,omitempty"`
	// NoDeferredScripts: the scripts not reproduced were left out, not
	// stored for the first boot.
	NoDeferredScripts bool     `json:"no_deferred_scripts,omitempty"`
	Files             []string `json:"files,omitempty"`           // digests of Options.Files, in order
	AuthorizedKeys    string   `json:"authorized_keys,omitempty"` // a digest
	Keys              []Digest `json:"keys,omitempty"`            // every trusted key, Alpine's too
	// GuestRepositories are the lines of the image's
	// /etc/apk/repositories; [] for an empty file, null when not recorded.
	GuestRepositories []string `json:"guest_repositories"`
}

// The lock's refusals: an input given that contradicts it, or one it
// needs left out, is a usage error (ErrUsage); content that differs from
// what it recorded (an overlay, keys) is not.

// Digest names a content and its digest, "sha256:<hex>".
type Digest struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// newInputs records opts; the overlays' digests come later (see
// overlayDigests), once the filesystem time is known.
func newInputs(opts Options, branch string, keys *apk.KeyRing) *Inputs {
	in := &Inputs{Branch: branch, Hostname: opts.Hostname, Size: opts.Size, NoShrink: opts.NoShrink, NoJournal: opts.NoJournal,
		NoDeferredScripts: opts.NoDeferredScripts}
	if len(opts.AuthorizedKeys) > 0 {
		in.AuthorizedKeys = sha256Digest(opts.AuthorizedKeys)
	}
	for _, name := range keys.Names() {
		in.Keys = append(in.Keys, Digest{name, sha256Digest(keys.PEM(name))})
	}
	return in
}

func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return formatDigest(sum[:])
}

func formatDigest(sum []byte) string { return "sha256:" + hex.EncodeToString(sum) }

// fromLock fills in the Options a lock with Inputs records and opts leave
// out, and refuses those that contradict it. A lock without Inputs (an
// older report) pins the packages only.
func fromLock(opts Options) (Options, error) {
	lock := opts.Lock
	if lock == nil || lock.Inputs == nil {
		return opts, nil
	}
	in := lock.Inputs
	differs := func(field string, got, want any) error {
		return &OptionError{Option: "Lock", Err: usagef("Options.%s %v differs from the lock's %v", field, got, want)}
	}
	if opts.Branch != "" && opts.Branch != in.Branch { // "": newSelection takes the lock's
		return opts, differs("Branch", fmt.Sprintf("%q", opts.Branch), fmt.Sprintf("%q", in.Branch))
	}
	switch {
	case opts.Hostname == "":
		opts.Hostname = in.Hostname
	case opts.Hostname != in.Hostname:
		return opts, differs("Hostname", fmt.Sprintf("%q", opts.Hostname), fmt.Sprintf("%q", in.Hostname))
	}
	switch {
	case opts.Size == 0:
		opts.Size = in.Size
	case opts.Size != in.Size:
		return opts, differs("Size", opts.Size, in.Size)
	}
	// A bool can only be given as true: false is "as the lock says".
	if opts.NoShrink && !in.NoShrink {
		return opts, differs("NoShrink", true, false)
	}
	if opts.NoJournal && !in.NoJournal {
		return opts, differs("NoJournal", true, false)
	}
	if opts.NoDeferredScripts && !in.NoDeferredScripts {
		return opts, differs("NoDeferredScripts", true, false)
	}
	opts.NoShrink, opts.NoJournal, opts.NoDeferredScripts = in.NoShrink, in.NoJournal, in.NoDeferredScripts
	if opts.GuestRepositories == nil { // else checkLockedGuest compares the lines they make
		opts.GuestRepositories = in.GuestRepositories
	}
	switch t := lock.SourceDateEpoch; {
	case opts.Time.IsZero():
		// newBuilder takes the lock's.
	case t == 0:
		return opts, &OptionError{Option: "Lock", Err: usagef("Options.Time %d is given; the lock's build had none", opts.Time.Unix())}
	case opts.Time.Unix() != t:
		return opts, differs("Time", opts.Time.Unix(), t)
	}
	given := ""
	if len(opts.AuthorizedKeys) > 0 {
		given = sha256Digest(opts.AuthorizedKeys)
	}
	switch {
	case given == in.AuthorizedKeys:
	case given == "":
		return opts, &OptionError{Option: "Lock", Err: usagef("the lock's Options.AuthorizedKeys (%s) are not given", in.AuthorizedKeys)}
	case in.AuthorizedKeys == "":
		return opts, &OptionError{Option: "Lock", Err: usagef("Options.AuthorizedKeys are given (%s); the lock has none", given)}
	default:
		return opts, &OptionError{Option: "Lock", Err: fmt.Errorf("Options.AuthorizedKeys differ from the lock's (%s vs %s)", given, in.AuthorizedKeys)}
	}
	if len(opts.Files) != len(in.Files) {
		return opts, &OptionError{Option: "Lock", Err: usagef("%d overlays are given (Options.Files), the lock has %d",
			len(opts.Files), len(in.Files))}
	}
	return opts, nil
}

// checkKeys refuses trusted keys that are not the lock's.
func checkKeys(lock *Report, mine []Digest) error {
	if lock == nil || lock.Inputs == nil {
		return nil
	}
	locked := make(map[string]string, len(lock.Inputs.Keys))
	for _, k := range lock.Inputs.Keys {
		locked[k.Name] = k.Digest
	}
	have := make(map[string]bool, len(mine))
	for _, k := range mine {
		have[k.Name] = true
		switch d, ok := locked[k.Name]; {
		case !ok:
			return &OptionError{Option: "Lock", Err: usagef("key %q (Options.Keys) is not in the lock", k.Name)}
		case d != k.Digest:
			return &OptionError{Option: "Lock", Err: fmt.Errorf("key %q differs from the lock's (%s vs %s)", k.Name, k.Digest, d)}
		}
	}
	for _, k := range lock.Inputs.Keys {
		if !have[k.Name] {
			return &OptionError{Option: "Lock", Err: usagef("the lock's key %q (%s) is not trusted: give it in Options.Keys", k.Name, k.Digest)}
		}
	}
	return nil
}

// checkLockedGuest refuses guest repositories (the lines of the image's
// /etc/apk/repositories) other than those of the lock's build.
func checkLockedGuest(lock *Report, mine []string) error {
	if lock == nil || lock.Inputs == nil || lock.Inputs.GuestRepositories == nil || slices.Equal(lock.Inputs.GuestRepositories, mine) {
		return nil
	}
	return &OptionError{Option: "Lock", Err: fmt.Errorf("the guest's repositories %q (Options.GuestRepositories) differ from the lock's %q",
		mine, lock.Inputs.GuestRepositories)}
}

// checkOverlays refuses overlays whose digests are not the lock's.
func checkOverlays(lock *Report, overlays []fs.FS, digests []string) error {
	if lock == nil || lock.Inputs == nil {
		return nil
	}
	for i, d := range digests { // as many as the lock's: see fromLock
		if want := lock.Inputs.Files[i]; d != want {
			return &OptionError{Option: "Lock", Err: fmt.Errorf("overlay %q differs from the lock's (%s vs %s)", overlayName(overlays[i], i), d, want)}
		}
	}
	return nil
}

// overlayDigests are the digests of overlays (Options.Files) as provision
// lays them over the tree at filesystem time t (see treeDigest).
func overlayDigests(overlays []fs.FS, t time.Time) ([]string, error) {
	var ds []string
	for i, o := range overlays {
		d, err := treeDigest(o, t)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", overlayName(o, i), err)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// overlayName is the i-th overlay's name: its String, or its place.
func overlayName(o fs.FS, i int) string {
	if s, ok := o.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("Options.Files[%d]", i)
}

// treeDigest is a digest of everything of fsys that reaches the image,
// as provision's overlay step takes it: each entry's path, the mode bits
// it keeps, its mtime as capped at t, its owner and extended attributes
// when the FS gives them (a rootfs.Tree's does), and a symlink's target or
// a file's content; in fs.WalkDir's lexical order. Not the root itself,
// which the overlay step leaves out too (the image's / is the image's).
func treeDigest(fsys fs.FS, t time.Time) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		mtime := fi.ModTime()
		if mtime.IsZero() || mtime.After(t) {
			mtime = t
		}
		fmt.Fprintf(h, "%q %d %d", p, uint32(mode), mtime.UnixNano())
		if n, ok := fi.Sys().(*rootfs.Node); ok {
			fmt.Fprintf(h, " owner %d:%d", n.UID, n.GID)
			for _, k := range slices.Sorted(maps.Keys(n.Xattrs)) {
				fmt.Fprintf(h, " xattr %q=%q", k, n.Xattrs[k])
			}
		}
		switch {
		case mode&fs.ModeSymlink != 0:
			target, err := fs.ReadLink(fsys, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, " -> %q", target)
		case mode.IsRegular():
			f, err := fsys.Open(p)
			if err != nil {
				return err
			}
			c := sha256.New()
			_, err = io.Copy(c, f)
			f.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(h, " %x", c.Sum(nil))
		}
		_, err = io.WriteString(h, "\n")
		return err
	})
	if err != nil {
		return "", err
	}
	return formatDigest(h.Sum(nil)), nil
}
