// Package ext4patch changes an existing ext4 image file in place: it puts
// regular files (content, mode, owner, mtime; missing parents made as
// root-owned 0755 directories) and directories with a mode and owner,
// replaces files and symlinks and removes
// files, symlinks and empty directories. Changes are staged in memory and
// land on Commit as one jbd2 transaction in the image's own journal, in
// the order the kernel uses (new blocks in place, every changed in-use
// metadata block through the log, the journal superblock as the commit
// point, then a checkpoint), so that after a crash at any write the image,
// once its journal is replayed by the kernel, by e2fsck or by Open with
// Options.Replay, is the old image or the new one.
//
// It patches what ext4img writes (4 KiB and 1 KiB blocks, metadata_csum or
// not, htree directories, shared xattr blocks, hard links) and what
// mke2fs -t ext4 makes (64bit, resize_inode, flex_bg, signed directory
// hash). A directory takes a new entry in place when a block (or, in an
// htree, the leaf of its hash) has room; otherwise the whole directory is
// rewritten into new blocks with internal/ext4dir, as ext4img would write
// it. Blocks are taken only where the image before the patch had none in
// use, so nothing the old image references is overwritten before the
// commit.
//
// Open takes an advisory lock (an OFD lock on Linux, as QEMU takes with
// file.locking=on; flock elsewhere) and refuses, with one line naming
// it and without writing anything: features it cannot patch safely
// (inline_data, encrypt, casefold, bigalloc, meta_bg, MMP, sparse_super2,
// quota, gdt_csum without metadata_csum, unknown ones), an orphan list, an
// error state, an external or fast-commit journal, and a journal that
// needs recovery (unless Options.Replay): that is also what an image a
// running VM has mounted looks like.
//
// Images without a journal are refused unless Options.AllowNoJournal: the
// same order is kept (new blocks, a sync, then the metadata in place, a
// sync), but a crash in between can leave a half-applied patch for e2fsck
// to repair. A patch whose changed metadata does not fit the journal's
// log is refused at Commit before anything is written.
//
// Grow adds block groups at the end (see its documentation), within the
// reserved GDT blocks of the resize inode: ext4img reserves for 64 times
// an image's size, mke2fs for 1024 times.
//
// Left out on purpose: growing past the reserve (that would move
// metadata or need meta_bg), xattrs, hard links, devices, FIFOs and
// sockets as new entries, renames, hash trees of three levels (large_dir),
// directories hashed with TEA or the legacy hash (refused when they need
// an entry), and content that is sparse: every block of a new file is
// written. A file's content is held in memory until Commit.
package ext4patch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4fs"
	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// Options control Open. The zero value refuses a journal that needs
// recovery and an image without a journal.
type Options struct {
	// Replay replays a journal that needs recovery before anything else,
	// as the kernel would at mount. Only for an image no VM has attached:
	// a running guest's journal looks exactly like that.
	Replay bool

	// AllowNoJournal patches an image without a journal, in place and
	// without crash safety (see the package documentation).
	AllowNoJournal bool

	// Time is the change time of what a patch changes (directories
	// entered or left, replaced files' ctime) and the deletion time of
	// removed inodes; zero is the superblock's last write time. The clock
	// is never read.
	Time time.Time
}

// ErrNeedsRecovery is the refusal of a journal that needs recovery
// without Options.Replay: a caller can offer its own way to replay.
var ErrNeedsRecovery = errors.New("the journal needs recovery")

// file is what the patcher needs of the image file: tests put a wrapper
// in between that fails every write after the k-th.
type file interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Truncate(size int64) error
}

// Image is an ext4 image opened for patching. Its methods are not safe
// for concurrent use.
type Image struct {
	f        file
	osf      *os.File // nil when opened over a file of the tests
	name     string
	opts     Options
	size     int64    // as staged: a grow's size before Commit extends the file
	diskSize int64    // the file's size
	state             // the filesystem as staged, and as on disk
	jnl      *journal // nil without a journal
	broken   bool     // a commit failed part way
}

// Open opens the image file at path for patching; Close releases it.
func Open(path string, opts Options) (*Image, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("opening image: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("opening image %s: %s, not a regular file", path, unixmode.Kind(fi.Mode()))
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("opening image: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking image %s: %w", path, err)
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("opening image %s: not a regular file", path)
	}
	im, err := open(f, path, fi.Size(), opts)
	if err != nil {
		unlockFile(f)
		f.Close()
		return nil, err
	}
	im.osf = f
	return im, nil
}

// Close releases the image and its lock; staged changes not committed
// are dropped.
func (im *Image) Close() error {
	if im.osf == nil {
		return nil
	}
	unlockFile(im.osf)
	err := im.osf.Close()
	im.osf = nil
	return err
}

