package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/files"
	"github.com/rootfs-synth/rootfs-synth/internal/unixmode"
)

// patchOps reads the flags into changes, in the order they apply;
// malformed values are usage errors, files that cannot be read errors.
func patchOps(c *cli.Context) ([]patchOp, error) {
	var ops []patchOp
	if g := c.String("grow"); g != "" {
		size, err := parseSize(g)
		if err != nil {
			return nil, usageError("--grow %q: %v", g, err)
		}
		ops = append(ops, patchOp{grow: size}) // first: the puts may need the room
	}
	for _, p := range values(c, "rm") {
		if !strings.HasPrefix(p, "/") {
			return nil, usageError("patch: --rm %q: want an absolute path inside the image", p)
		}
		ops = append(ops, patchOp{remove: true, path: p})
	}
	for _, spec := range values(c, "put") {
		op, host, err := parsePut(spec)
		if err != nil {
			return nil, usageError("patch: --put %q: %v", spec, err)
		}
		if op.data, err = readFlagFile("--put", host, maxPutFileSize); err != nil {
			return nil, err
		}
		if op.mode == 0 {
			fi, err := os.Stat(host)
			if err != nil {
				return nil, fmt.Errorf("reading --put: %w", err)
			}
			op.mode = unixmode.DecodePerm(unixmode.EncodePerm(fi.Mode()))
		}
		ops = append(ops, op)
	}
	if f := c.String("authorized-keys"); f != "" {
		keys, err := readFlagFile("--authorized-keys", f, maxAuthorizedKeysSize)
		if err != nil {
			return nil, err
		}
		ops = append(ops, patchOp{dir: true, path: "/root/.ssh", mode: 0o700},
			patchOp{path: "/root/.ssh/authorized_keys", data: keys, mode: 0o600})
	}
	if h := c.String("hostname"); h != "" {
		if build.CheckHostname(h) != nil {
			return nil, usageError("patch: --hostname %q: want letters, digits and hyphens in dot-separated labels (RFC 1123)", h)
		}
		ops = append(ops, patchOp{path: "/etc/hostname", data: []byte(h + "\n"), mode: 0o644})
	}
	vars, err := sessionVars(c)
	if err != nil {
		return nil, err
	}
	if vars != nil {
		script, err := files.SessionEnv(vars)
		if err != nil {
			return nil, usageError("patch: %v", err)
		}
		ops = append(ops, patchOp{path: files.SessionEnvPath, data: script, mode: files.SessionEnvPerm})
	}
	return ops, nil
}

// parsePut splits GUEST_PATH=HOST_FILE[:MODE[:UID:GID]]. The guest path
// ends at the first "="; MODE (octal) and UID:GID are taken from the end
// only when they parse, so a host file name may hold ":" otherwise.
func parsePut(spec string) (patchOp, string, error) {
	guest, host, ok := strings.Cut(spec, "=")
	if !ok || !strings.HasPrefix(guest, "/") || host == "" {
		return patchOp{}, "", errors.New("want GUEST_PATH=HOST_FILE[:MODE[:UID:GID]] with an absolute GUEST_PATH")
	}
	op := patchOp{path: guest}
	f := strings.Split(host, ":")
	id := func(s string) (int, bool) {
		n, err := strconv.ParseUint(s, 10, 32)
		return int(n), err == nil
	}
	mode := func(s string) (fs.FileMode, bool) {
		n, err := strconv.ParseUint(s, 8, 32)
		if err != nil || n > 0o7777 || len(s) < 3 {
			return 0, false
		}
		return unixmode.DecodePerm(uint32(n)), true
	}
	if n := len(f); n >= 4 {
		m, okm := mode(f[n-3])
		uid, oku := id(f[n-2])
		gid, okg := id(f[n-1])
		if okm && oku && okg && m != 0 {
			op.mode, op.uid, op.gid = m, uid, gid
			return op, strings.Join(f[:n-3], ":"), nil
		}
	}
	if n := len(f); n >= 2 {
		if m, ok := mode(f[n-1]); ok && m != 0 {
			op.mode = m
			return op, strings.Join(f[:n-1], ":"), nil
		}
	}
	return op, host, nil
}

// sessionVars are --env-file's variables then --env's, a later NAME
// replacing an earlier one in its place; nil when neither flag is given.
func sessionVars(c *cli.Context) ([]files.EnvVar, error) {
	var vars []files.EnvVar
	at := map[string]int{}
	add := func(name, value string) {
		if i, ok := at[name]; ok {
			vars[i].Value = value
			return
		}
		at[name] = len(vars)
		vars = append(vars, files.EnvVar{Name: name, Value: value})
	}
	given := false
	if f := c.String("env-file"); f != "" {
		given = true
		data, err := readFlagFile("--env-file", f, maxEnvFileSize)
		if err != nil {
			return nil, err
		}
		for i, line := range strings.Split(string(bytes.TrimSuffix(data, []byte("\n"))), "\n") {
			line = strings.TrimSuffix(line, "\r")
			if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			name, value, ok := strings.Cut(line, "=")
			if !ok {
				return nil, usageError("patch: --env-file %s:%d: want NAME=VALUE", f, i+1)
			}
			add(name, value)
		}
	}
	for _, kv := range values(c, "env") {
		given = true
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, usageError("patch: --env %q: want NAME=VALUE", kv)
		}
		add(name, value)
	}
	if given && vars == nil {
		vars = []files.EnvVar{} // an empty env file empties the session
	}
	return vars, nil
}

// values are a repeatable flag's values, each whole (commas kept).
func values(c *cli.Context, flag string) []string { return c.Generic(flag).(*lineList).values }
