package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/profiles"
)

// The build file (--config FILE): a YAML mapping whose keys are the
// build's flags, so that it says everything they can say and cannot fall
// behind them. Each key is a flag's long name, or its plural where the flag
// is repeatable (`packages:` for -p, `mirrors:` for --mirror); a
// repeatable flag's key takes a list (or one value), a bool flag's a
// boolean. The values go to the flags' own parsing, as if typed: one
// path of validation, whose errors then name the key and FILE:LINE
// instead of the flag. A flag on the command line replaces its key (and
// the keys it cannot go with: --lock replaces profile and packages).
// Relative paths in the file are relative to its directory.

// configKey is a key of the build file and the flag it gives its values to.
type configKey struct {
	key, flag string
	path      func(dir, value string) string // a relative path made relative to dir; nil: not a path
}

// configKeys are the keys of the build file, in the order of --help.
var configKeys = []configKey{
	{"profile", "profile", profilePath},
	{"branch", "branch", nil},
	{"packages", "packages", nil},
	{"mirrors", "mirror", mirrorPath},
	{"lock", "lock", filePath},
	{"arch", "arch", nil},
	{"repositories", "repository", repositoryPath},
	{"allow-untrusted", "allow-untrusted", nil},
	{"keys-dir", "keys-dir", filePath},
	{"cache-dir", "cache-dir", filePath},
	{"offline", "offline", nil},
	{"no-shrink", "no-shrink", nil},
	{"image-name", "image-name", nil},
	{"output", "output", filePath},
	{"files", "files", filePath},
	{"size", "size", nil},
	{"no-journal", "no-journal", nil},
	{"report", "report", reportPath},
	{"authorized-keys", "authorized-keys", filePath},
	{"hostname", "hostname", nil},
	{"strict", "strict", nil},
	{"no-deferred-scripts", "no-deferred-scripts", nil},
	{"guest-repositories", "guest-repository", nil},
	{"sbom", "sbom", filePath},
}

// notInConfig are the build's flags a build file does not say, and why.
var notInConfig = map[string]string{
	"config":  "names the file itself",
	"quiet":   "how this run talks, not what it builds",
	"verbose": "how this run talks, not what it builds",
	"dry-run": "whether this run builds, not what",
	"json":    "how this run talks, not what it builds",
}

// configExcludes are the flags that, given on the command line, replace
// other keys of the file as well as their own: they cannot go together.
var configExcludes = map[string][]string{
	"lock":       {"profile", "packages"},
	"profile":    {"lock"},
	"packages":   {"lock"},
	"output":     {"image-name"},
	"image-name": {"output"},
}

// maxConfigSize caps a build file: a few hundred bytes of keys, or a few
// thousand with long package lists.
const maxConfigSize = 1 << 20

func configFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "config",
		Aliases: []string{"c"},
		Usage: "read the build from the YAML `FILE` (keys: the flags' names, plural for repeatable ones; " +
			"paths relative to the file; a flag given here replaces its key; see rootfs-synth init)",
	}
}

// configOrigin is where a value applied from the build file came from.
type configOrigin struct {
	file, key string
	line      int
}

// configOrigins name, in errors about a flag, the key and line of the
// build file that gave its value.
type configOrigins map[string]configOrigin // by flag

// applyConfig gives the flags of cCtx the values of the build file that
// --config names, except those given on the command line; flags are the
// command's. It returns where each applied value came from.
func applyConfig(cCtx *cli.Context, flags []cli.Flag) (configOrigins, error) {
	name := cCtx.String("config")
	if name == "" {
		return nil, nil
	}
	data, err := readFlagFile("--config", name, maxConfigSize)
	if err != nil {
		return nil, err
	}
	isBool := map[string]bool{}
	given := map[string]bool{}
	for _, f := range flags {
		n := f.Names()[0]
		_, isBool[n] = f.(*cli.BoolFlag)
		if cCtx.IsSet(n) {
			given[n] = true
			for _, x := range configExcludes[n] {
				given[x] = true
			}
		}
	}
	entries, err := parseConfig(name, data, isBool)
	if err != nil {
		return nil, usageError("%v", err)
	}
	origins := configOrigins{}
	dir := filepath.Dir(name)
	for _, e := range entries {
		if given[e.flag] {
			continue // the command line's
		}
		for _, v := range e.values {
			if e.path != nil {
				v = e.path(dir, v)
			}
			if err := cCtx.Set(e.flag, v); err != nil {
				return nil, usageError("%s:%d: %s %q: %v", name, e.line, e.key, v, err)
			}
		}
		origins[e.flag] = configOrigin{name, e.key, e.line}
	}
	return origins, nil
}

// configEntry is a key of a build file with its line and values.
type configEntry struct {
	configKey
	line   int
	values []string
}

