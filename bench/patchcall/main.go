//go:build unix

// Command patchcall times the library call a Go control plane makes per
// sandbox — ext4patch.Open, /root/.ssh 0700, authorized_keys, hostname and
// session env, Commit, Close — on an existing image, in place, n times,
// and prints the median, fastest and slowest in milliseconds: bench/patch.sh
// puts it beside the process, clone + patch and debugfs on the same image.
// Every run is preceded by sync(2), outside the timing, as patch.sh does
// for the others.
//
//	go run ./bench/patchcall -n 21 -keys key.pub IMAGE
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/rootfs-synth/rootfs-synth/ext4patch"
	"github.com/rootfs-synth/rootfs-synth/files"
)

func main() {
	n := flag.Int("n", 21, "runs")
	keys := flag.String("keys", "", "authorized_keys `FILE`")
	flag.Parse()
	if flag.NArg() != 1 || *keys == "" {
		fmt.Fprintln(os.Stderr, "usage: patchcall [-n N] -keys FILE IMAGE")
		os.Exit(2)
	}
	key, err := os.ReadFile(*keys)
	if err != nil {
		fmt.Fprintln(os.Stderr, "patchcall:", err)
		os.Exit(1)
	}
	env, err := files.SessionEnv([]files.EnvVar{{Name: "API_URL", Value: "https://api.example"}, {Name: "TOKEN", Value: "s3cr3t'\"$"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "patchcall:", err)
		os.Exit(1)
	}
	var ms []float64
	for i := range *n {
		syscall.Sync()
		start := time.Now()
		if err := patch(flag.Arg(0), key, []byte(fmt.Sprintf("sandbox-%d\n", i)), env); err != nil {
			fmt.Fprintln(os.Stderr, "patchcall:", err)
			os.Exit(1)
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
	}
	slices.Sort(ms)
	fmt.Printf("%.2f %.2f %.2f\n", ms[len(ms)/2], ms[0], ms[len(ms)-1])
}

func patch(img string, key, hostname, env []byte) error {
	now := time.Now()
	im, err := ext4patch.Open(img, ext4patch.Options{Time: now})
	if err != nil {
		return err
	}
	defer im.Close()
	if err := im.PutDir("/root/.ssh", 0o700, 0, 0, now); err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{
		{"/root/.ssh/authorized_keys", key, 0o600},
		{"/etc/hostname", hostname, 0o644},
		{files.SessionEnvPath, env, files.SessionEnvPerm},
	} {
		if err := im.Put(f.path, bytes.NewReader(f.data), f.perm, 0, 0, now); err != nil {
			return err
		}
	}
	if err := im.Commit(); err != nil {
		return err
	}
	return im.Close()
}
