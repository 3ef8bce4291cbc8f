package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/profiles"
)

// profilesCommand is `rootfs-synth profiles list` and `profiles show NAME`.
func profilesCommand() *cli.Command {
	return &cli.Command{
		Name:  "profiles",
		Usage: "list the built-in profiles, or show one's packages",
		Action: func(cCtx *cli.Context) error {
			if cCtx.NArg() > 0 {
				return usageError("profiles: no command %q (list, show)", cCtx.Args().First())
			}
			return cli.ShowSubcommandHelp(cCtx)
		},
		Subcommands: []*cli.Command{
			{
				Name:   "list",
				Usage:  "list the built-in profiles: name, number of atoms, what each is for",
				Action: listProfiles,
			},
			{
				Name:      "show",
				Usage:     "print a built-in profile's description and its atoms, with the comment on each",
				ArgsUsage: "NAME",
				Action:    showProfile,
			},
		},
	}
}

func listProfiles(cCtx *cli.Context) error {
	if cCtx.NArg() > 0 {
		return usageError("profiles list: unexpected argument %q", cCtx.Args().First())
	}
	tw := tabwriter.NewWriter(cCtx.App.Writer, 0, 0, 2, ' ', 0)
	for _, name := range profiles.Names() {
		p, err := profiles.Describe(name)
		if err != nil {
			return fmt.Errorf("profiles list: %w", err)
		}
		if name == profiles.Default {
			name += " (default)"
		}
		fmt.Fprintf(tw, "%s\t%d atoms\t%s\n", name, len(p.Atoms), p.Summary())
	}
	return tw.Flush()
}

func showProfile(cCtx *cli.Context) error {
	if cCtx.NArg() != 1 {
		return usageError("profiles show: want one NAME (%s), got %d arguments", strings.Join(profiles.Names(), ", "), cCtx.NArg())
	}
	name := cCtx.Args().First()
	if !slices.Contains(profiles.Names(), name) {
		return usageError("profiles show %q: no such profile (%s)", name, strings.Join(profiles.Names(), ", "))
	}
	p, err := profiles.Describe(name)
	if err != nil {
		return fmt.Errorf("profiles show: %w", err)
	}
	var b strings.Builder
	b.WriteString(wrapWords(p.Description, 78) + "\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, a := range p.Atoms {
		fmt.Fprintf(tw, "%s\t%s\n", a.Atom, a.Comment)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\n%d atoms; build it with --profile %s (add more with -p)\n", len(p.Atoms), name)
	// An atom without a comment would end in the column's padding.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err = fmt.Fprint(cCtx.App.Writer, strings.Join(lines, "\n"))
	return err
}

// wrapWords breaks s into lines of at most width columns (a longer word
// stands alone), each ending in a newline.
func wrapWords(s string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range strings.Fields(s) {
		if n > 0 && n+1+len(w) > width {
			b.WriteString("\n")
			n = 0
		}
		if n > 0 {
			b.WriteString(" ")
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String() + "\n"
}
