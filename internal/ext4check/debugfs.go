package ext4check

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// debugfs runs batches of requests against one image, read-only.
type debugfs struct {
	bin, img string
	dir      string // for command files
	n        int
}

func (d *debugfs) command(cmds []string) (*exec.Cmd, error) {
	d.n++
	file := filepath.Join(d.dir, fmt.Sprintf("debugfs-%d.cmd", d.n))
	if err := os.WriteFile(file, []byte(strings.Join(cmds, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	c := exec.Command(d.bin, "-f", file, d.img)
	c.Env = append(os.Environ(), "LC_ALL=C", "DEBUGFS_PAGER=__none__", "PAGER=__none__")
	return c, nil
}

// run returns the standard output of one debugfs process running cmds.
func (d *debugfs) run(cmds []string) ([]byte, error) {
	var out []byte
	err := d.stream(cmds, func(r *bufio.Reader) error {
		var b bytes.Buffer
		_, err := b.ReadFrom(r)
		out = b.Bytes()
		return err
	})
	return out, err
}

// stream runs cmds in one debugfs process and hands its standard output to
// read. Anything on standard error but the version banner is an error:
// debugfs reports failed requests only there and still exits 0.
func (d *debugfs) stream(cmds []string, read func(*bufio.Reader) error) error {
	c, err := d.command(cmds)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	c.Stderr = &stderr
	stdout, err := c.StdoutPipe()
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return err
	}
	rerr := read(bufio.NewReaderSize(stdout, 1<<20))
	if rerr != nil {
		c.Process.Kill()
	}
	werr := c.Wait()
	var msgs []string
	for line := range strings.Lines(stderr.String()) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "debugfs ") {
			msgs = append(msgs, line)
		}
	}
	switch {
	case len(msgs) > 0:
		if len(msgs) > 5 {
			msgs = append(msgs[:5], fmt.Sprintf("... (%d more)", len(msgs)-5))
		}
		return fmt.Errorf("debugfs %s: %s", cmds[0], strings.Join(msgs, "; "))
	case rerr != nil:
		return rerr
	case werr != nil:
		return fmt.Errorf("debugfs: %w", werr)
	}
	return nil
}
