package e2etest

import (
	"crypto/sha256"
	"encoding/hex"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/ext4check"
)

// permOf reads the permission bits (with setuid 04000, setgid 02000 and
// sticky 01000) and the type letter of an `ls -l` mode string.
func permOf(mode string) (byte, uint32, bool) {
	if len(mode) != 10 {
		return 0, 0, false
	}
	var perm uint32
	for i, c := range mode[1:] {
		bit := uint32(1) << (8 - i)
		switch c {
		case 'r', 'w', 'x':
			perm |= bit
		case 's', 't':
			perm |= bit
			fallthrough
		case 'S', 'T':
			perm |= map[int]uint32{2: 0o4000, 5: 0o2000, 8: 0o1000}[i]
		case '-':
		default:
			return 0, 0, false
		}
	}
	t := map[byte]byte{'-': 'f', 'd': 'd', 'l': 'l', 'c': 'c', 'b': 'b', 'p': 'p', 's': 's'}[mode[0]]
	return t, perm, t != 0
}

// checkLsCat: `rootfs-synth ls -R` lists every path debugfs sees in img
// with debugfs's type, mode and owner, and `cat` gives the bytes debugfs
// reads for every regular file.
func checkLsCat(t *testing.T, bin, img string) {
	t.Helper()
	want, err := ext4check.ReadImage(t, img)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "ls", "-R", img).Output()
	if err != nil {
		t.Fatalf("rootfs-synth ls -R %s: %v", img, err)
	}
	seen := map[string]bool{}
	dir := ""
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case line == "":
			continue
		case strings.HasSuffix(line, ":") && strings.HasPrefix(line, "/"):
			dir = strings.TrimSuffix(line, ":")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 8 {
			t.Errorf("ls -R line %q: too few fields", line)
			continue
		}
		name := f[7]
		if i := strings.Index(line, " -> "); i >= 0 {
			name = strings.Fields(line[:i])[len(strings.Fields(line[:i]))-1]
		}
		p := path.Join(dir, name)
		n := want[p]
		if n == nil {
			t.Errorf("ls -R lists %s, which debugfs does not see", p)
			continue
		}
		seen[p] = true
		typ, perm, ok := permOf(f[0])
		uid, _ := strconv.Atoi(f[2])
		gid, _ := strconv.Atoi(f[3])
		if !ok || typ != n.Type || perm != n.Perm || uint32(uid) != n.UID || uint32(gid) != n.GID {
			t.Errorf("ls -R: %s is %s %d:%d; debugfs: type %c mode %04o owner %d:%d", p, f[0], uid, gid, n.Type, n.Perm, n.UID, n.GID)
		}
		if n.Type == 'f' {
			data, err := exec.Command(bin, "cat", img, p).Output()
			sum := sha256.Sum256(data)
			if err != nil || hex.EncodeToString(sum[:]) != n.SHA256 {
				t.Errorf("rootfs-synth cat %s: %v, content differs from debugfs's", p, err)
			}
		}
	}
	for p := range want {
		if p != "/" && !seen[p] {
			t.Errorf("ls -R does not list %s", p)
		}
	}
	if len(seen) < 300 {
		t.Errorf("ls -R listed %d paths, want the whole image", len(seen))
	}
}
