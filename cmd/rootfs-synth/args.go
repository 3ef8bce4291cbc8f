package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// The flag rule of every rootfs-synth command, the root one included:
// flags may stand anywhere before "--", before or after the arguments
// (`mkfs SRC -o IMG` and `mkfs -o IMG SRC` are the same); everything after
// "--" is an argument. A flag that takes a value takes the next word (or
// the part after "="); a flag missing its value, a flag given an empty
// value (`-o ""`, `--lock=`: never a silent default), an unknown flag and a
// missing required flag are usage errors, exit status 2.
//
// urfave/cli/v2 stops parsing flags at the first argument, so main
// rearranges the command line with arrangeArgs before the App sees it:
// flags first, then the arguments. A new command (or the root `build`
// action) gets the rule by being in the App; nothing else to do.

// usageError is a command line that does not follow the rules above.
func usageError(format string, args ...any) error {
	return cli.Exit(fmt.Sprintf(format, args...), 2)
}

// arrangeArgs rewrites args (os.Args without the program name) for app:
// at each level (the root, then the named command) the flags with their
// values move before the arguments, "--" goes in front of the arguments
// when one of them looks like a flag, and missing values or required flags
// are reported as usage errors.
func arrangeArgs(app *cli.App, args []string) ([]string, error) {
	return arrangeLevel("", app.Flags, app.Commands, args)
}

// arrangeLevel arranges args for one level; prefix names the command in
// errors ("mkfs: ", or "" at the root).
func arrangeLevel(prefix string, flags []cli.Flag, commands []*cli.Command, args []string) ([]string, error) {
	takesValue := map[string]bool{}
	always := []cli.Flag{cli.HelpFlag, cli.BashCompletionFlag}
	if prefix == "" {
		always = append(always, cli.VersionFlag)
	}
	for _, f := range slices.Concat(flags, always) {
		v := true
		if d, ok := f.(cli.DocGenerationFlag); ok {
			v = d.TakesValue()
		}
		for _, n := range f.Names() {
			takesValue[n] = v
		}
	}
	var front, back []string
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			back = append(back, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			if cmd := findCommand(commands, a); cmd != nil && len(back) == 0 {
				rest, err := arrangeLevel(prefix+cmd.Name+": ", cmd.Flags, cmd.Subcommands, args[i+1:])
				if err != nil {
					return nil, err
				}
				return append(append(front, a), rest...), nil
			}
			back = append(back, a)
			continue
		}
		front = append(front, a)
		flag, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		seen[flag] = true
		v, known := takesValue[flag]
		if !known {
			return nil, unknownFlag(prefix, strings.TrimSuffix(a, "="+value), slices.Sorted(maps.Keys(takesValue)))
		}
		if !v {
			continue // a bool flag
		}
		if !hasValue {
			if i+1 == len(args) || args[i+1] == "--" {
				return nil, usageError("%sflag %s needs a value", prefix, a)
			}
			i++
			value = args[i]
			front = append(front, value)
		}
		if value == "" {
			return nil, usageError("%sflag %s: empty value (leave the flag out for its default)", prefix, strings.TrimSuffix(a, "="))
		}
	}
	if !seen["help"] && !seen["h"] {
		if err := checkRequired(prefix, flags, seen); err != nil {
			return nil, err
		}
	}
	for _, a := range back {
		if len(a) > 1 && a[0] == '-' {
			front = append(front, "--")
			break
		}
	}
	return append(front, back...), nil
}

// checkRequired reports the first required flag not in seen. urfave's own
// check would report it too, but after printing the help, and with exit
// status 1.
func checkRequired(prefix string, flags []cli.Flag, seen map[string]bool) error {
	for _, f := range flags {
		r, ok := f.(cli.RequiredFlag)
		if !ok || !r.IsRequired() {
			continue
		}
		found := false
		for _, n := range f.Names() {
			found = found || seen[n]
		}
		if !found {
			return usageError("%sflag --%s is required", prefix, f.Names()[0])
		}
	}
	return nil
}

func findCommand(commands []*cli.Command, name string) *cli.Command {
	for _, c := range commands {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// exitStatus is the process's exit status for an error returned by the
// App: 2 for usage errors, else 1.
func exitStatus(err error) int {
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// onUsageError makes urfave's own usage errors (an unknown flag, a value
// that does not parse) one line and exit status 2, like arrangeArgs's.
func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	if isSubcommand {
		return usageError("%s: %v", c.Command.Name, err)
	}
	return usageError("%v", err)
}
