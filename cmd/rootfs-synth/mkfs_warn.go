package main

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4img"
	"github.com/rootfs-synth/rootfs-synth/internal/hosttree"
)

// mkfs says on stderr when the image differs from the tree in a way the
// user did not ask for: one line per kind, with a count and the first
// path, so a tree of 80,000 odd files gives one line, not 80,000.

// warnings prints "rootfs-synth: warning: ..." lines.
type warnings struct{ w io.Writer }

func (w *warnings) printf(format string, args ...any) {
	fmt.Fprintf(w.w, "rootfs-synth: warning: "+format+"\n", args...)
}

// filesystemTime returns the time the superblock is stamped with (its
// write, mount-check and creation times, and the journal's): sde when
// SOURCE_DATE_EPOCH gave one, else the newest mtime in the tree but never
// after now, the build's start. A reader judges the superblock by its own
// clock (e2fsck asks "Superblock last write time is in the future. Fix?"),
// so one file from the future must not make the image look broken; the
// file keeps its mtime. The rule depends on now only for a tree holding
// such files, so a sane tree still gives the same image on every run.
func filesystemTime(t *hosttree.Summary, sde, now time.Time, warn *warnings) time.Time {
	now = now.Truncate(time.Second)
	if !sde.IsZero() {
		if sde.After(now) {
			warn.printf("SOURCE_DATE_EPOCH (%s) is after the build started (%s): e2fsck will want to fix the image's superblock times until then",
				sde.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
		return sde
	}
	if t.Future == 0 {
		return t.Newest
	}
	warn.printf("%d entries have an mtime after the build started (first: %s, %s): they keep it, but the filesystem's time is the build's start, %s (set SOURCE_DATE_EPOCH to choose)",
		t.Future, t.FirstFuture, t.FirstFutureTime.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	return now
}

// warnTrusted says that trusted.* xattrs may be missing: Linux lists them
// only to a process with CAP_SYS_ADMIN, so an ordinary user's listxattr
// leaves them out without an error. Only root can set them, so a tree
// that is all the user's own is very unlikely to hold any; entries of
// other users (an unpacked rootfs owned by root, say) may. "Root" is uid
// 0 here: a user namespace's root cannot list them either, which this
// does not detect.
func warnTrusted(t *hosttree.Summary, uid int, warn *warnings) {
	if runtime.GOOS != "linux" || uid <= 0 || t.Foreign == 0 {
		return
	}
	warn.printf("running as uid %d, not root: %d entries belong to other users (first: %s); trusted.* xattrs are invisible to this user, so any they have are not copied",
		uid, t.Foreign, t.FirstForeign)
}

// warnClamped says how many mtimes ext4img moved into what ext4 and e2fsck
// accept (1901-12-13 to 2446-05-10, outside the 2310–2378 window e2fsck
// 1.47 rewrites; see ext4img.ClampTime).
func warnClamped(l *ext4img.Layout, warn *warnings) {
	if l.ClampedTimes == 0 {
		return
	}
	warn.printf("%d entries have an mtime ext4 cannot keep (first: /%s): it is clamped to the nearest time ext4 and e2fsck accept (see ext4img.ClampTime)",
		l.ClampedTimes, l.FirstClampedTime)
}
