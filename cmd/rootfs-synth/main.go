// Command rootfs-synth builds Alpine Linux root filesystem images for
// Firecracker microVMs without root, mount, chroot or mke2fs.
//
// Each subcommand lives in its own file (mkfs.go, resolve.go, ...) and
// returns its *cli.Command; this file only assembles them and owns the
// command line's flag rule (args.go), the signals and the exit status.
//
// Exit status: 0 on success, 2 for every usage error (a flag, command or
// value that cannot work: args.go's usageError, urfave's parse errors,
// build.ErrUsage), 1 for any other failure. SIGINT, SIGTERM and SIGHUP
// cancel the context every command runs under: the command stops,
// removes what it had half written, prints one line on stderr and exits
// with status 128+n as shells expect of a signal (130, 143, 129), so a
// script's `cmd || exit` and `wait` see the interruption. A second signal
// is not caught: it ends the process at once, for a command stuck where
// it cannot see the cancellation.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

func main() {
	// net/http reports some faults of a server on its own, through the
	// standard logger ("Unsolicited response received on idle HTTP
	// channel" when a response runs past its Content-Length, HTTP/2
	// header complaints): lines of the server's making on stderr, beside
	// the one error line. The fault itself, when it matters, fails the
	// request and reaches that line; nothing here logs through the
	// standard logger, so it goes nowhere.
	log.SetOutput(io.Discard)
	// The wall clock is read here, once; commands get it as a value.
	now := time.Now()
	keepHeapNearLive() // memory.go
	// SIGINT, SIGTERM and SIGHUP cancel ctx, with a cause naming the
	// signal; a second one takes its default action.
	ctx, stop := interruptContext(context.Background())
	code := run(ctx, newApp(now), os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run runs app on args (without the program name) and returns the exit
// status, having printed any error as one line on stderr.
func run(ctx context.Context, app *cli.App, args []string, stderr io.Writer) int {
	arranged, err := arrangeArgs(app, args)
	if len(args) > 0 && args[len(args)-1] == "--generate-bash-completion" {
		arranged, err = args, nil // urfave wants it last: a completion, not a run
	}
	if err == nil {
		err = app.RunContext(ctx, append([]string{app.Name}, arranged...))
	}
	if err != nil {
		status, interrupted := interruptedStatus(ctx)
		if f, ok := stderr.(*os.File); ok && interrupted && term.IsTerminal(int(f.Fd())) {
			io.WriteString(stderr, "\r\x1b[K") // over the terminal's echo of ^C
		}
		fmt.Fprintf(stderr, "%s: %v\n", app.Name, err)
		if interrupted {
			return status
		}
		return exitStatus(err)
	}
	return 0
}

// newApp assembles the commands; now is the build's wall-clock time.
func newApp(now time.Time) *cli.App {
	app := &cli.App{
		Name:  "rootfs-synth",
		Usage: "build Alpine Linux root filesystem images for Firecracker, rootless",
		// help.go, version.go
		UsageText: buildUsageText, CustomAppHelpTemplate: buildHelpTemplate, Version: appVersion(),
		// Without a command, the app builds an image (build.go).
		Flags:  rootFlags(), // help.go
		Action: runBuild,
		Commands: []*cli.Command{
			mkfsCommand(now),
			patchCommand(now),
			resolveCommand(),
			lsCommand(),
			catCommand(),
			fetchCommand(),
			planCommand(), whyCommand(), profilesCommand(),
			pushCommand(), pullCommand(),
			inspectCommand(),
			diffCommand(),
			versionCommand(),
			sbomCommand(),
			initCommand(),
			helpCommand(),
			completionCommand(),
		},
		EnableBashCompletion: true, // completion.go
		OnUsageError:         onUsageError,
		// Errors are printed once, by run.
		ExitErrHandler: func(*cli.Context, error) {},
	}
	for _, c := range app.Commands {
		c.OnUsageError = onUsageError
	}
	return app
}
