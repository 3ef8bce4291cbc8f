package imagefile

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
)

// TestDiskBudget: the budget of a real directory is below what is free
// there and above nothing.
func TestDiskBudget(t *testing.T) {
	dir := t.TempDir()
	if b, free := DiskBudget(dir), freeBytes(dir); b <= 0 || b > free {
		t.Errorf("DiskBudget(%s) = %d, free %d; want 0 < budget <= free", dir, b, free)
	}
}

// TestDecompressCanceled: a canceled decompression stops with the
// cancel's cause and leaves no temporary file; the control: the same
// stream decompresses when not canceled.
func TestDecompressCanceled(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	var z bytes.Buffer
	enc, err := NewZstdWriter(&z)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(bytes.Repeat([]byte{1}, 1<<20))
	enc.Close()
	f, size, closeRaw, err := Decompress(context.Background(), bytes.NewReader(z.Bytes()), "zstd")
	if err != nil || size != 1<<20 {
		t.Fatalf("Decompress = %d bytes, %v; want 1 MiB", size, err)
	}
	f.Close()
	closeRaw()
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stopped")
	cancel(stop)
	if _, _, _, err := Decompress(ctx, bytes.NewReader(z.Bytes()), "zstd"); !errors.Is(err, stop) {
		t.Errorf("Decompress canceled = %v, want %v", err, stop)
	}
	if left, _ := os.ReadDir(os.TempDir()); len(left) != 0 {
		t.Errorf("Decompress left %v in TMPDIR", left)
	}
}
