package vmtest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
	"github.com/rootfs-synth/rootfs-synth/internal/vmtest"
)

// TestFindMachineArch: FindMachine finds the aarch64 kernel, modules and
// busybox where .ci/arm64-guest puts them (a failure in CI when absent),
// refuses an arch it cannot boot, names the command that fetches what is
// missing, and refuses a busybox built for the wrong arch.
func TestFindMachineArch(t *testing.T) {
	m, err := vmtest.FindMachine(vmtest.Aarch64)
	switch {
	case err != nil && testenv.InCI():
		t.Fatal(err)
	case err != nil:
		t.Logf("no aarch64 machine here: %v", err)
	case m.Arch != vmtest.Aarch64 || !strings.HasPrefix(m.Kernel, vmtest.Arm64Dir()) || !strings.HasSuffix(m.Release, "-arm64"):
		t.Errorf("FindMachine(aarch64) = %+v, want the arm64 kernel below %s", m, vmtest.Arm64Dir())
	}

	if _, err := vmtest.FindMachine("riscv64"); err == nil || !strings.Contains(err.Error(), `"riscv64"`) {
		t.Errorf("FindMachine(riscv64) = %v, want an error naming the arch", err)
	}

	empty := t.TempDir()
	t.Setenv("ROOTFS_SYNTH_ARM64_DIR", empty)
	if _, err := vmtest.FindMachine(vmtest.Aarch64); err == nil || !strings.Contains(err.Error(), ".ci/arm64-guest") ||
		!strings.Contains(err.Error(), filepath.Join(empty, "bin/busybox")) {
		t.Errorf("FindMachine(aarch64) with an empty %s = %v, want the missing busybox and kernel with the command that fetches them", empty, err)
	}

	// The host's x86_64 busybox where the arm64 one belongs.
	host, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip(err)
	}
	wrong := t.TempDir()
	for name, data := range map[string][]byte{
		"bin/busybox": host, "boot/vmlinuz-6.1.0-1-cloud-arm64": []byte("kernel"),
		"lib/modules/6.1.0-1-cloud-arm64/modules.dep": nil,
	} {
		p := filepath.Join(wrong, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("ROOTFS_SYNTH_ARM64_DIR", wrong)
	if _, err := vmtest.FindMachine(vmtest.Aarch64); err == nil || !strings.Contains(err.Error(), "EM_X86_64") ||
		strings.Contains(err.Error(), "kernel") {
		t.Errorf("FindMachine(aarch64) with an x86_64 busybox = %v, want only the busybox refused for its arch", err)
	}
}
