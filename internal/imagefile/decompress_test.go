package imagefile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestCopySparseBudget: data past the budget is a BudgetError, zeros
// (holes) cost nothing; the control: within the budget it is copied.
func TestCopySparseBudget(t *testing.T) {
	stream := append(make([]byte, 1<<20), bytes.Repeat([]byte{1}, 8192)...)
	for _, tt := range []struct {
		budget int64
		ok     bool
	}{{8192, true}, {8191, false}} {
		f, err := os.Create(filepath.Join(t.TempDir(), "raw"))
		if err != nil {
			t.Fatal(err)
		}
		n, err := copySparse(f, bytes.NewReader(stream), tt.budget)
		f.Close()
		var be *BudgetError
		if tt.ok && (err != nil || n != int64(len(stream))) || !tt.ok && !errors.As(err, &be) {
			t.Errorf("copySparse of 8 KiB of data after 1 MiB of zeros, budget %d = %d, %v; want ok %v, else a BudgetError", tt.budget, n, err, tt.ok)
		}
	}
}

// TestDiskBudget: the budget of a real directory is below what is free
// there and above nothing.
func TestDiskBudget(t *testing.T) {
	dir := t.TempDir()
	if b, free := DiskBudget(dir), freeBytes(dir); b <= 0 || b > free {
		t.Errorf("DiskBudget(%s) = %d, free %d; want 0 < budget <= free", dir, b, free)
	}
}
