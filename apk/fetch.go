package apk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// This file is the transport under Client: one GET of one URL (http, https
// or file) with stall detection, and the loop that tries a repository's
// mirrors in order with bounded, deterministic retries.

// validators are the HTTP cache validators of a stored response, sent back
// as If-None-Match / If-Modified-Since to refresh it conditionally.
type validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// download is an open response body.
type download struct {
	body        *watchedBody // nil when notModified
	size        int64        // Content-Length, or -1
	validators  validators
	notModified bool
}

// statusError is an HTTP response other than 200 (or 304 to a conditional
// request).
type statusError struct {
	url    string
	status int
	text   string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: %q", e.url, e.text) // the server's words
}

// notFound reports whether the mirror says it does not have the file.
func (e *statusError) notFound() bool {
	return e.status == http.StatusNotFound || e.status == http.StatusGone
}

// stallError is a response whose headers did not arrive within the
// client's Timeout, or whose body brought fewer bytes in one Timeout
// window than MinRate asks for.
type stallError struct {
	url    string
	window time.Duration
	got    int64 // bytes in the window; -1 while waiting for the headers
	rate   int64 // the minimum, bytes/s
}

func (e *stallError) Error() string {
	switch {
	case e.got < 0:
		return fmt.Sprintf("%s: stalled: no response within %v", e.url, e.window)
	case e.got == 0:
		return fmt.Sprintf("%s: stalled: no data for %v", e.url, e.window)
	}
	return fmt.Sprintf("%s: too slow: %d bytes in %v, under the minimum of %d bytes/s", e.url, e.got, e.window, e.rate)
}

// transientError marks a failure worth retrying: a connection error, a
// server error, a stall, a body cut short. Everything else (a 404, a
// package that does not verify, a local file error) is final for that
// mirror, though the next mirror is still tried.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func transient(err error) error { return &transientError{err} }

func isTransient(err error) bool {
	var t *transientError
	return errors.As(err, &t)
}

// open starts a GET of rawURL. For a file:// URL it opens the file; its
// size and modification time act as the ETag.
func (c *Client) open(ctx context.Context, rawURL string, v validators) (*download, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parsing URL %q: %w", rawURL, err)
	}
	if u.Scheme == "file" {
		return openFile(u.Path, rawURL, v)
	}

	timeout := c.timeout()
	ctx, cancel := context.WithCancelCause(ctx)
	stall := &stallError{url: rawURL, window: timeout, got: -1}
	timer := time.AfterFunc(timeout, func() { cancel(stall) })
	fail := func(err error) (*download, error) {
		timer.Stop()
		cancel(nil)
		return nil, err
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fail(fmt.Errorf("making request for %s: %w", rawURL, err))
	}
	req.Header.Set("User-Agent", userAgent)
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	proxy, _ := http.ProxyFromEnvironment(req) // the one newDefaultHTTP's client will use
	req = req.WithContext(withDialPolicy(ctx, u, proxy))
	resp, err := c.httpClient().Do(req)
	if err != nil {
		if context.Cause(ctx) == stall {
			return fail(transient(stall))
		}
		var refused *redirectError
		if errors.As(err, &refused) {
			return fail(refused) // asking again gets the same redirect
		}
		if ctx.Err() != nil {
			// The caller's context ended: not a mirror's fault.
			return fail(err)
		}
		return fail(transient(&connError{url: rawURL, err: err}))
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotModified && (v.ETag != "" || v.LastModified != ""):
		resp.Body.Close()
		timer.Stop()
		cancel(nil)
		return &download{notModified: true, validators: v}, nil
	default:
		resp.Body.Close()
		err := &statusError{url: rawURL, status: resp.StatusCode, text: resp.Status}
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout ||
			resp.StatusCode == http.StatusTooManyRequests {
			return fail(transient(err))
		}
		return fail(err)
	}
	timer.Stop()
	body := &watchedBody{r: resp.Body, url: rawURL, ctx: ctx, cancel: cancel}
	go body.watch(timeout, c.minRate())
	return &download{
		body: body,
		size: resp.ContentLength,
		validators: validators{
			ETag:         resp.Header.Get("ETag"),
			LastModified: resp.Header.Get("Last-Modified"),
		},
	}, nil
}

func openFile(path, rawURL string, v validators) (*download, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &statusError{url: rawURL, status: http.StatusNotFound, text: "no such file"}
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", rawURL)
	}
	etag := fmt.Sprintf(`"%x-%x"`, st.Size(), st.ModTime().UnixNano())
	if v.ETag == etag {
		f.Close()
		return &download{notModified: true, validators: v}, nil
	}
	return &download{
		body:       &watchedBody{r: f, url: rawURL},
		size:       st.Size(),
		validators: validators{ETag: etag},
	}, nil
}

// watchedBody is a response body that fails once it brings too few bytes
// in a window (see Client.MinRate), and remembers whether reading it
// failed, so that a caller can tell a broken transfer (worth a retry) from
// bad content.
type watchedBody struct {
	r       io.ReadCloser
	url     string
	ctx     context.Context         // nil for files
	cancel  context.CancelCauseFunc // nil for files
	n       atomic.Int64            // bytes read, for the watchdog
	readErr error                   // the first read error other than io.EOF
}

