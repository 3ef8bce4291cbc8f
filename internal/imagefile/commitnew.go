package imagefile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// CommitNew is Commit for a target that must not exist: it links the
// staged file to the target's name, which fails (matching fs.ErrExist)
// when there is anything by that name, then removes the temporary name.
// Unlike a check followed by a rename, nothing that appears in between is
// replaced.
func (s *Staged) CommitNew(ctx context.Context) error {
	if ctx.Err() != nil {
		return fmt.Errorf("writing %s: %w", s.target, context.Cause(ctx))
	}
	if err := os.Link(s.tmp, s.target); err != nil {
		if le, ok := err.(*os.LinkError); ok {
			err = le.Err // the temporary name means nothing to the caller
		}
		return fmt.Errorf("writing %s: %w", s.target, err)
	}
	s.committed = true
	os.Remove(s.tmp)
	syncDir(filepath.Dir(s.target))
	return nil
}
