//go:build linux

package main

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// The bars as a person sees them: the built binary runs on a
// pseudo-terminal (github.com/creack/pty) and what it writes is played
// on a small screen model, so the test reads the lines a terminal shows
// at the end, after every cursor movement and erase.

// TestProgressBarsAgreeWithSummary: the download bar counts what was
// downloaded, as the fetch line does: a fully cached fetch shows no bytes
// downloaded, a partly cached one shows the downloaded bytes alone.
func TestProgressBarsAgreeWithSummary(t *testing.T) {
	noise := make([]byte, 96<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	m := newMirror(t, apktest.Pkg{Name: "noise", Version: "1-r0", Files: []apktest.File{{Name: "usr/share/noise", Data: noise}}})
	dir := testenv.WorldDir(t)
	build := func(pkgs string) []string {
		return append(m.trusted(), "--profile", "none", "-p", pkgs, "-o", filepath.Join(dir, "x.ext4"))
	}
	if _, stderr, code := runCmd(t, m.command(t, nil, build("app")...)); code != 0 {
		t.Fatalf("filling the cache: exit %d\n%s", code, stderr)
	}
	fetchLine := regexp.MustCompile(`^fetch: \d+ packages, (\d+) from the cache, (.+) downloaded, in `)
	barLine := regexp.MustCompile(`^download +.*?(\d+\.\d) ?(b|KiB|MiB) / `)
	for _, tt := range []struct {
		pkgs      string
		cached    string
		allCached bool
	}{
		{"app", "2", true},
		{"app,noise", "2", false}, // noise downloaded, some 97 KiB
	} {
		screen, code := runOnPTY(t, m.command(t, nil, build(tt.pkgs)...), nil)
		if code != 0 {
			t.Fatalf("rootfs-synth -p %s on a terminal = exit %d\n%s", tt.pkgs, code, strings.Join(screen, "\n"))
		}
		var fetch, bar []string
		for _, l := range screen {
			if f := fetchLine.FindStringSubmatch(l); f != nil {
				fetch = f
			}
			if b := barLine.FindStringSubmatch(l); b != nil {
				bar = b
			}
		}
		if fetch == nil || fetch[1] != tt.cached || (fetch[2] == "0 B") != tt.allCached || !tt.allCached && !strings.HasSuffix(fetch[2], " KiB") {
			t.Fatalf("rootfs-synth -p %s: fetch line %q, want %s cached and (all cached %v) KiB downloaded\nscreen:\n%s", tt.pkgs, fetch, tt.cached, tt.allCached, strings.Join(screen, "\n"))
		}
		switch {
		case tt.allCached && bar != nil && bar[1] != "0.0":
			t.Errorf("rootfs-synth -p %s, all cached: the download bar shows %s %s while the fetch line says %q\nscreen:\n%s", tt.pkgs, bar[1], bar[2], fetch[0], strings.Join(screen, "\n"))
		case !tt.allCached && (bar == nil || bar[1]+" "+bar[2] != fetch[2]):
			t.Errorf("rootfs-synth -p %s: download bar %q, want it to show %s, as the fetch line does\nscreen:\n%s", tt.pkgs, bar, fetch[2], strings.Join(screen, "\n"))
		}
	}
}

// TestProgressCtrlC: Ctrl-C typed on the terminal during a download ends
// the bars cleanly: the last line on the screen is the one error line,
// every other line is a phase's line or a whole bar, and the exit status
// is 130.
func TestProgressCtrlC(t *testing.T) {
	m := newMirror(t)
	stalled := m.stallPackage("app-0.9-r0")
	args := append(m.trusted(), "--profile", "none", "-p", "app", "-o", filepath.Join(testenv.WorldDir(t), "x.ext4"))
	screen, code := runOnPTY(t, m.command(t, nil, args...), func(tty *os.File) {
		select {
		case <-stalled:
		case <-time.After(30 * time.Second):
			t.Error("the download never stalled")
		}
		tty.Write([]byte{3}) // Ctrl-C, as typed: the terminal echoes ^C
	})
	if code != 130 {
		t.Errorf("rootfs-synth after Ctrl-C = exit %d, want 130\nscreen:\n%s", code, strings.Join(screen, "\n"))
	}
	bar := regexp.MustCompile(`^(download|app-0\.9-r0|base-1\.0-r0) +\[[-=>_ ]*\] +\d+(\.\d)? ?(b|KiB|MiB) / \d+(\.\d)? ?(b|KiB|MiB) +\d+ %$`)
	phase := regexp.MustCompile(`^resolve: \d+ packages .* in \S+$`)
	want := "rootfs-synth: interrupted by SIGINT; no image written"
	for i, l := range screen {
		l = strings.TrimRight(l, " ")
		switch {
		case l == "":
		case i == len(screen)-1:
			if l != want {
				t.Errorf("last line on the screen %q, want %q\nscreen:\n%s", l, want, strings.Join(screen, "\n"))
			}
		case !bar.MatchString(l) && !phase.MatchString(l):
			t.Errorf("line %d on the screen %q is neither a bar nor a phase's line\nscreen:\n%s", i+1, l, strings.Join(screen, "\n"))
		}
	}
}

// runOnPTY runs cmd with a pseudo-terminal as its stdin, stdout, stderr
// and controlling terminal (100 columns); interact, when not nil, gets
// the terminal's other end while the command runs. It returns the
// screen's non-empty lines once the command has exited, and the exit
// status.
func runOnPTY(t *testing.T, cmd *exec.Cmd, interact func(tty *os.File)) (screen []string, code int) {
	t.Helper()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&out, tty) // ends with EIO once the command and its terminal are gone
		close(read)
	}()
	if interact != nil {
		interact(tty)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatalf("rootfs-synth still runs after a minute\n%q", out.String())
	}
	select {
	case <-read:
	case <-time.After(5 * time.Second):
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return playScreen(out.String()), cmd.ProcessState.ExitCode()
}

