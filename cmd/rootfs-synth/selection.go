package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/build"
	"github.com/rootfs-synth/rootfs-synth/profiles"
)

// selectionFlags choose what a build or a fetch installs and from where:
// the shell builder's --profile and --branch, then ours.
func selectionFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{
			Name:  "profile",
			Value: profiles.Default,
			Usage: "package profile `NAME`: " + strings.Join(profiles.Names(), ", ") +
				", a path to a profile file (one atom per line, # comments), or none",
		},
		&cli.StringFlag{Name: "branch", Value: build.DefaultBranch, Usage: "Alpine `BRANCH` of the mirror's repositories"},
		&cli.StringSliceFlag{
			Name:    "packages",
			Aliases: []string{"p"},
			Usage:   "add `ATOM`s to the profile (repeatable; spaces or commas separate several)",
		},
		&cli.GenericFlag{
			Name:  "mirror",
			Value: &lineList{},
			Usage: "Alpine mirror `URL` (or directory laid out as a mirror; repeatable, tried in order); its " +
				"<branch>/main and <branch>/community are the repositories (default " + build.DefaultMirror + "; none: only the --repository ones)",
		},
		&cli.StringFlag{Name: "lock", Usage: "build exactly the packages of the build report `FILE` of an earlier build (instead of --profile and --packages)"},
	}
	return append(flags, apkClientFlags()...)
}

// selectionOptions are the build.Options of the selection and apk client
// flags, with the files they name read (a profile file, a lock, keys).
func selectionOptions(cCtx *cli.Context) (build.Options, error) {
	opts := build.Options{
		Mirrors:        cCtx.Generic("mirror").(*lineList).values,
		Repositories:   cCtx.Generic("repository").(*lineList).values,
		AllowUntrusted: cCtx.Bool("allow-untrusted"),
		CacheDir:       cCtx.String("cache-dir"),
		Offline:        cCtx.Bool("offline"),
	}
	if err := checkArchFlag(cCtx); err != nil {
		return opts, err
	}
	if cCtx.IsSet("arch") {
		opts.Arch = cCtx.String("arch")
	}
	if cCtx.IsSet("branch") { // else the lock's, or the default
		opts.Branch = cCtx.String("branch")
	}
	packages := packageAtoms(cCtx.StringSlice("packages"))
	if len(cCtx.StringSlice("packages")) > 0 && len(packages) == 0 {
		return opts, usageError("flag -p: empty value (leave the flag out for its default)")
	}
	if lock := cCtx.String("lock"); lock != "" {
		if cCtx.IsSet("profile") || len(packages) > 0 {
			return opts, usageError("--lock builds exactly the locked packages: give it without --profile and --packages")
		}
		data, err := readFlagFile("--lock", lock, maxLockSize)
		if err != nil {
			return opts, err
		}
		if opts.Lock, err = build.ReadReport(bytes.NewReader(data)); err != nil {
			return opts, fmt.Errorf("reading --lock %s: %w", lock, err)
		}
	} else {
		profile, atoms, err := profileFlag(cCtx.String("profile"))
		if err != nil {
			return opts, err
		}
		opts.Profile, opts.Packages = profile, append(atoms, packages...)
	}
	if dir := cCtx.String("keys-dir"); dir != "" {
		opts.Keys = apk.NewKeyRing()
		if err := opts.Keys.AddDir(dir); err != nil {
			return opts, fmt.Errorf("--keys-dir: %w", err)
		}
	}
	if opts.AllowUntrusted {
		warnUntrusted(cCtx.App.ErrWriter)
	}
	return opts, nil
}

// checkArchFlag refuses an --arch that is not a plain arch name: it is a
// directory of the cache and of the repositories' URLs. Without
// --keys-dir or --allow-untrusted, it must be one Alpine has keys for.
func checkArchFlag(cCtx *cli.Context) error {
	arch := cCtx.String("arch")
	if err := apk.CheckArch(arch); err != nil {
		return usageError("--%v", err)
	}
	if _, err := apk.AlpineKeys(arch); err != nil && cCtx.String("keys-dir") == "" && !cCtx.Bool("allow-untrusted") {
		return unknownArch(arch)
	}
	return nil
}

