package apk

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// This file keeps a mirror from sending the client anywhere but another
// web server. Redirects are followed only to http and https, at most
// maxRedirects times, and never to an address no public mirror has any
// business naming: link-local (169.254.0.0/16, where clouds serve instance
// credentials, and fe80::/10), unspecified (0.0.0.0 reaches this machine),
// multicast, and loopback unless the mirror is itself on this machine. The
// address is checked as the connection is made, on the IP actually dialled,
// so a host name that resolves to such an address (or starts to, between
// two lookups) is refused too, before a packet is sent. A refused redirect
// is final for that mirror: the next mirror is tried, this one is not
// asked again.

// maxRedirects bounds the redirects of one request (Go's own default).
const maxRedirects = 10

// redirectError is a redirect the client refused to follow.
type redirectError struct {
	url    string // the mirror's URL that was redirected
	target string // where to, as the mirror said
	reason string
}

func (e *redirectError) Error() string {
	return fmt.Sprintf("%s: redirect to %q refused: %s", e.url, e.target, e.reason)
}

// dialPolicy is what one request may connect to; it travels in the
// request's context to the dialer.
type dialPolicy struct {
	url      string   // the mirror's URL, for the error
	exempt   []string // host:port dialled unchecked: the mirror the user named and its proxy
	loopback bool     // the mirror is on this machine, so its redirects may stay there
}

type dialPolicyKey struct{}

// withDialPolicy returns ctx carrying the dial policy for a request of u,
// sent through proxy (nil for none).
func withDialPolicy(ctx context.Context, u, proxy *url.URL) context.Context {
	p := &dialPolicy{url: u.String(), exempt: []string{hostPort(u)}, loopback: onThisMachine(u.Hostname())}
	if proxy != nil {
		p.exempt = append(p.exempt, hostPort(proxy))
	}
	return context.WithValue(ctx, dialPolicyKey{}, p)
}

// hostPort is the address the transport dials for u.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// onThisMachine reports whether host names this machine: a loopback IP or
// localhost (which RFC 6761 keeps on loopback). Other names are not looked
// up: where a name points is the dialer's business.
func onThisMachine(host string) bool {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().IsLoopback()
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// metadataAddrs are the clouds' instance-metadata services that are not
// on a link-local address: AWS's IPv6 one (a unique-local address) and
// Alibaba's (in the shared address space).
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("100.100.100.200"),
}

// nat64 is the well-known NAT64 prefix (RFC 6052): 64:ff9b::a9fe:a9fe
// reaches 169.254.169.254 through a NAT64 gateway.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// refusedTarget says why a redirected request must not connect to ip, or
// returns "" when it may; loopbackOK when the mirror is on this machine.
func refusedTarget(ip netip.Addr, loopbackOK bool) string {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		if why := refusedTarget(netip.AddrFrom4([4]byte(b[12:])), loopbackOK); why != "" {
			return ip.String() + " is NAT64 for " + why
		}
	}
	switch {
	case slices.Contains(metadataAddrs, ip):
		return ip.String() + " is a cloud's instance-metadata address"
	case ip.IsUnspecified():
		return ip.String() + " is an unspecified address"
	case ip.IsLinkLocalUnicast():
		return ip.String() + " is a link-local address"
	case ip.IsMulticast():
		return ip.String() + " is a multicast address"
	case ip.IsLoopback() && !loopbackOK:
		return ip.String() + " is a loopback address and the mirror is not on this machine"
	}
	return ""
}

// checkRedirect is every client's http.Client.CheckRedirect. It refuses
// what it can tell from the URL; the dialer checks where a host name
// leads.
func checkRedirect(req *http.Request, via []*http.Request) error {
	origin := via[0].URL
	refuse := func(reason string) error {
		return &redirectError{url: origin.String(), target: req.URL.String(), reason: reason}
	}
	switch {
	case len(via) >= maxRedirects:
		return refuse(fmt.Sprintf("more than %d redirects", maxRedirects))
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return refuse("not http or https")
	case hostPort(req.URL) == hostPort(origin):
		return nil // the mirror the user named
	}
	if ip, err := netip.ParseAddr(req.URL.Hostname()); err == nil {
		if why := refusedTarget(ip, onThisMachine(origin.Hostname())); why != "" {
			return refuse(why)
		}
	}
	return nil
}

// newDialer returns the dialer of the default client's connections; the
// policy's Control is set on a fresh one per dial, never on a shared one.
func newDialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
}

// dialChecked dials addr, checking the IP it connects to against the
// request's dialPolicy before the connection is made (net.Dialer.Control
// runs between the socket and connect calls). The mirror itself and its
// proxy are what the user chose and are not checked; through a proxy, the
// proxy connects to redirect targets and only checkRedirect applies.
func dialChecked(ctx context.Context, network, addr string) (net.Conn, error) {
	p, ok := ctx.Value(dialPolicyKey{}).(*dialPolicy)
	d := newDialer()
	if !ok || slices.Contains(p.exempt, addr) {
		return d.DialContext(ctx, network, addr)
	}
	d.Control = func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("connecting to %s: %w", address, err)
		}
		if why := refusedTarget(ap.Addr(), p.loopback); why != "" {
			return &redirectError{url: p.url, target: addr, reason: why}
		}
		return nil
	}
	return d.DialContext(ctx, network, addr)
}
