package apk

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Redirect tests (issue 12, defect 18). Test mirrors are all on 127.0.0.1,
// so the rule for a mirror that is not on this machine is tested at the
// policy level and on the dialer with loopback addresses; nothing here
// sends a packet anywhere but 127.0.0.0/8.

func TestRefusedTarget(t *testing.T) {
	tests := []struct {
		ip         string
		loopbackOK bool
		refused    bool
	}{
		{"169.254.169.254", false, true}, // cloud metadata
		{"169.254.169.254", true, true},
		{"169.254.0.1", true, true},
		{"fe80::1", true, true},
		{"fe80::a9fe:a9fe", false, true},
		{"::ffff:169.254.169.254", false, true}, // IPv4-mapped
		{"fd00:ec2::254", true, true},           // AWS's IPv6 metadata
		{"100.100.100.200", true, true},         // Alibaba's metadata
		{"64:ff9b::a9fe:a9fe", true, true},      // NAT64 of 169.254.169.254
		{"64:ff9b::7f00:1", false, true},        // NAT64 of 127.0.0.1
		{"64:ff9b::9765:284", false, false},     // NAT64 of a public address
		{"fd00:ec2::253", false, false},         // another unique-local address
		{"0.0.0.0", true, true},
		{"::", true, true},
		{"224.0.0.1", false, true},
		{"ff02::1", false, true},
		{"127.0.0.1", false, true},
		{"127.0.0.2", false, true},
		{"::1", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"127.0.0.1", true, false},
		{"::1", true, false},
		{"151.101.2.132", false, false}, // a public mirror
		{"2a04:4e42::644", false, false},
		{"10.1.2.3", false, false}, // a mirror on the LAN
		{"192.168.1.10", true, false},
	}
	for _, tt := range tests {
		why := refusedTarget(netip.MustParseAddr(tt.ip), tt.loopbackOK)
		if (why != "") != tt.refused {
			t.Errorf("refusedTarget(%s, loopback allowed %v) = %q, want refused %v", tt.ip, tt.loopbackOK, why, tt.refused)
		}
	}
}

