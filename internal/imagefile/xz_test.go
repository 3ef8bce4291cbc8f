package imagefile

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// xzTestImage is 1 MiB and a bit, in chunks of 64 KiB: text, zeros (two
// whole chunks, which share one stream), pseudo-random bytes, and a short
// last chunk.
func xzTestImage() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 300<<10; i++ {
		b.WriteString("a line of an image file, number ")
		b.WriteString(string(rune('0' + i%10)))
		b.WriteString("\n")
	}
	b.Truncate(300 << 10)
	b.Write(make([]byte, 200<<10))
	x := uint64(1)
	for range 500 << 10 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b.WriteByte(byte(x))
	}
	b.WriteString("the end")
	return b.Bytes()
}

const xzTestChunk = 64 << 10

// TestCompressXZDeterministic: the parallel xz output is the same bytes
// with one core and with four, and xz itself (-t and -d) and ulikunitz's
// reader read it back as the image. A negative control shows xz -t can
// say no.
func TestCompressXZDeterministic(t *testing.T) {
	img := xzTestImage()
	compressed := map[int][]byte{}
	for _, procs := range []int{1, 4} {
		prev := runtime.GOMAXPROCS(procs)
		var out bytes.Buffer
		var last int64
		err := compressXZ(context.Background(), &out, bytes.NewReader(img), int64(len(img)), xzTestChunk, func(n int64) {
			if n <= last {
				t.Errorf("progress went from %d to %d", last, n)
			}
			last = n
		})
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatalf("compressXZ with GOMAXPROCS %d: %v", procs, err)
		}
		if last != int64(len(img)) {
			t.Errorf("compressXZ with GOMAXPROCS %d: last progress %d, want %d", procs, last, len(img))
		}
		compressed[procs] = out.Bytes()
	}
	if !bytes.Equal(compressed[1], compressed[4]) {
		t.Fatalf("compressXZ = %d bytes with GOMAXPROCS 1, %d other bytes with 4, want the same bytes", len(compressed[1]), len(compressed[4]))
	}
	got := compressed[1]

	r, err := xz.NewReader(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	var back bytes.Buffer
	if _, err := back.ReadFrom(r); err != nil || !bytes.Equal(back.Bytes(), img) {
		t.Errorf("ulikunitz reads back %d bytes (%v), want the %d of the image", back.Len(), err, len(img))
	}

	xzTool := testenv.Tool(t, "xz")
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "img.xz"), filepath.Join(dir, "bad.xz")
	broken := bytes.Clone(got)
	broken[len(broken)/2] ^= 0x40
	for name, b := range map[string][]byte{good: got, bad: broken} {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(xzTool, "-t", good).CombinedOutput(); err != nil {
		t.Errorf("xz -t = %v\n%s", err, out)
	}
	if out, err := exec.Command(xzTool, "-t", bad).CombinedOutput(); err == nil {
		t.Errorf("xz -t of a damaged file = nil error, want one (negative control)\n%s", out)
	}
	out, err := exec.Command(xzTool, "-dc", good).Output()
	if err != nil || !bytes.Equal(out, img) {
		t.Errorf("xz -dc = %d bytes (%v), want the %d of the image", len(out), err, len(img))
	}
}

// TestCompressXZCancel: a context ended stops the compression with its
// cause.
func TestCompressXZCancel(t *testing.T) {
	img := xzTestImage()
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errorString("stopped")
	err := compressXZ(ctx, &bytes.Buffer{}, bytes.NewReader(img), int64(len(img)), xzTestChunk, func(int64) { cancel(stop) })
	if err != stop {
		t.Errorf("compressXZ canceled after its first chunk = %v, want %v", err, stop)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
