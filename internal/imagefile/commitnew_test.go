package imagefile

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCommitNew: CommitNew puts a staged file at a free name, and refuses
// a name taken meanwhile (after Stage's check), leaving what is there
// and no temporary file.
func TestCommitNew(t *testing.T) {
	for _, taken := range []bool{false, true} {
		dir := t.TempDir()
		target := filepath.Join(dir, "starter.yaml")
		s, err := Stage(context.Background(), target, Options{}, func(w io.WriteSeeker) error {
			_, err := io.WriteString(w, "new\n")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if taken {
			if err := os.WriteFile(target, []byte("mine\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		err = s.CommitNew(context.Background())
		s.Discard()
		got, _ := os.ReadFile(target)
		ents, _ := os.ReadDir(dir)
		switch {
		case taken && (!errors.Is(err, fs.ErrExist) || string(got) != "mine\n" || len(ents) != 1):
			t.Errorf("CommitNew over a file = %v, target %q, %d entries; want fs.ErrExist, the file kept, nothing else", err, got, len(ents))
		case !taken && (err != nil || string(got) != "new\n" || len(ents) != 1):
			t.Errorf("CommitNew = %v, target %q, %d entries; want the staged content alone", err, got, len(ents))
		}
	}
}
