package apk

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// These tests drive the transport alone (one GET, the mirror loop) with
// plain bytes; client_test.go drives it with real repositories.

func TestOpenClassifiesResponses(t *testing.T) {
	tests := []struct {
		status        int
		wantErr       bool
		wantTransient bool
		wantNotFound  bool
	}{
		{http.StatusOK, false, false, false},
		{http.StatusNotFound, true, false, true},
		{http.StatusGone, true, false, true},
		{http.StatusForbidden, true, false, false},
		{http.StatusUnauthorized, true, false, false},
		{http.StatusRequestTimeout, true, true, false},
		{http.StatusTooManyRequests, true, true, false},
		{http.StatusInternalServerError, true, true, false},
		{http.StatusBadGateway, true, true, false},
		{http.StatusServiceUnavailable, true, true, false},
		{http.StatusNotModified, true, false, false}, // to an unconditional request
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
			io.WriteString(w, "body")
		}))
		c := &Client{}
		d, err := c.open(context.Background(), srv.URL+"/x", validators{})
		if d != nil && d.body != nil {
			d.body.Close()
		}
		srv.Close()
		var se *statusError
		notFound := errors.As(err, &se) && se.notFound()
		if (err != nil) != tt.wantErr || isTransient(err) != tt.wantTransient || notFound != tt.wantNotFound {
			t.Errorf("open(status %d) = err %v (transient %v, not found %v), want error %v, transient %v, not found %v",
				tt.status, err, isTransient(err), notFound, tt.wantErr, tt.wantTransient, tt.wantNotFound)
		}
	}
}

func TestOpenConditional(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		io.WriteString(w, "data")
	}))
	defer srv.Close()
	c := &Client{}
	d, err := c.open(context.Background(), srv.URL, validators{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(d.body)
	d.body.Close()
	if string(b) != "data" || d.validators.ETag != `"v1"` {
		t.Fatalf("open() = %q, ETag %q, want %q, %q", b, d.validators.ETag, "data", `"v1"`)
	}
	d, err = c.open(context.Background(), srv.URL, d.validators)
	if err != nil || !d.notModified {
		t.Fatalf("open(ETag) = %+v, %v, want not modified", d, err)
	}
}

// TestOpenStall proves a response whose headers or body stop arriving
// fails after the timeout, as a transient error, while a slow body that
// keeps moving does not.
func TestOpenStall(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/headers" {
			select { // no response at all
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Length", "1000")
		if r.URL.Path == "/slow" {
			for range 10 {
				w.Write(make([]byte, 100))
				w.(http.Flusher).Flush()
				time.Sleep(250 * time.Millisecond)
			}
			return
		}
		w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	c := &Client{Timeout: 150 * time.Millisecond}

	d, err := c.open(context.Background(), srv.URL+"/stall", validators{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(d.body)
	d.body.Close()
	var stall *stallError
	if !errors.As(err, &stall) || !isTransient(d.body.failed(err)) {
		t.Fatalf("reading a stalled body: err = %v, want a transient stall error", err)
	}

	_, err = c.open(context.Background(), srv.URL+"/headers", validators{})
	if !errors.As(err, &stall) || !isTransient(err) {
		t.Fatalf("waiting for headers that never come: err = %v, want a transient stall error", err)
	}

	// A body that moves every 250 ms takes longer than a timeout of 2 s
	// (gaps far shorter than it, even on a loaded machine), above a rate
	// floor of 1 byte/s: not a stall.
	slow := &Client{Timeout: 2 * time.Second, MinRate: 1}
	d, err = slow.open(context.Background(), srv.URL+"/slow", validators{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(d.body)
	d.body.Close()
	if err != nil || len(b) != 1000 {
		t.Fatalf("reading a slow but moving body (2.5 s, timeout 2 s) = %d bytes, %v, want 1000, nil", len(b), err)
	}
}

func TestWithMirrors(t *testing.T) {
	tests := []struct {
		name      string
		statuses  [2]int // per mirror
		retries   int
		wantCalls [2]int32
		wantErr   string // substring; "" = success
	}{
		{"first ok", [2]int{200, 200}, 0, [2]int32{1, 0}, ""},
		{"failover on 500", [2]int{500, 200}, 0, [2]int32{1, 1}, ""},
		{"failover on 404", [2]int{404, 200}, 0, [2]int32{1, 1}, ""},
		{"failover on 403", [2]int{403, 200}, 0, [2]int32{1, 1}, ""},
		{"404 everywhere", [2]int{404, 404}, 2, [2]int32{1, 1}, "not found on any mirror"},
		{"500 everywhere", [2]int{500, 503}, 2, [2]int32{3, 3}, "(3 attempts per mirror)"},
		{"500 and 404", [2]int{500, 404}, 1, [2]int32{2, 1}, "404 Not Found"},
		{"403 no retry", [2]int{403, 403}, 2, [2]int32{1, 1}, "403 Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls [2]atomic.Int32
			var urls []string
			for i := range 2 {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					calls[i].Add(1)
					w.WriteHeader(tt.statuses[i])
				}))
				defer srv.Close()
				urls = append(urls, srv.URL)
			}
			c := &Client{Retries: tt.retries, RetryDelay: time.Millisecond}
			if tt.retries == 0 {
				c.Retries = -1
			}
			err := c.withMirrors(context.Background(), "thing", urls, func(ctx context.Context, base string) error {
				d, err := c.open(ctx, base+"/f", validators{})
				if err == nil {
					d.body.Close()
				}
				return err
			})
			got := [2]int32{calls[0].Load(), calls[1].Load()}
			if got != tt.wantCalls {
				t.Errorf("requests per mirror = %v, want %v", got, tt.wantCalls)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("withMirrors() = %v, want error containing %q", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "fetching thing") {
				t.Errorf("withMirrors() = %v, want it to name what was fetched", err)
			}
		})
	}
}

func TestWithMirrorsStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{RetryDelay: time.Hour}
	n := 0
	err := c.withMirrors(ctx, "thing", []string{"a"}, func(context.Context, string) error {
		n++
		cancel()
		return transient(errors.New("boom"))
	})
	if !errors.Is(err, context.Canceled) || n != 1 {
		t.Fatalf("withMirrors(cancelled) = %v after %d tries, want context.Canceled after 1", err, n)
	}
}

// TestOpenQuotesStatus: the reason phrase is the server's text and reaches
// the terminal only quoted.
func TestOpenQuotesStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, _ := w.(http.Hijacker).Hijack()
		defer conn.Close()
		buf.WriteString("HTTP/1.1 503 \x1b]0;owned\x07\x1b[2J\r\nContent-Length: 0\r\n\r\n")
		buf.Flush()
	}))
	defer srv.Close()
	c := &Client{}
	_, err := c.open(context.Background(), srv.URL+"/x", validators{})
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07") || !strings.Contains(err.Error(), `"503 \x1b]0;owned\a\x1b[2J"`) {
		t.Errorf("open(status with escape sequences) = %q, want the status quoted", err)
	}
}
