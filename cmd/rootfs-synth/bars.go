package main

import (
	"os"
	"time"

	"github.com/vbauerster/cupwriter"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// startBars opens the bar container of a phase (terminal only).
func (u *ui) startBars() {
	if !u.tty {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bars == nil {
		f := u.w.(*os.File) // u.tty says it is one
		cw := cupwriter.New(lineStart{f}, false)
		cw.SetTermFd(int(f.Fd()))
		u.bars = mpb.New(mpb.WithConsoleWriter(cw), mpb.WithWidth(40), mpb.WithRefreshRate(120*time.Millisecond))
	}
}

// lineStart writes each render of the bars from the start of the line.
// The terminal echoes a Ctrl-C as "^C" where the cursor is, below the
// bars; mpb then moves up from that column and would draw the bars two
// characters to the right of where it erased ("^Cdownload ..." on the
// screen for good when no render follows).
type lineStart struct{ f *os.File }

func (l lineStart) Write(b []byte) (int, error) {
	if _, err := l.f.Write(append([]byte{'\r'}, b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// addBar adds a bar to the running container; nil when there is none.
func (u *ui) addBar(name string, total int64, bytes bool, opts ...mpb.BarOption) *mpb.Bar {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bars == nil {
		return nil
	}
	counter := decor.CountersNoUnit("%d / %d", decor.WCSyncWidth)
	if bytes {
		counter = decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncWidth)
	}
	opts = append(opts,
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(counter, decor.Name(" "), decor.Percentage(decor.WCSyncSpace)))
	b := u.bars.AddBar(total, opts...)
	u.open = append(u.open, b)
	return b
}

// endBars completes (ok) or aborts the phase's bars and waits for the
// last render, so the next output starts below them.
func (u *ui) endBars(ok bool) {
	u.mu.Lock()
	bars, open := u.bars, u.open
	u.bars, u.open = nil, nil
	u.dlBar, u.dlTotal, u.provBar = nil, nil, nil
	u.mu.Unlock()
	if bars == nil {
		return
	}
	for _, b := range open {
		if ok {
			b.SetTotal(-1, true)
		} else {
			b.Abort(false)
		}
	}
	bars.Wait()
}
