package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// interruptContext is canceled by SIGINT, SIGTERM or SIGHUP, with a cause
// naming the signal; every step stops at its next check and removes what
// it had begun.
func interruptContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		select {
		case s := <-sigs:
			// A second signal gets the default action: a person pressing
			// Ctrl-C again wants out now, cleanup or not.
			signal.Stop(sigs)
			cancel(interrupted{s})
		case <-ctx.Done():
		}
	}()
	return ctx, func() { signal.Stop(sigs); cancel(nil) }
}

// interrupted is the cause of a context canceled by a signal.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return "interrupted by " + signalName(i.sig) }

// interruptedStatus is the exit status after the signal that canceled
// ctx, 128+n as shells expect of a process a signal ended (130 after
// SIGINT, 143 after SIGTERM, 129 after SIGHUP); ok is false when no
// signal did.
func interruptedStatus(ctx context.Context) (status int, ok bool) {
	var i interrupted
	if !errors.As(context.Cause(ctx), &i) {
		return 0, false
	}
	n, _ := i.sig.(syscall.Signal)
	return 128 + int(n), true
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}