// parseConfig reads the build file name holding data: one YAML mapping
// of known keys to values (see configValues; isBool says which flags are
// bool flags). Its errors are one line starting "name:LINE:".
func parseConfig(name string, data []byte, isBool map[string]bool) (entries []configEntry, err error) {
	defer func() {
		// The parser is not ours: a panic on some input is a refused
		// file, not a crash.
		if r := recover(); r != nil {
			entries, err = nil, fmt.Errorf("%s:1: YAML the parser cannot read (%v)", name, r)
		}
	}()
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			p := ye.GetToken().Position
			return nil, fmt.Errorf("%s:%d:%d: %s", name, p.Line, p.Column, printable(ye.GetMessage()))
		}
		return nil, fmt.Errorf("%s:1: %s", name, printable(err.Error()))
	}
	var body ast.Node
	for _, doc := range file.Docs {
		switch {
		case doc.Body == nil || doc.Body.Type() == ast.CommentType:
		case body != nil:
			return nil, fmt.Errorf("%s:%d: a second YAML document: give one mapping of keys", name, line(doc.Body))
		default:
			body = doc.Body
		}
	}
	var pairs []*ast.MappingValueNode
	switch b := body.(type) {
	case nil: // empty, or comments only
	case *ast.MappingNode:
		pairs = b.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{b}
	default:
		return nil, fmt.Errorf("%s:%d: want a mapping of keys (key: value), not %s", name, line(body), body.Type())
	}
	for _, p := range pairs {
		key, at := p.Key.GetToken().Value, line(p.Key)
		k, ok := lookupKey(key)
		if !ok {
			return nil, fmt.Errorf("%s:%d: unknown key %q (%s)", name, at, key, keyHint(key))
		}
		values, err := configValues(p.Value, isBool[k.flag])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %v", name, at, key, err)
		}
		entries = append(entries, configEntry{k, at, values})
	}
	return entries, nil
}

// printable is a message of the YAML parser, which may hold the file's
// bytes as they are: on one line, its other control characters escaped.
func printable(msg string) string {
	var b strings.Builder
	for _, r := range strings.Join(strings.Fields(msg), " ") {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

func line(n ast.Node) int { return n.GetToken().Position.Line }

func lookupKey(key string) (configKey, bool) {
	i := slices.IndexFunc(configKeys, func(k configKey) bool { return k.key == key })
	if i < 0 {
		return configKey{}, false
	}
	return configKeys[i], true
}

// keyHint is what to say of an unknown key: the key meant, when it is
// a flag's name (--mirror for mirrors) or close to one (closest), else
// every key.
func keyHint(key string) string {
	names := make([]string, len(configKeys))
	for i, k := range configKeys {
		names[i] = k.key
		if k.flag == key {
			return fmt.Sprintf("did you mean %q?", k.key)
		}
	}
	if best := closest(key, names); best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	return "the keys: " + strings.Join(names, ", ")
}

// configValues are the values of a key as a flag takes them: a list's
// items, or one value; a bool flag's key takes true or false, the others
// strings or numbers, never empty (as on the command line: leave the key
// out for the default).
func configValues(n ast.Node, isBool bool) ([]string, error) {
	items := []ast.Node{n}
	if s, ok := n.(*ast.SequenceNode); ok {
		if isBool {
			return nil, errors.New("want true or false, not a list")
		}
		items = s.Values
		if len(items) == 0 {
			return nil, errors.New("an empty list (leave the key out for the default)")
		}
	}
	var values []string
	for _, it := range items {
		var v string
		switch it := it.(type) {
		case *ast.BoolNode:
			if !isBool {
				return nil, fmt.Errorf("want a string, not %t (quote it)", it.Value)
			}
			v = fmt.Sprint(it.Value)
		case *ast.StringNode:
			v = it.Value
		case *ast.IntegerNode, *ast.FloatNode:
			v = it.GetToken().Value // as written: 64M and 0644 stay themselves
		case *ast.LiteralNode:
			v = it.Value.Value
		case *ast.NullNode:
			return nil, errors.New("no value (leave the key out for the default)")
		default:
			return nil, fmt.Errorf("want a value, not %s", it.Type())
		}
		if isBool && v != "true" && v != "false" {
			return nil, fmt.Errorf("want true or false, not %q", v)
		}
		if v == "" {
			return nil, errors.New("empty value (leave the key out for the default)")
		}
		values = append(values, v)
	}
	return values, nil
}

// filePath is a path relative to the build file's directory.
func filePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// reportPath is the report's path, or "-" (stdout) as it is.
func reportPath(dir, p string) string {
	if p == "-" {
		return p
	}
	return filePath(dir, p)
}

// profilePath is a profile's name, or a profile file's path.
func profilePath(dir, p string) string {
	if p == "none" || slices.Contains(profiles.Names(), p) {
		return p
	}
	return filePath(dir, p)
}

// mirrorPath is a mirror's URL, none, or a directory's path.
func mirrorPath(dir, m string) string {
	if m == "none" || strings.Contains(m, "://") {
		return m
	}
	return filePath(dir, m)
}

// repositoryPath makes the directories of a repositories line relative
// to dir: its fields that are neither the v2 type, an @tag, a URL nor a
// component (a bare word after the first base, as apk.ParseRepositoryLine
// reads them).
func repositoryPath(dir, line string) string {
	fields := strings.Fields(line)
	bases := 0
	for i, f := range fields {
		switch {
		case i == 0 && f == "v2", strings.HasPrefix(f, "@") && bases == 0:
		case strings.ContainsAny(f, "/:") || bases == 0:
			bases++
			if !strings.Contains(f, ":") {
				fields[i] = filePath(dir, f)
			}
		}
	}
	return strings.Join(fields, " ")
}

// flagNamed matches a flag's name in a message: --name, not followed by
// more of a name.
func flagNamed(flag string) *regexp.Regexp {
	return regexp.MustCompile(`--` + regexp.QuoteMeta(flag) + `\b(?:[^-]|$)`)
}

// rename makes err name the build file's key and line where it names a
// flag whose value came from the file; the exit status stays.
func (o configOrigins) rename(err error) error {
	if err == nil || len(o) == 0 {
		return err
	}
	msg := err.Error()
	for flag, at := range o {
		re := flagNamed(flag)
		msg = re.ReplaceAllStringFunc(msg, func(m string) string {
			return fmt.Sprintf("%s (%s:%d)%s", at.key, at.file, at.line, m[len("--"+flag):])
		})
	}
	if msg == err.Error() {
		return err
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return cli.Exit(msg, ec.ExitCode())
	}
	return renamed{msg, err}
}
