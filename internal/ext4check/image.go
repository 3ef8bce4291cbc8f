package ext4check

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// ReadImage returns the manifest of the ext4 image img as debugfs sees it.
// It runs one debugfs process per directory level (ls -p), then one for all
// inodes' stat, one for all xattr values (ea_get -x) and one streaming all
// file contents and slow symlink targets (cat), hashing as it reads.
func ReadImage(tb testing.TB, img string) (Manifest, error) {
	tb.Helper()
	d := &debugfs{bin: testenv.Tool(tb, "debugfs"), img: img, dir: tb.TempDir()}
	m, err := d.manifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s with debugfs: %w", img, err)
	}
	return m, nil
}

// inode is what stat and the later batches say about one inode.
type inode struct {
	node     Node
	xattrs   []string // names from stat
	fastLink bool
	linkSize int64 // a symlink's i_size (Node.Size is for regular files only)
}

func (d *debugfs) manifest() (Manifest, error) {
	paths := map[string]uint32{"/": 2}
	level := map[uint32]string{2: "/"}
	for len(level) > 0 {
		inos := slices.Sorted(maps.Keys(level))
		cmds := make([]string, len(inos))
		for i, ino := range inos {
			cmds[i] = fmt.Sprintf("ls -p <%d>", ino)
		}
		out, err := d.run(cmds)
		if err != nil {
			return nil, err
		}
		next := map[uint32]string{}
		if err := parseLs(out, level, paths, next); err != nil {
			return nil, err
		}
		level = next
	}

	inodes := map[uint32]*inode{}
	for _, ino := range paths {
		inodes[ino] = nil
	}
	order := slices.Sorted(maps.Keys(inodes))
	cmds := make([]string, len(order))
	for i, ino := range order {
		cmds[i] = fmt.Sprintf("stat <%d>", ino)
	}
	out, err := d.run(cmds)
	if err != nil {
		return nil, err
	}
	if err := parseStats(out, inodes); err != nil {
		return nil, err
	}
	if err := d.readXattrs(order, inodes); err != nil {
		return nil, err
	}
	if err := d.readContents(order, inodes); err != nil {
		return nil, err
	}

	m := Manifest{}
	groups := map[any][]string{}
	for p, ino := range paths {
		c := inodes[ino].node
		m[p] = &c
		groups[ino] = append(groups[ino], p)
	}
	setLinkGroups(m, groups)
	// Link counts come from the inode, not from counting names.
	for p, ino := range paths {
		m[p].Nlink = inodes[ino].node.Nlink
	}
	return m, nil
}

// parseLs reads `ls -p` listings: "/ino/mode/uid/gid/name/size/" per entry
// ("//" ends a directory's line), each listing after "debugfs: ls -p <N>".
func parseLs(out []byte, dirs map[uint32]string, paths map[string]uint32, next map[uint32]string) error {
	dir := ""
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSuffix(line, "\n")
		if h, ok := strings.CutPrefix(line, "debugfs: ls -p <"); ok {
			ino, err := strconv.ParseUint(strings.TrimSuffix(h, ">"), 10, 32)
			if err != nil || dirs[uint32(ino)] == "" {
				return fmt.Errorf("unexpected debugfs line %q", line)
			}
			dir = dirs[uint32(ino)]
			continue
		}
		if line == "" {
			continue
		}
		if dir == "" || len(line) < 2 || line[0] != '/' || line[len(line)-1] != '/' {
			return fmt.Errorf("unexpected debugfs ls line %q", line)
		}
		f := strings.SplitN(line[1:len(line)-1], "/", 5)
		if len(f) != 5 {
			return fmt.Errorf("unexpected debugfs ls line %q", line)
		}
		i := strings.LastIndexByte(f[4], '/')
		if i < 0 {
			return fmt.Errorf("unexpected debugfs ls line %q", line)
		}
		name := f[4][:i]
		ino, err1 := strconv.ParseUint(f[0], 10, 32)
		mode, err2 := strconv.ParseUint(f[1], 8, 32)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("unexpected debugfs ls line %q", line)
		}
		if ino == 0 || name == "." || name == ".." { // 0: unused record (empty block)
			continue
		}
		p := join(dir, name)
		if _, dup := paths[p]; dup {
			return fmt.Errorf("directory %s lists %q twice", dir, name)
		}
		paths[p] = uint32(ino)
		if mode&unixmode.TypeMask == unixmode.Dir {
			next[uint32(ino)] = p
		}
	}
	return nil
}

