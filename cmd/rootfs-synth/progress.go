package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"golang.org/x/term"

	"github.com/rootfs-synth/rootfs-synth/build"
)

// Verbosity levels of the ui.
const (
	levelQuiet   = -1 // errors only
	levelNormal  = 0  // a line per phase (or bars on a terminal), warnings, the summary
	levelVerbose = 1  // also a line per package and step
)

// ui is what a person sees on stderr while a build runs: progress bars
// (github.com/vbauerster/mpb/v8) when stderr is a terminal, plain log lines
// when it is not (a CI log, a pipe), nothing but errors with -q. One bar
// container lives per phase; lines printed while it runs go above the bars.
type ui struct {
	w      io.Writer
	level  int
	tty    bool
	report string // where the build report goes, for the provision line

	mu   sync.Mutex
	bars *mpb.Progress // of the running phase, terminal only
	open []*mpb.Bar    // bars of the running phase not yet complete

	// downloads (calls from apk.Client are serialized); the total bar
	// counts the bytes downloaded, of dlBytes: the phase's total less
	// what was found in the cache, as the fetch line counts them
	dlDone       map[string]int64
	dlBar        map[string]*mpb.Bar
	dlTotal      *mpb.Bar
	dlBytes      int64
	dlDownloaded int64

	// provisioning: one bar per step of provision's
	provBar map[string]*mpb.Bar

	// the image write: one byte bar per step of the pipeline's
	imageBars map[string]func(int64)
}

// newUI makes the ui for stderr w.
func newUI(w io.Writer, quiet, verbose bool) *ui {
	u := &ui{w: w, level: levelNormal}
	switch {
	case quiet:
		u.level = levelQuiet
	case verbose:
		u.level = levelVerbose
	}
	if f, ok := w.(*os.File); ok && u.level > levelQuiet {
		u.tty = term.IsTerminal(int(f.Fd()))
	}
	return u
}

// lineWriter is where log lines go: above the bars while they run.
type lineWriter struct{ u *ui }

func (l lineWriter) Write(b []byte) (int, error) {
	l.u.mu.Lock()
	bars := l.u.bars
	l.u.mu.Unlock()
	if bars != nil {
		if n, err := bars.Write(b); err == nil {
			return n, nil
		}
	}
	return l.u.w.Write(b)
}

// logf prints one line at the normal level.
func (u *ui) logf(format string, args ...any) {
	if u.level >= levelNormal {
		fmt.Fprintf(lineWriter{u}, format+"\n", args...)
	}
}

// debugf prints one line at the verbose level.
func (u *ui) debugf(format string, args ...any) {
	if u.level >= levelVerbose {
		fmt.Fprintf(lineWriter{u}, format+"\n", args...)
	}
}

