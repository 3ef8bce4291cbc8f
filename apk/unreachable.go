package apk

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
)

// This file remembers the mirrors that could not be reached. A mirror
// that refuses connections, resolves to nothing or hangs up before
// answering does so for every file: asked once per package it would fill
// a terminal with the same failure (165 lines, scrolling the progress
// bars away) and cost a timeout each.

// ErrUnreachable matches (errors.Is) a fetch that failed because a mirror
// could not be reached at all: no connection, or one closed before any
// response. A caller may suggest another mirror, or working offline.
var ErrUnreachable = errors.New("mirror unreachable")

// connError is a request that got no response from the mirror.
type connError struct {
	url string
	err error // from the HTTP client
}

func (e *connError) Error() string        { return fmt.Sprintf("%s: %s", e.url, connReason(e.err)) }
func (e *connError) Unwrap() error        { return e.err }
func (e *connError) Is(target error) bool { return target == ErrUnreachable }

// connReason says why a request got no response in a few words: the
// system's ("connection refused"), the resolver's, or the TLS layer's,
// without the URL and the dial addresses the HTTP client wraps them in.
func connReason(err error) string {
	var (
		errno    syscall.Errno
		dnsErr   *net.DNSError
		certErr  *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		uerr     *url.Error
	)
	switch {
	case errors.As(err, &errno):
		return errno.Error()
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("looking up %q: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before a response"
	case errors.As(err, &certErr), errors.As(err, &unknown), errors.As(err, &hostname):
		return "TLS: " + errors.Unwrap(err).Error()
	case errors.As(err, &uerr):
		return uerr.Err.Error()
	}
	return err.Error()
}

// deadMirror is a mirror skipped for the rest of a Client's life.
type deadMirror struct {
	origin string // scheme://host[:port], as the mirror is named to a person
	cause  *connError
}

func (e *deadMirror) Error() string {
	return fmt.Sprintf("mirror %q is unreachable (%s)", e.origin, connReason(e.cause.err))
}
func (e *deadMirror) Unwrap() error { return e.cause }

// mirrorOrigin is the part of a base URL that names the server: the
// repositories of one mirror (main, community) live or die together.
func mirrorOrigin(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return base
	}
	return u.Scheme + "://" + u.Host
}

// dead returns the remembered failure of base's mirror, or nil.
func (c *Client) dead(base string) *deadMirror {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadMirrors[mirrorOrigin(base)]
}

// markDead remembers that base's mirror could not be reached. The first
// time, when another mirror served the file (served), it says so once at
// Warn; when none did, the error that ends the fetch says it.
func (c *Client) markDead(ctx context.Context, base string, cause *connError, served bool) {
	origin := mirrorOrigin(base)
	c.mu.Lock()
	_, known := c.deadMirrors[origin]
	if !known {
		if c.deadMirrors == nil {
			c.deadMirrors = make(map[string]*deadMirror)
		}
		c.deadMirrors[origin] = &deadMirror{origin: origin, cause: cause}
	}
	c.mu.Unlock()
	if !known && served {
		c.logger().WarnContext(ctx, "mirror unreachable; the next serves the rest of this build",
			"mirror", origin, "err", connReason(cause.err))
	}
}