func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

var statTypes = map[string]byte{
	"regular": 'f', "directory": 'd', "symlink": 'l', "character": 'c',
	"block": 'b', "FIFO": 'p', "socket": 's',
}

// parseStats reads `stat <N>` outputs into inodes.
func parseStats(out []byte, inodes map[uint32]*inode) error {
	var cur *inode
	inXattrs := false
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSuffix(line, "\n")
		if h, ok := strings.CutPrefix(line, "debugfs: stat <"); ok {
			ino, err := strconv.ParseUint(strings.TrimSuffix(h, ">"), 10, 32)
			if err != nil {
				return fmt.Errorf("unexpected debugfs line %q", line)
			}
			cur = &inode{node: Node{MtimeNsec: -1}}
			inodes[uint32(ino)] = cur
			inXattrs = false
			continue
		}
		if cur == nil {
			return fmt.Errorf("unexpected debugfs line %q", line)
		}
		if inXattrs {
			if rest, ok := strings.CutPrefix(line, "  "); ok {
				name, _, ok := strings.Cut(rest, " (")
				if !ok {
					return fmt.Errorf("unexpected debugfs xattr line %q", line)
				}
				if name != "system.data" { // inline-data bookkeeping
					cur.xattrs = append(cur.xattrs, name)
				}
				continue
			}
			inXattrs = false
		}
		f := strings.Fields(line)
		var err error
		switch {
		case len(f) == 0:
		case f[0] == "Inode:" && len(f) >= 6:
			t, ok := statTypes[f[3]]
			i := slices.Index(f, "Mode:")
			if !ok || i < 0 || i+1 >= len(f) {
				return fmt.Errorf("unexpected debugfs stat line %q", line)
			}
			cur.node.Type = t
			var p uint64
			p, err = strconv.ParseUint(f[i+1], 8, 32)
			cur.node.Perm = uint32(p)
		case f[0] == "User:" && len(f) >= 4:
			cur.node.UID, err = signed32(f[1])
			if err == nil {
				cur.node.GID, err = signed32(f[3])
			}
			if i := slices.Index(f, "Size:"); i >= 0 && i+1 < len(f) {
				cur.node.Size, err = strconv.ParseInt(f[i+1], 10, 64)
			}
		case f[0] == "Links:" && len(f) >= 2:
			var n uint64
			n, err = strconv.ParseUint(f[1], 10, 32)
			cur.node.Nlink = uint32(n)
		case f[0] == "mtime:" && len(f) >= 2:
			cur.node.Mtime, cur.node.MtimeNsec, err = parseTime(f[1])
		case strings.Contains(line, "Device major/minor number: "):
			_, mm, _ := strings.Cut(line, "number: ")
			mm, _, _ = strings.Cut(mm, " ")
			ma, mi, _ := strings.Cut(mm, ":")
			var a, b uint64
			a, err = strconv.ParseUint(ma, 10, 32)
			if err == nil {
				b, err = strconv.ParseUint(mi, 10, 32)
			}
			cur.node.Major, cur.node.Minor = uint32(a), uint32(b)
		case strings.HasPrefix(line, "Fast link dest: \""):
			t := strings.TrimPrefix(line, "Fast link dest: \"")
			cur.node.Target = strings.TrimSuffix(t, "\"")
			cur.fastLink = true
		case line == "Extended attributes:":
			inXattrs = true
		}
		if err != nil {
			return fmt.Errorf("parsing debugfs stat line %q: %w", line, err)
		}
	}
	for ino, in := range inodes {
		if in == nil || in.node.Type == 0 {
			return fmt.Errorf("no stat output for inode %d", ino)
		}
	}
	return nil
}

// signed32 parses a uid or gid that debugfs prints as a signed 32-bit int.
func signed32(s string) (uint32, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	return uint32(v), err
}

// parseTime decodes "0xSECONDS" or "0xSECONDS:EXTRA" (EXTRA: two epoch
// bits, then nanoseconds << 2).
func parseTime(s string) (sec, nsec int64, err error) {
	lo, extra, hasExtra := strings.Cut(strings.TrimPrefix(s, "0x"), ":")
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, 0, err
	}
	sec, nsec = int64(int32(l)), -1
	if hasExtra {
		x, err := strconv.ParseUint(extra, 16, 32)
		if err != nil {
			return 0, 0, err
		}
		sec += int64(x&3) << 32
		nsec = int64(x >> 2)
	}
	return sec, nsec, nil
}