// logger is the *slog.Logger for the libraries: warnings normally,
// informational messages with -v, errors only with -q (the error that
// ends the build is printed by main).
func (u *ui) logger() *slog.Logger {
	level := slog.LevelWarn
	switch u.level {
	case levelQuiet:
		level = slog.LevelError + 1
	case levelVerbose:
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(lineWriter{u}, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// event is the build's progress callback: a line per phase (bars on a
// terminal while it runs), and with -v a line per package and step.
func (u *ui) event(e build.Event) {
	switch {
	case e.Retry != nil:
		u.endBars(false)
		u.logf("%v; provisioning again from the verified packages", e.Retry)
	case e.Stats != nil: // a phase's end
		if e.Phase == "fetch" && u.dlTotal != nil && u.dlDownloaded == 0 {
			u.dlTotal.Abort(true) // all cached: no bar saying bytes came
		}
		u.endBars(true)
		u.phaseEnd(e)
	case e.Step == "" && e.Package == "" && e.Elapsed == 0: // a phase's start
		u.phaseStart(e)
	case e.Phase == "fetch":
		u.download(e)
	case e.Phase == "provision":
		u.provisionStep(e)
	case e.Phase == "write":
		u.imageStep(e)
	}
}

func (u *ui) phaseStart(e build.Event) {
	switch e.Phase {
	case "fetch":
		u.dlDone = make(map[string]int64)
		u.dlBar = make(map[string]*mpb.Bar)
		u.startBars()
		u.dlBytes, u.dlDownloaded = e.Total, 0
		u.dlTotal = u.addBar("download", e.Total, true, mpb.BarPriority(1<<30))
	case "provision", "write":
		u.startBars()
		u.imageBars = map[string]func(int64){}
	}
}

func (u *ui) phaseEnd(e build.Event) {
	s, took := e.Stats, roundDuration(e.Elapsed)
	switch e.Phase {
	case "resolve":
		u.logf("resolve: %d packages (%s) from %d repositories in %s", s.Packages, sizeString(s.Bytes), s.Repositories, took)
	case "fetch":
		u.logf("fetch: %d packages, %d from the cache, %s downloaded, in %s", s.Packages, s.Cached, sizeString(s.Bytes), took)
	case "provision":
		for _, sc := range s.Deferred {
			u.debugf("provision: %s %s deferred to the first boot: %s", sc.Package, sc.Script, sc.Why)
		}
		for _, sc := range s.NotReproduced {
			u.debugf("provision: %s %s not reproduced: %s", sc.Package, sc.Script, sc.Why)
		}
		u.logf("provision: %d files (%s) in %s%s", s.Files, sizeString(s.Bytes), took, u.scriptsNote(len(s.Deferred), len(s.NotReproduced)))
	case "write":
		u.logf("write: %s in %s", s.Path, took)
	}
}

// scriptsNote ends the provision line: how many scripts were deferred to
// the guest's first boot and how many not reproduced at all, and where to
// read which.
func (u *ui) scriptsNote(deferred, notReproduced int) string {
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{deferred, "deferred to the first boot"}, {notReproduced, "not reproduced"}} {
		switch {
		case c.n == 0:
		case len(parts) > 0:
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		case c.n == 1:
			parts = append(parts, "1 package script "+c.what)
		default:
			parts = append(parts, fmt.Sprintf("%d package scripts %s", c.n, c.what))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	where := "see which with -v or --report FILE"
	switch {
	case u.level >= levelVerbose:
		where = "listed above"
	case u.report == "-":
		where = "listed in the report on stdout"
	case u.report != "":
		where = "listed in the report, " + u.report
	}
	return fmt.Sprintf("; %s (%s)", strings.Join(parts, ", "), where)
}

// download shows a package's download: a bar per package in flight and
// one for the total on a terminal, a line per package with -v.
func (u *ui) download(p build.Event) {
	prev, seen := u.dlDone[p.Package]
	u.dlDone[p.Package] = p.Done
	complete := p.Total > 0 && p.Done >= p.Total
	if p.Cached {
		if !seen && u.dlTotal != nil {
			u.dlBytes -= p.Total
			u.dlTotal.SetTotal(u.dlBytes, false)
		}
		if complete {
			u.debugf("fetch: %s (%s, cached)", p.Package, sizeString(p.Total))
		}
		return
	}
	u.dlDownloaded += p.Done - prev
	if u.dlTotal != nil {
		u.dlTotal.IncrInt64(p.Done - prev)
	}
	if b := u.dlBar[p.Package]; b != nil {
		b.SetCurrent(p.Done)
	} else if !seen && !complete && u.dlTotal != nil {
		b = u.addBar(p.Package, p.Total, true, mpb.BarRemoveOnComplete())
		if b != nil {
			b.SetCurrent(p.Done)
			u.dlBar[p.Package] = b
		}
	}
	if complete {
		u.debugf("fetch: %s (%s, downloaded)", p.Package, sizeString(p.Total))
	}
}

// provisionStep shows provision's steps: a bar per step.
func (u *ui) provisionStep(e build.Event) {
	if e.Elapsed > 0 { // the step's end
		u.debugf("provision: %s in %s", e.Step, roundDuration(e.Elapsed))
		return
	}
	if u.provBar == nil {
		u.provBar = make(map[string]*mpb.Bar)
	}
	b, ok := u.provBar[e.Step]
	if !ok && e.Total > 0 {
		b = u.addBar(e.Step, e.Total, false)
		u.provBar[e.Step] = b
	}
	if b != nil {
		b.SetCurrent(e.Done)
	}
	if e.Package != "" {
		u.debugf("%s: %s (%d/%d)", e.Step, e.Package, e.Done, e.Total)
	}
}

// imageStep shows the image pipeline's steps as byte bars of the raw
// image's size, a bar per step as it starts.
func (u *ui) imageStep(e build.Event) {
	bar, ok := u.imageBars[e.Step]
	if !ok {
		bar = u.byteBar(e.Step, e.Total)
		u.imageBars[e.Step] = bar
	}
	bar(e.Done)
}

// byteBar returns a function that sets the done bytes of a new bar.
func (u *ui) byteBar(name string, total int64) func(done int64) {
	b := u.addBar(name, total, true)
	if b == nil {
		return func(int64) {}
	}
	return func(done int64) { b.SetCurrent(done) }
}

// close ends whatever bars still run (after an error or an interrupt).
func (u *ui) close() { u.endBars(false) }
