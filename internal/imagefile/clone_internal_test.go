//go:build linux

package imagefile

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCopyZeroHoles: the copy through memory (sparseCopy's path where the
// kernel cannot copy) reads as the source and leaves a written block of
// zeros as a hole.
func TestCopyZeroHoles(t *testing.T) {
	dir := t.TempDir()
	want := append(append(bytes.Repeat([]byte("a"), 4096), make([]byte, 1<<20)...), "tail"...)
	src, err := os.Create(filepath.Join(dir, "src"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Write(want); err != nil {
		t.Fatal(err)
	}
	dst, err := os.Create(filepath.Join(dir, "dst"))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := copyZeroHoles(context.Background(), dst, src, dataRange{0, int64(len(want))}, make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("copyZeroHoles: %d bytes differing from the source's %d", len(got), len(want))
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dst.Name(), &st); err != nil {
		t.Fatal(err)
	}
	if a := st.Blocks * 512; a > 64<<10 {
		t.Errorf("copyZeroHoles allocated %d bytes, want the 1 MiB of zeros left as a hole", a)
	}
}