// checkGivenArch is checkArchFlag for a command whose --arch has no
// default to check (push, pull, inspect, diff): only when it is given.
func checkGivenArch(cCtx *cli.Context) error {
	if !cCtx.IsSet("arch") {
		return nil
	}
	return checkArchFlag(cCtx)
}

// packageAtoms splits --packages values at spaces and commas, as the
// shell builder's list was split.
func packageAtoms(values []string) []string {
	var atoms []string
	for _, v := range values {
		atoms = append(atoms, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })...)
	}
	return atoms
}

// profileFlag is --profile as build.Options take it: a built-in profile
// or none by name, else the atoms of the profile file it names.
func profileFlag(profile string) (string, []string, error) {
	if profile == "none" || slices.Contains(profiles.Names(), profile) {
		return profile, nil, nil
	}
	data, err := readFlagFile("--profile", profile, maxProfileSize)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			names := slices.Concat(profiles.Names(), []string{"none"})
			return "", nil, usageError("--profile %q: no such profile (%s) and no such file%s",
				profile, strings.Join(names, ", "), didYouMean(profile, names))
		}
		return "", nil, err
	}
	atoms, err := profiles.Parse(bytes.NewReader(data), profile)
	if err != nil {
		return "", nil, fmt.Errorf("reading profile: %w", err)
	}
	return "none", atoms, nil
}

// optionFlags name the build.Options fields by their flags, for errors.
var optionFlags = map[string]string{
	"Branch":           "--branch",
	"Arch":             "--arch",
	"Profile":          "--profile",
	"Packages":         "--packages",
	"Profile/Packages": "--profile/--packages",
	"Mirrors":          "--mirror",
	"Repositories":     "--repository",
	"Keys":             "--keys-dir",
	"Hostname":         "--hostname",
	"Report":           "--report",
	"SBOM":             "--sbom",
	"Size":             "--size",

	"GuestRepositories": "--guest-repository",
	"NoShrink":          "--no-shrink",
	"NoJournal":         "--no-journal",
	"Files":             "--files",
	"AuthorizedKeys":    "--authorized-keys",
	"Time":              "SOURCE_DATE_EPOCH",
}

// optionField is how package build's messages name an Options field.
var optionField = regexp.MustCompile(`Options\.[A-Za-z]+`)

// flagError makes an error of the build package say what a person typed:
// an *build.OptionError names the flag (and --lock its file) instead of
// the field, and one matching build.ErrUsage is a usage error (exit 2).
// It is one line (see oneLine).
func flagError(err error, lockPath string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var oe *build.OptionError
	if errors.As(err, &oe) {
		flag := optionFlags[oe.Option]
		if oe.Option == "Lock" {
			flag = fmt.Sprintf("--lock %q", lockPath)
		}
		if flag != "" {
			sep := ": "
			if strings.HasPrefix(oe.Err.Error(), "is ") {
				sep = " " // `--report "x" is the image`
			}
			named := flag + sep + oe.Err.Error()
			if oe.Value != "" {
				named = fmt.Sprintf("%s %q%s%v", flag, oe.Value, sep, oe.Err)
			}
			msg = strings.Replace(msg, oe.Error(), named, 1)
		}
	}
	// The library's sentences name its fields ("give Options.Keys"): a
	// person reads the flags.
	msg = optionField.ReplaceAllStringFunc(msg, func(f string) string {
		if flag := optionFlags[strings.TrimPrefix(f, "Options.")]; flag != "" {
			return flag
		}
		return f
	})
	msg += hint(err)
	if errors.Is(err, build.ErrUsage) {
		return cli.Exit(oneLine(errors.New(msg)).Error(), 2)
	}
	if msg != err.Error() {
		err = renamed{msg, err}
	}
	return oneLine(err)
}

// renamed is an error that says msg, and unwraps to the error it says
// differently.
type renamed struct {
	msg string
	err error
}

func (r renamed) Error() string { return r.msg }
func (r renamed) Unwrap() error { return r.err }
