// Package apktest builds real v2 Alpine packages and signed repositories
// for tests: the same gzip members, tar entries, PAX records, checksums and
// signatures that abuild and apk-tools make, signed with a throwaway key,
// served from a directory or an http.Handler (for httptest on 127.0.0.1).
//
// It is a test helper, not a packager: it writes what a Pkg says and does
// not check it the way abuild would; Faults and File.Checksum even break
// packages on purpose. Left out: the v3 ADB formats, DSA signatures, device
// nodes.
package apktest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// KeyBits is the size of the keys NewKey makes: 2048 bits, as Alpine's
// older release keys, fast enough to make one per test.
const KeyBits = 2048

// A Key signs packages and indexes.
type Key struct {
	Name    string // the public key's file name, "test-1a2b3c4d.rsa.pub"
	Private *rsa.PrivateKey

	// SHA256 makes signatures .SIGN.RSA256.<Name> (over SHA-256) instead
	// of abuild's default .SIGN.RSA.<Name> (over SHA-1).
	SHA256 bool
}

// NewKey makes a new RSA key. An empty name becomes
// "test-<8 hex digits of the public key's SHA-256>.rsa.pub"; a name without
// the ".rsa.pub" suffix gets it.
func NewKey(name string) (*Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, fmt.Errorf("generating test key: %w", err)
	}
	k := &Key{Name: name, Private: priv}
	if k.Name == "" {
		der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("encoding test key: %w", err)
		}
		sum := sha256.Sum256(der)
		k.Name = "test-" + hex.EncodeToString(sum[:4])
	}
	if !strings.HasSuffix(k.Name, ".rsa.pub") {
		k.Name += ".rsa.pub"
	}
	return k, nil
}

// PublicPEM returns the public key as openssl writes it ("PUBLIC KEY",
// PKIX), the content of /etc/apk/keys/<Name>.
func (k *Key) PublicPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(&k.Private.PublicKey)
	if err != nil {
		panic(fmt.Sprintf("apktest: encoding public key: %v", err)) // cannot happen for an RSA key
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// KeyRing returns a key ring holding only this key.
func (k *Key) KeyRing() *apk.KeyRing {
	ring := apk.NewKeyRing()
	if err := ring.Add(k.Name, k.PublicPEM()); err != nil {
		panic(fmt.Sprintf("apktest: %v", err)) // our own PEM always parses
	}
	return ring
}
