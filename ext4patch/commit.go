package ext4patch

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4format"
)

// errBroken is returned once a Commit failed part way: the image on disk
// is then the old or the new one only after a replay (Open with Replay).
var errBroken = errors.New("an earlier commit failed; reopen the image with Replay")

// Commit writes every staged change as one jbd2 transaction (see the
// package documentation for the order and the guarantee) and leaves the
// image clean: the log checkpointed, needs_recovery cleared. With nothing
// staged it writes nothing.
func (im *Image) Commit() error {
	if im.broken {
		return errBroken
	}
	if len(im.staged) == 0 {
		return nil
	}
	if err := im.commit(); err != nil {
		im.broken = true
		return fmt.Errorf("committing to %s: %w", im.name, err)
	}
	if err := im.load(); err != nil {
		im.broken = true
		return fmt.Errorf("rereading %s after the commit: %w", im.name, err)
	}
	return nil
}

func (im *Image) commit() error {
	if err := im.seal(); err != nil {
		return err
	}
	// Blocks the old image does not use are written in place first; every
	// other block goes through the log.
	var fresh, logged []blockWrite
	for _, nr := range slices.Sorted(maps.Keys(im.staged)) {
		used, err := im.usedBefore(nr)
		if err != nil {
			return err
		}
		if used {
			logged = append(logged, blockWrite{nr, im.staged[nr]})
		} else {
			fresh = append(fresh, blockWrite{nr, im.staged[nr]})
		}
	}
	if err := im.extend(); err != nil {
		return err
	}
	if im.jnl == nil {
		if err := im.writeBlocks(fresh); err != nil {
			return err
		}
		if err := im.f.Sync(); err != nil {
			return err
		}
		if err := im.writeBlocks(logged); err != nil {
			return err
		}
		return im.f.Sync()
	}
	// The superblock's logged image says needs_recovery, as a kernel's
	// does: replayed with it clear, the log would be wiped unreplayed.
	sbNr, sbOff := im.sbBlock()
	for i, w := range logged {
		if w.nr == sbNr {
			b := append([]byte(nil), w.data...)
			sb := im.sb
			sb.FeatureIncompat |= ext4format.IncompatRecover
			raw := b[sbOff:][:ext4format.SuperBlockSize]
			sb.Marshal(raw)
			if im.csum {
				sb.Checksum = ext4format.SuperBlockChecksum(raw)
				sb.Marshal(raw)
			}
			logged[i].data = b
		}
	}
	j := im.jnl
	seq := j.sb.Sequence + 1
	log, err := j.transaction(seq, logged, im.now())
	if err != nil {
		return err
	}
	jsbAt := int64(j.block(0)) * im.bs
	steps := []func() error{
		func() error { return im.writeBlocks(fresh) },
		func() error { return im.writeBlocks(log) },
		func() error { return im.setRecoverOnDisk(true) },                        // syncs everything so far
		func() error { return im.writeAt(j.superBlock(seq, j.sb.First), jsbAt) }, // the commit point
		im.f.Sync,
		func() error { return im.writeBlocks(logged) }, // checkpoint
		im.f.Sync,
		func() error { return im.writeAt(j.superBlock(seq+1, 0), jsbAt) },
		im.f.Sync,
		func() error { return im.setRecoverOnDisk(false) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// extend makes the file as long as a staged grow needs. Whatever lay past
// the old filesystem's end goes first: the new inode tables must read as
// zeros (ITABLE_ZEROED), and the old image ends at its last block anyway.
func (im *Image) extend() error {
	if im.size <= im.diskSize && !im.grown {
		return nil
	}
	if end := int64(im.oldBlocks) * im.bs; im.diskSize > end {
		if err := im.f.Truncate(end); err != nil {
			return err
		}
	}
	if err := im.f.Truncate(im.size); err != nil {
		return err
	}
	im.diskSize = im.size
	return nil
}

// writeBlocks writes ws (sorted or not), a run of consecutive blocks in
// one write.
func (im *Image) writeBlocks(ws []blockWrite) error {
	for i := 0; i < len(ws); {
		k := i + 1
		for k < len(ws) && ws[k].nr == ws[k-1].nr+1 {
			k++
		}
		buf := make([]byte, 0, (k-i)*int(im.bs))
		for _, w := range ws[i:k] {
			buf = append(buf, w.data...)
		}
		if err := im.writeAt(buf, int64(ws[i].nr)*im.bs); err != nil {
			return err
		}
		i = k
	}
	return nil
}

func (im *Image) writeAt(b []byte, off int64) error {
	_, err := im.f.WriteAt(b, off)
	return err
}
