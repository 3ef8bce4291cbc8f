package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/build"
)

// planFlags are the build's own flags, so that a build's command line
// with `plan` (or `why PKG`) in front shows what it would install; the
// ones that say where the image goes are taken and not used. --json is
// each command's own (build --dry-run --json prints plan's).
func planFlags(extra ...cli.Flag) []cli.Flag {
	flags := slices.DeleteFunc(buildFlags(), func(f cli.Flag) bool {
		return slices.Contains(f.Names(), "dry-run") || slices.Contains(f.Names(), "json")
	})
	return append(flags, extra...)
}

// planCommand is `rootfs-synth plan [build flags]`.
func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "print the packages a build would install, with sizes and why each is there, without building",
		Description: "Takes the build's own flags and resolves exactly as the build would (the same\n" +
			"profile, packages, lock, mirrors and repositories; the indexes go into the cache),\n" +
			"but downloads no package and writes no image. It prints each package with its\n" +
			"download and installed size (from the index) and what requires it: the world\n" +
			"(--profile, --packages), the packages that depend on it, or install_if; then the\n" +
			"totals, the repositories read and the guest's /etc/apk/repositories. Same as the\n" +
			"build's --dry-run. For the chain from the world to one package: rootfs-synth why PKG.",
		Flags:  planFlags(&cli.BoolFlag{Name: "json", Usage: "print the plan as JSON"}),
		Action: runPlan,
	}
}

// runPlan is the action of `plan` and of the build's --dry-run.
func runPlan(cCtx *cli.Context) error {
	if cCtx.NArg() > 0 {
		return usageError("plan: unexpected argument %q: it takes the build's flags only", cCtx.Args().First())
	}
	plan, err := planOf(cCtx, "plan")
	if err != nil {
		return err
	}
	if cCtx.Bool("json") {
		return writeJSON(cCtx.App.Writer, plan)
	}
	return printPlan(cCtx.App.Writer, plan)
}

// planOf is build.Plan of the build flags, with progress and warnings on
// stderr as for the build; errors start with the command's name.
func planOf(cCtx *cli.Context, name string) (*build.PlanResult, error) {
	flags := cCtx.App.Flags // the build's --dry-run
	if cCtx.Command != nil && cCtx.Command.Name != "" {
		flags = cCtx.Command.Flags
	}
	origins, err := applyConfig(cCtx, flags)
	if err != nil {
		return nil, err
	}
	if cCtx.String("report") == "-" {
		// A plan writes no report: stdout is the plan's (--json too).
		if err := cCtx.Set("report", ""); err != nil {
			return nil, err
		}
	}
	u := newUI(cCtx.App.ErrWriter, cCtx.Bool("quiet"), cCtx.Bool("verbose"))
	defer u.close()
	opts, err := buildOptions(cCtx)
	if err != nil {
		return nil, origins.rename(commandError(name, err, cCtx.String("lock")))
	}
	opts.Progress, opts.Logger = u.event, u.logger()
	plan, err := build.Plan(cCtx.Context, opts)
	if cause := context.Cause(cCtx.Context); cause != nil && err != nil {
		return nil, fmt.Errorf("%s: %w", name, cause)
	}
	if err != nil {
		return nil, origins.rename(commandError(name, err, cCtx.String("lock")))
	}
	return plan, nil
}

// printPlan prints a plan for people: a table of the packages, then the
// totals and the repositories.
func printPlan(w io.Writer, plan *build.PlanResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tVERSION\tDOWNLOAD\tINSTALLED\tWHY")
	for _, p := range plan.Packages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Name, p.Version, sizeString(p.Size), sizeString(p.InstalledSize), whyColumn(p))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	cached := ""
	if plan.CachedBytes > 0 {
		cached = fmt.Sprintf(" (%s of it in the cache)", sizeString(plan.CachedBytes))
	}
	_, err := fmt.Fprintf(w, "%d packages: %s to download%s, %s installed\nrepositories: %s\nthe guest's /etc/apk/repositories: %s\n",
		len(plan.Packages), sizeString(plan.DownloadBytes), cached, sizeString(plan.InstalledBytes),
		strings.Join(plan.Repositories, ", "), orNone(strings.Join(plan.GuestRepositories, ", ")))
	return err
}

// maxRequirers is how many requiring packages the WHY column names.
const maxRequirers = 3