// open reads and checks the image in f, replaying its journal when asked.
func open(f file, name string, size int64, opts Options) (*Image, error) {
	im := &Image{f: f, name: name, opts: opts, size: size, diskSize: size}
	if err := im.load(); err != nil {
		return nil, fmt.Errorf("opening image %s: %w", name, err)
	}
	if err := im.checkFeatures(); err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	if im.sb.FeatureCompat&ext4format.CompatHasJournal != 0 {
		j, err := im.openJournal()
		if err != nil {
			return nil, fmt.Errorf("image %s: journal: %w", name, err)
		}
		im.jnl = j
		if j.needsRecovery() || im.sb.FeatureIncompat&ext4format.IncompatRecover != 0 {
			if !opts.Replay {
				return nil, fmt.Errorf("image %s: %w: a VM may have it mounted, or one crashed (replay only when none has it attached)", name, ErrNeedsRecovery)
			}
			if err := im.replay(); err != nil {
				return nil, fmt.Errorf("image %s: replaying the journal: %w", name, err)
			}
			if err := im.load(); err != nil {
				return nil, fmt.Errorf("opening image %s after replay: %w", name, err)
			}
		}
	} else if !opts.AllowNoJournal {
		return nil, fmt.Errorf("image %s has no journal: a patch could not be crash-safe (allow it explicitly)", name)
	}
	if im.sb.State&2 != 0 { // EXT2_ERROR_FS
		return nil, fmt.Errorf("image %s: the filesystem has errors (run e2fsck)", name)
	}
	if _, err := ext4fs.Open(im.view(), im.size); err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	return im, nil
}

// checkFeatures refuses what the patcher cannot change safely.
func (im *Image) checkFeatures() error {
	sb := &im.sb
	const incompatOK = ext4format.IncompatFiletype | ext4format.IncompatRecover | ext4format.IncompatExtents |
		ext4format.Incompat64bit | ext4format.IncompatFlexBG | ext4format.IncompatCsumSeed
	const roOK = ext4format.RoCompatSparseSuper | ext4format.RoCompatLargeFile | ext4format.RoCompatHugeFile |
		ext4format.RoCompatDirNlink | ext4format.RoCompatExtraIsize | ext4format.RoCompatMetadataCsum | ext4format.RoCompatGdtCsum
	names := []struct {
		set  bool
		name string
	}{
		{sb.FeatureIncompat&ext4format.IncompatInlineData != 0, "inline_data"},
		{sb.FeatureIncompat&ext4format.IncompatEncrypt != 0, "encrypt"},
		{sb.FeatureIncompat&ext4format.IncompatCasefold != 0, "casefold"},
		{sb.FeatureRoCompat&ext4format.RoCompatBigalloc != 0, "bigalloc"},
		{sb.FeatureIncompat&ext4format.IncompatMetaBG != 0, "meta_bg"},
		{sb.FeatureIncompat&ext4format.IncompatMMP != 0, "mmp"},
		{sb.FeatureCompat&ext4format.CompatSparseSuper2 != 0, "sparse_super2"},
		{sb.FeatureCompat&ext4format.CompatFastCommit != 0, "fast_commit"},
		{sb.FeatureIncompat&ext4format.IncompatJournalDev != 0 || (sb.FeatureCompat&ext4format.CompatHasJournal != 0 && sb.JournalInum == 0), "an external journal"},
		{sb.FeatureRoCompat&(ext4format.RoCompatQuota|ext4format.RoCompatProject) != 0, "quota"},
		{sb.FeatureRoCompat&ext4format.RoCompatOrphanPresent != 0 || sb.LastOrphan != 0, "an orphan list (inodes deleted while open: a VM may have it mounted)"},
		{sb.FeatureRoCompat&ext4format.RoCompatGdtCsum != 0 && !im.csum, "uninit_bg (gdt_csum) without metadata_csum"},
		{sb.FeatureIncompat&^incompatOK != 0, fmt.Sprintf("unknown incompatible features %#x", sb.FeatureIncompat&^incompatOK)},
		{sb.FeatureRoCompat&^roOK != 0, fmt.Sprintf("unknown read-only features %#x", sb.FeatureRoCompat&^roOK)},
		{sb.FeatureIncompat&ext4format.IncompatExtents == 0, "no extents (ext2/ext3)"},
	}
	for _, n := range names {
		if n.set {
			return fmt.Errorf("cannot patch a filesystem with %s", n.name)
		}
	}
	if sb.ErrorCount != 0 || sb.FirstErrorTime != 0 {
		return errors.New("the filesystem has recorded errors (s_error_count; run e2fsck)")
	}
	return nil
}

// now is Options.Time, or the superblock's last write time.
func (im *Image) now() time.Time {
	if !im.opts.Time.IsZero() {
		return im.opts.Time
	}
	return time.Unix(int64(im.sb.Wtime), 0)
}
