package main

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// The help's look, for every command: a flag's names once, with its
// placeholder once ("--packages, -p ATOM", not urfave's "--packages ATOM,
// -p ATOM [ --packages ATOM, -p ATOM ]", which made the column 55 wide);
// no "(default: false)" after a switch (every bool flag is off unless
// given, and one that says its own default said two); and lines wrapped
// at word boundaries to the terminal's width (else $COLUMNS, else 80),
// continued under their own text, where urfave writes them unwrapped and
// the terminal breaks them mid-word.
func init() {
	cli.FlagStringer = flagHelp
	cli.HelpPrinter = func(w io.Writer, templ string, data any) {
		var b bytes.Buffer
		cli.HelpPrinterCustom(&b, templ, data, nil)
		io.WriteString(w, wrapHelp(b.String(), helpWidth(w)))
	}
}

// buildUsageText is the build's USAGE: the root takes flags, not a command
// (urfave's default said "command [command options]").
const buildUsageText = `rootfs-synth [OPTIONS]                 build an image (OPTIONS below)
rootfs-synth COMMAND [OPTIONS] [ARGS]  run a COMMAND (help COMMAND)`

// buildHelpTemplate is urfave's, naming the root's flags as the build's.
var buildHelpTemplate = strings.Replace(cli.AppHelpTemplate, "GLOBAL OPTIONS:", "OPTIONS (of the build):", 2)

// flagHelp is a flag's line of the help: names and placeholder, a tab,
// the usage.
func flagHelp(f cli.Flag) string {
	df, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return ""
	}
	usage, placeholder := df.GetUsage(), ""
	if i := strings.IndexByte(usage, '`'); i >= 0 {
		if j := strings.IndexByte(usage[i+1:], '`'); j >= 0 {
			placeholder = usage[i+1 : i+1+j]
			usage = usage[:i] + placeholder + usage[i+2+j:]
		}
	}
	if df.TakesValue() && placeholder == "" {
		placeholder = "value"
	}
	var names []string
	for _, n := range f.Names() {
		names = append(names, dashed(n))
	}
	head := strings.Join(names, ", ")
	if df.TakesValue() {
		head += " " + placeholder
	}
	if _, isBool := f.(*cli.BoolFlag); !isBool && df.GetDefaultText() != "" {
		usage += " (default: " + df.GetDefaultText() + ")"
	}
	if env := df.GetEnvVars(); len(env) > 0 {
		usage += " [$" + strings.Join(env, ", $") + "]"
	}
	return head + "\t" + usage
}

// helpWidth is the width to wrap the help at: the terminal's, when w is
// one, else $COLUMNS, else 80.
func helpWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
			return max(width, 40)
		}
	}
	if c, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && c > 0 {
		return max(c, 40)
	}
	return 80
}

// wrapHelp wraps each line of text longer than width at spaces, the
// continuation lines indented to where the line's text starts: after the
// first gap of two spaces or more that follows its leading indent (the
// column of a flag's or a command's usage), else at the leading indent.
// A paragraph of plain lines (one indent, no such column: a command's
// description) with a line too long is reflowed whole, so that its
// author's line breaks do not leave a word alone on a line.
func wrapHelp(text string, width int) string {
	lines := strings.Split(text, "\n")
	var out []string
	for i := 0; i < len(lines); {
		j := i + 1
		if plainLine(lines[i]) {
			for j < len(lines) && plainLine(lines[j]) && indentOf(lines[j]) == indentOf(lines[i]) {
				j++
			}
		}
		para := lines[i:j]
		i = j
		if !slices.ContainsFunc(para, func(l string) bool { return len(l) > width }) {
			out = append(out, para...)
			continue
		}
		line := para[0]
		if len(para) > 1 {
			line = strings.Repeat(" ", indentOf(line)) + strings.Join(strings.Fields(strings.Join(para, " ")), " ")
		}
		out = append(out, wrapLine(line, width)...)
	}
	return strings.Join(out, "\n")
}

func indentOf(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }

// plainLine is a line of text without a column: not empty, no gap of two
// spaces after its indent.
func plainLine(line string) bool {
	rest := line[indentOf(line):]
	return rest != "" && !strings.Contains(rest, "  ")
}

// wrapLine wraps one line as wrapHelp says.
func wrapLine(line string, width int) []string {
	indent := indentOf(line)
	hang := indent
	if gap := strings.Index(line[indent:], "  "); gap >= 0 {
		after := indent + gap
		hang = after + indentOf(line[after:])
	}
	headEnd := hang
	if hang > width/2 { // a column too wide to follow: indent a little
		headEnd, hang = indent, indent+4
	}
	var out []string
	cur := line[:headEnd]
	for i, word := range strings.Fields(line[headEnd:]) {
		switch {
		case i > 0 && len(cur)+1+len(word) > width:
			out = append(out, cur)
			cur = strings.Repeat(" ", hang) + word
		case i > 0:
			cur += " " + word
		default:
			cur += word
		}
	}
	return append(out, cur)
}

// helpCommand is `rootfs-synth help [COMMAND]`; `help build` (or none) is
// the build's help, the build being what runs without a command. An App
// with a help command of its own does not get urfave's --help flag: give
// it rootFlags.
func helpCommand() *cli.Command {
	return &cli.Command{
		Name:      "help",
		Aliases:   []string{"h"},
		Usage:     "show the build's options, or a command's (help COMMAND)",
		ArgsUsage: "[COMMAND]",
		Action: func(cCtx *cli.Context) error {
			name := cCtx.Args().First()
			if cCtx.NArg() > 1 {
				return usageError("help: want one command, have %d arguments", cCtx.NArg())
			}
			if name == "" || name == "build" {
				return cli.ShowAppHelp(cCtx)
			}
			if findCommand(cCtx.App.Commands, name) == nil {
				return usageError("help: no command %s%s", name, didYouMean(name, append(visibleCommandNames(cCtx.App.Commands), "build")))
			}
			return cli.ShowCommandHelp(cCtx.Lineage()[1], name)
		},
	}
}

// rootFlags are the root's flags: the build's, and --help (see helpCommand).
func rootFlags() []cli.Flag { return append(buildFlags(), cli.HelpFlag) }
