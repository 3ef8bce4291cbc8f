package apktest

import (
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
)

// fixedKeyPEM is a throwaway 2048-bit RSA key made once with
// `openssl genrsa -traditional 2048`, for tests that pin the bytes of what
// a repository builds (an alpine-keys package carries its public half).
//
//go:embed testdata/fixed-key.pem
var fixedKeyPEM []byte

// FixedKey returns the same throwaway key every time, named
// "test-fixed.rsa.pub": what it signs is the same from run to run.
func FixedKey() (*Key, error) {
	b, _ := pem.Decode(fixedKeyPEM)
	if b == nil {
		return nil, fmt.Errorf("reading the fixed test key: no PEM block")
	}
	priv, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading the fixed test key: %w", err)
	}
	return &Key{Name: "test-fixed.rsa.pub", Private: priv}, nil
}