func TestCheckRedirect(t *testing.T) {
	const public = "https://dl-cdn.alpinelinux.org/alpine/v3.23/main/x86_64/APKINDEX.tar.gz"
	tests := []struct {
		origin, target string
		hops           int // requests so far
		want           string
	}{
		{public, "https://mirror.example.org/alpine/x", 1, ""},
		{public, "http://10.0.0.5/alpine/x", 1, ""},
		{public, "https://dl-cdn.alpinelinux.org:443/other", 1, ""}, // the mirror itself
		{public, "file:///etc/passwd", 1, "not http or https"},
		{public, "ftp://mirror.example.org/x", 1, "not http or https"},
		{public, "http://169.254.169.254/latest/meta-data/", 1, "link-local"},
		{public, "http://[fe80::1%25eth0]/", 1, "link-local"},
		{public, "http://[::ffff:169.254.169.254]/", 1, "link-local"},
		{public, "http://127.0.0.1:8080/x", 1, "loopback"},
		{public, "http://[::1]/x", 1, "loopback"},
		{public, "http://0.0.0.0:80/x", 1, "unspecified"},
		{public, "http://224.0.0.1/x", 1, "multicast"},
		{public, "https://mirror.example.org/x", 10, "more than 10 redirects"},
		{public, "https://mirror.example.org/x", 9, ""},
		{"http://127.0.0.1:8080/a", "http://127.0.0.1:9090/b", 1, ""},
		{"http://localhost:8080/a", "http://[::1]:9090/b", 1, ""},
		{"http://127.0.0.1:8080/a", "http://169.254.169.254/", 1, "link-local"},
		{"http://127.0.0.1:8080/a", "file:///etc/passwd", 1, "not http or https"},
	}
	for _, tt := range tests {
		var via []*http.Request
		for range tt.hops {
			via = append(via, &http.Request{URL: mustParse(t, tt.origin)})
		}
		err := checkRedirect(&http.Request{URL: mustParse(t, tt.target)}, via)
		var re *redirectError
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("checkRedirect(%s → %s) = %v, want it followed", tt.origin, tt.target, err)
		case tt.want != "" && (!errors.As(err, &re) || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("checkRedirect(%s → %s) = %v, want a refusal saying %q", tt.origin, tt.target, err, tt.want)
		}
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestDialCheckedRefusesBeforeConnecting: after a redirect from a mirror
// that is not on this machine, the dialer refuses a loopback address, as
// an IP or as a name resolving to it, before it connects: the listener
// never sees a connection. The same dial for a mirror on this machine
// connects, which shows the listener would have seen one.
func TestDialCheckedRefusesBeforeConnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctxFrom := func(origin string) context.Context {
		return withDialPolicy(context.Background(), mustParse(t, origin), nil)
	}
	remote := ctxFrom("https://dl-cdn.alpinelinux.org/alpine/v3.23/main/x86_64/APKINDEX.tar.gz")
	for _, addr := range []string{"127.0.0.1:" + port, "localhost:" + port} {
		conn, err := dialChecked(remote, "tcp", addr)
		var re *redirectError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "loopback") {
			if conn != nil {
				conn.Close()
			}
			t.Errorf("dialChecked(%s) after a redirect from a remote mirror = %v, want a refusal naming loopback", addr, err)
		}
	}
	time.Sleep(50 * time.Millisecond) // let a connection that slipped through be accepted
	if n := accepted.Load(); n != 0 {
		t.Errorf("the listener accepted %d connections, want 0: the refusal must come before connect", n)
	}

	conn, err := dialChecked(ctxFrom("http://127.0.0.1:1/x"), "tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("dialChecked(127.0.0.1) after a redirect from a mirror on this machine = %v, want a connection", err)
	}
	conn.Close()
	// The mirror the user named is never refused.
	conn, err = dialChecked(ctxFrom("http://127.0.0.1:"+port+"/x"), "tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("dialChecked(the mirror itself) = %v, want a connection", err)
	}
	conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for accepted.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := accepted.Load(); n != 2 {
		t.Errorf("the listener accepted %d connections, want 2 (the control connections)", n)
	}
}

// TestOpenRedirectLinkLocal: a mirror redirecting to the cloud metadata
// address is refused at once, as a final error, without a connection to
// anything but the mirror.
func TestOpenRedirectLinkLocal(t *testing.T) {
	for _, target := range []string{"http://169.254.169.254/latest/meta-data/", "http://[fe80::a9fe:a9fe]/"} {
		if refusedTarget(netip.MustParseAddr(strings.Trim(mustParse(t, target).Hostname(), "[]")), true) == "" {
			t.Fatalf("the policy allows %s: not running a test that would connect there", target)
		}
		var requests atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			http.Redirect(w, r, target, http.StatusFound)
		}))
		var elsewhere []string
		trace := &httptrace.ClientTrace{ConnectStart: func(_, addr string) {
			if addr != srv.Listener.Addr().String() {
				elsewhere = append(elsewhere, addr)
			}
		}}
		c := &Client{}
		d, err := c.open(httptrace.WithClientTrace(context.Background(), trace), srv.URL+"/x86_64/APKINDEX.tar.gz", validators{})
		if d != nil && d.body != nil {
			d.body.Close()
		}
		srv.Close()
		var re *redirectError
		if !errors.As(err, &re) || isTransient(err) || !strings.Contains(err.Error(), "link-local") ||
			!strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "refused") {
			t.Errorf("open(redirect to %s) = %v, want a final refusal naming the mirror and link-local", target, err)
		}
		if requests.Load() != 1 || len(elsewhere) > 0 {
			t.Errorf("open(redirect to %s): %d requests to the mirror, connections started to %v; want 1 and none", target, requests.Load(), elsewhere)
		}
	}
}