// watch cancels the body's request, with a *stallError as the cause, at
// the end of the first window of the given length in which fewer than
// minRate bytes per second (and at least one byte) arrived. It returns when
// the body is closed. A rate, not a wait per read, is what a trickling
// mirror cannot satisfy.
func (b *watchedBody) watch(window time.Duration, minRate int64) {
	want := max(1, minRate*int64(window)/int64(time.Second))
	tick := time.NewTicker(window)
	defer tick.Stop()
	var last int64
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-tick.C:
		}
		n := b.n.Load()
		if n-last < want {
			b.cancel(&stallError{url: b.url, window: window, got: n - last, rate: minRate})
			return
		}
		last = n
	}
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n.Add(int64(n))
	if err != nil && err != io.EOF {
		var stall *stallError
		if b.ctx != nil && errors.As(context.Cause(b.ctx), &stall) {
			err = stall
		} else {
			err = fmt.Errorf("reading %s: %w", b.url, err)
		}
		if b.readErr == nil {
			b.readErr = err
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	if b.cancel != nil {
		b.cancel(nil)
	}
	return b.r.Close()
}

// failed classifies err, returned by code that consumed the body: a read
// failure of the body is transient whatever the consumer made of it.
func (b *watchedBody) failed(err error) error {
	if b.readErr != nil {
		return transient(b.readErr)
	}
	return err
}

// ErrNotFound matches (errors.Is) a fetch that every mirror answered with
// 404 Not Found or 410 Gone.
var ErrNotFound = errors.New("not found on any mirror")

// mirrorFailure is the last error one mirror gave for one file.
type mirrorFailure struct {
	base string
	err  error
}

// withMirrors calls try with each base URL in order until one succeeds.
// When every mirror failed and some failures were transient, it waits
// (RetryDelay, doubling each round) and tries those mirrors again, at most
// Retries more rounds. The caller's context ending stops it at once.
func (c *Client) withMirrors(ctx context.Context, what string, bases []string, try func(ctx context.Context, base string) error) error {
	last := make([]mirrorFailure, len(bases))
	retries := c.retries()
	for round := 0; ; round++ {
		retry := false
		for i, base := range bases {
			if round > 0 && !isTransient(last[i].err) {
				continue // a 404 or bad content will not change
			}
			if dead := c.dead(base); dead != nil {
				last[i] = mirrorFailure{base, dead}
				continue
			}
			err := try(ctx, base)
			if err == nil {
				c.markUnreachable(ctx, last[:i], true)
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("fetching %s: %w", what, ctx.Err())
			}
			last[i] = mirrorFailure{base, err}
			if isTransient(err) {
				retry = true
			}
			if i < len(bases)-1 && !errors.Is(err, ErrUnreachable) {
				c.logger().Warn("mirror failed, trying the next", "what", what, "err", err)
			}
		}
		if !retry || round >= retries {
			c.markUnreachable(ctx, last, false)
			for i, f := range last {
				if dead := c.dead(f.base); dead != nil && errors.Is(f.err, ErrUnreachable) {
					last[i].err = dead // in the same words as a skipped one
				}
			}
			return failedOnAllMirrors(what, last, round+1)
		}
		delay := c.retryDelay() << round
		if delay > maxRetryDelay {
			delay = maxRetryDelay
		}
		// The error that ends the fetch, or the file arriving, says the
		// rest: a person needs no line per attempt.
		c.logger().Info("fetch failed, retrying", "what", what, "err", last[len(last)-1].err, "after", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("fetching %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
}

// markUnreachable remembers the mirrors whose last failure was a
// connection that got no response (see Client.markDead); served says
// whether a later mirror served the file.
func (c *Client) markUnreachable(ctx context.Context, failures []mirrorFailure, served bool) {
	for _, f := range failures {
		var ce *connError
		if f.err != nil && errors.As(f.err, &ce) {
			c.markDead(ctx, f.base, ce, served)
		}
	}
}

func failedOnAllMirrors(what string, last []mirrorFailure, rounds int) error {
	allNotFound := true
	for _, f := range last {
		var se *statusError
		if !errors.As(f.err, &se) || !se.notFound() {
			allNotFound = false
		}
	}
	if allNotFound {
		urls := make([]string, len(last))
		for i, f := range last {
			var se *statusError
			errors.As(f.err, &se)
			urls[i] = se.url
		}
		return fmt.Errorf("fetching %s: %w: %s", what, ErrNotFound, strings.Join(urls, ", "))
	}
	msgs := make([]string, len(last))
	for i, f := range last {
		msgs[i] = f.err.Error()
	}
	tries := ""
	if rounds > 1 {
		tries = fmt.Sprintf(" (%d attempts per mirror)", rounds)
	}
	// Wrap the first mirror's error so that errors.Is/As see a cause.
	return fmt.Errorf("fetching %s%s: %w", what, tries, &joinedError{msgs: msgs, first: last[0].err})
}

// joinedError prints every mirror's failure on one line and unwraps to the
// first mirror's.
type joinedError struct {
	msgs  []string
	first error
}

func (e *joinedError) Error() string { return strings.Join(e.msgs, "; ") }
func (e *joinedError) Unwrap() error { return e.first }