// readXattrs fetches every xattr value with one batch of `ea_get -x`.
func (d *debugfs) readXattrs(order []uint32, inodes map[uint32]*inode) error {
	var cmds []string
	type want struct {
		ino  uint32
		name string
	}
	var wants []want
	for _, ino := range order {
		for _, name := range inodes[ino].xattrs {
			cmds = append(cmds, fmt.Sprintf("ea_get -x <%d> %s", ino, name))
			wants = append(wants, want{ino, name})
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	out, err := d.run(cmds)
	if err != nil {
		return err
	}
	i := -1
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, "debugfs: ea_get ") {
			i++
			if i >= len(wants) || line != "debugfs: "+cmds[i] {
				return fmt.Errorf("unexpected debugfs line %q", line)
			}
			continue
		}
		if line == "" {
			continue
		}
		if i < 0 {
			return fmt.Errorf("unexpected debugfs line %q", line)
		}
		w := wants[i]
		rest, ok := strings.CutPrefix(line, w.name+" (")
		if !ok {
			return fmt.Errorf("unexpected debugfs ea_get line %q", line)
		}
		lenStr, hexStr, _ := strings.Cut(rest, ")")
		n, err := strconv.Atoi(lenStr)
		if err != nil {
			return fmt.Errorf("unexpected debugfs ea_get line %q", line)
		}
		hexStr = strings.TrimPrefix(strings.TrimSpace(hexStr), "=")
		v, err := hex.DecodeString(strings.Join(strings.Fields(hexStr), ""))
		if err != nil || len(v) != n {
			return fmt.Errorf("unexpected debugfs ea_get value for inode %d %s: %q", w.ino, w.name, line)
		}
		in := inodes[w.ino]
		if in.node.Xattrs == nil {
			in.node.Xattrs = map[string]string{}
		}
		in.node.Xattrs[w.name] = string(v)
	}
	if i != len(wants)-1 {
		return fmt.Errorf("debugfs answered %d of %d ea_get requests", i+1, len(wants))
	}
	for _, w := range wants {
		if _, ok := inodes[w.ino].node.Xattrs[w.name]; !ok {
			return fmt.Errorf("no value for xattr %s of inode %d", w.name, w.ino)
		}
	}
	return nil
}

// readContents streams every regular file and slow symlink through one
// debugfs `cat` batch; debugfs flushes its echo of each command before the
// content, and the sizes from stat delimit the contents.
func (d *debugfs) readContents(order []uint32, inodes map[uint32]*inode) error {
	emptySum := sha256.Sum256(nil)
	var cmds []string
	var cats []uint32
	for _, ino := range order {
		in := inodes[ino]
		switch {
		case in.node.Type == 'f' && in.node.Size == 0:
			in.node.SHA256 = hex.EncodeToString(emptySum[:])
		case in.node.Type == 'f' || in.node.Type == 'l' && !in.fastLink:
			cmds = append(cmds, fmt.Sprintf("cat <%d>", ino))
			cats = append(cats, ino)
		}
		if in.node.Type != 'f' {
			in.linkSize, in.node.Size = in.node.Size, 0
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	return d.stream(cmds, func(r *bufio.Reader) error {
		for i, ino := range cats {
			line, err := r.ReadString('\n')
			if err != nil || line != "debugfs: "+cmds[i]+"\n" {
				return fmt.Errorf("unexpected debugfs output %q before the content of inode %d", line, ino)
			}
			in := inodes[ino]
			if in.node.Type == 'l' {
				var b strings.Builder
				if _, err := io.CopyN(&b, r, in.linkSize); err != nil {
					return fmt.Errorf("reading symlink inode %d: %w", ino, err)
				}
				in.node.Target = b.String()
				continue
			}
			h := sha256.New()
			if _, err := io.CopyN(h, r, in.node.Size); err != nil {
				return fmt.Errorf("reading %d bytes of inode %d: %w", in.node.Size, ino, err)
			}
			in.node.SHA256 = hex.EncodeToString(h.Sum(nil))
		}
		if rest, _ := io.ReadAll(io.LimitReader(r, 200)); len(rest) > 0 {
			return fmt.Errorf("unexpected debugfs output after the last content: %q", rest)
		}
		return nil
	})
}