// whyColumn says what requires p: the world (with the atom when it is not
// just the name), the packages that depend on it (with the atom when it
// names something else, such as a shared library), install_if.
func whyColumn(p build.PlannedPackage) string {
	var world, by, iif []string
	for _, r := range p.RequiredBy {
		switch {
		case r.By == "":
			world = append(world, atomUnlessName(r.Atom, p.Name))
		case r.InstallIf:
			iif = append(iif, r.By)
		default:
			by = append(by, r.By+dependencySuffix(r.Atom, p.Name))
		}
	}
	var parts []string
	if len(world) > 0 {
		parts = append(parts, strings.TrimSpace("world "+strings.Join(world, " ")))
	}
	if len(by) > 0 {
		more := ""
		if len(by) > maxRequirers {
			by, more = by[:maxRequirers], fmt.Sprintf(" and %d more", len(by)-maxRequirers)
		}
		parts = append(parts, "required by "+strings.Join(by, ", ")+more)
	}
	if len(iif) > 0 {
		parts = append(parts, "install_if "+strings.Join(iif, ", "))
	}
	return strings.Join(parts, "; ")
}

// dependencySuffix is " (atom)" for a dependency on another name than
// the package's own (a shared library, a command, a virtual package),
// else "": a version constraint on the package itself says little of why.
func dependencySuffix(atom, name string) string {
	if d, err := apk.ParseDependency(atom); err == nil && d.Name == name {
		return ""
	}
	return " (" + atom + ")"
}

// atomUnlessName is atom, or "" when it is only the package's name.
func atomUnlessName(atom, name string) string {
	if atom == name {
		return ""
	}
	return atom
}

// atomSuffix is " (atom)", or "" when the atom is only the package's name.
func atomSuffix(atom, name string) string {
	if a := atomUnlessName(atom, name); a != "" {
		return " (" + a + ")"
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// whyCommand is `rootfs-synth why PKG [build flags]`.
func whyCommand() *cli.Command {
	return &cli.Command{
		Name:      "why",
		Usage:     "print the chains from the world to a package a build would install",
		ArgsUsage: "PKG",
		Description: "Resolves as `rootfs-synth plan` does (the build's own flags) and prints, for each\n" +
			"world atom that leads to PKG, the shortest chain from it: the atom's package, each\n" +
			"package that its predecessor depends on (with the dependency when it names\n" +
			"something else, such as a shared library), and install_if where a package came\n" +
			"in by it. The shortest chains come first; --all prints every world atom's.",
		Flags:  planFlags(&cli.BoolFlag{Name: "all", Usage: fmt.Sprintf("print the chain from every world atom that leads to PKG, not the first %d", maxChains)}),
		Action: runWhy,
	}
}

// maxChains is how many chains `why` prints without --all.
const maxChains = 5

func runWhy(cCtx *cli.Context) error {
	if cCtx.NArg() != 1 {
		return usageError("why: want one PKG (e.g. rootfs-synth why musl), got %d arguments", cCtx.NArg())
	}
	name := cCtx.Args().First()
	plan, err := planOf(cCtx, "why")
	if err != nil {
		return err
	}
	chains, err := plan.Why(name)
	if err != nil {
		return fmt.Errorf("why: %w", err)
	}
	i := slices.IndexFunc(plan.Packages, func(p build.PlannedPackage) bool { return p.Name == name })
	w := cCtx.App.Writer
	fmt.Fprintf(w, "%s-%s is installed for %d world atom%s; the shortest chain from each:\n",
		name, plan.Packages[i].Version, len(chains), plural(len(chains)))
	shown := chains
	if len(shown) > maxChains && !cCtx.Bool("all") {
		shown = shown[:maxChains]
	}
	for _, c := range shown {
		var steps []string
		for _, s := range c {
			step := s.Package + dependencySuffix(s.Atom, s.Package)
			if first := len(steps) == 0; first {
				step = s.Package + atomSuffix(s.Atom, s.Package) // the world's atom as given
			}
			if s.InstallIf {
				step = s.Package + " (install_if " + s.Atom + ")"
			}
			steps = append(steps, step)
		}
		fmt.Fprintf(w, "  world: %s\n", strings.Join(steps, " -> "))
	}
	if n := len(chains) - len(shown); n > 0 {
		fmt.Fprintf(w, "  and %d more (--all)\n", n)
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// writeJSON writes v as indented JSON, as the build's report is written.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// commandError is err as flagError says it, prefixed with the command.
func commandError(name string, err error, lockPath string) error {
	err = flagError(err, lockPath)
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return cli.Exit(name+": "+err.Error(), ec.ExitCode())
	}
	return fmt.Errorf("%s: %w", name, err)
}