// playScreen plays what a program wrote to a terminal on an endless
// screen and returns its lines, the empty ones at the end left out: text,
// \r, \n, \b, and the CSI sequences bars use (cursor up, down, forward,
// back, to a column; erase in display and in line). Other sequences
// are skipped.
func playScreen(s string) []string {
	var lines [][]rune
	row, col := 0, 0
	at := func(r int) []rune {
		for len(lines) <= r {
			lines = append(lines, nil)
		}
		return lines[r]
	}
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\r':
			col = 0
		case c == '\n':
			row++
		case c == '\b':
			col = max(0, col-1)
		case c == 0x1b && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] < 0x40 || rs[j] > 0x7e) {
				j++
			}
			if j == len(rs) {
				i = j
				break
			}
			param := string(rs[i+2 : j])
			n, err := strconv.Atoi(param)
			if err != nil {
				n = 0
			}
			switch rs[j] {
			case 'A':
				row = max(0, row-max(n, 1))
			case 'B':
				row += max(n, 1)
			case 'C':
				col += max(n, 1)
			case 'D':
				col = max(0, col-max(n, 1))
			case 'G':
				col = max(0, n-1)
			case 'J':
				if n == 0 {
					l := at(row)
					lines[row] = l[:min(col, len(l))]
					lines = lines[:row+1]
				}
			case 'K':
				l := at(row)
				switch n {
				case 0:
					lines[row] = l[:min(col, len(l))]
				case 2:
					lines[row] = nil
				}
			}
			i = j
		case c == 0x1b:
			i++ // a two-character escape
		case c < 0x20:
		default:
			l := at(row)
			for len(l) < col {
				l = append(l, ' ')
			}
			if col < len(l) {
				l[col] = c
			} else {
				l = append(l, c)
			}
			lines[row] = l
			col++
		}
	}
	var out []string
	for _, l := range lines {
		out = append(out, string(l))
	}
	for len(out) > 0 && strings.TrimSpace(out[len(out)-1]) == "" {
		out = out[:len(out)-1]
	}
	return out
}
