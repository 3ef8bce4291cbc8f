package apk

import (
	"crypto/rsa"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The Alpine release signing keys, as the alpine-keys package ships them
// (aports main/alpine-keys; keys_test.go checks every file against the
// sha512sums of its APKBUILD).
//
//go:embed keys/*.rsa.pub
var alpineKeyFiles embed.FS

// alpineArchKeys maps an Alpine architecture to the short ids of the keys
// that sign its repositories (alpine-keys APKBUILD, _arch_keys). The key
// file is "alpine-devel@lists.alpinelinux.org-<id>.rsa.pub".
var alpineArchKeys = map[string][]string{
	"x86_64":      {"4a6a0840", "5261cecb", "6165ee59"},
	"x86":         {"4a6a0840", "5243ef4b", "61666e3f"},
	"aarch64":     {"58199dcc", "616ae350"},
	"armhf":       {"524d27bb", "616a9724"},
	"armv7":       {"524d27bb", "616adfeb"},
	"ppc64le":     {"58cbb476", "616abc23"},
	"s390x":       {"58e4f17d", "616ac3bc"},
	"riscv64":     {"60ac2099", "616db30d"},
	"mips64":      {"5e69ca50"},
	"loongarch64": {"66ba20fe"},
}

// MaxKeySize bounds a public key file read by AddDir; real ones are under
// 1 KiB.
const MaxKeySize = 64 << 10

// A KeyRing holds the RSA public keys an index or package signature may be
// made with, by file name ("alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"),
// which is how a signature names its key. The zero value is not usable; use
// NewKeyRing or AlpineKeys.
type KeyRing struct {
	keys map[string]*rsa.PublicKey
	pems map[string][]byte
}

// NewKeyRing returns an empty key ring.
func NewKeyRing() *KeyRing {
	return &KeyRing{keys: map[string]*rsa.PublicKey{}, pems: map[string][]byte{}}
}

// AlpineArches are the architectures AlpineKeys knows, sorted.
func AlpineArches() []string {
	known := make([]string, 0, len(alpineArchKeys))
	for a := range alpineArchKeys {
		known = append(known, a)
	}
	slices.Sort(known)
	return known
}

// AlpineKeys returns the embedded Alpine release keys that sign the
// repositories of arch (the keys alpine-keys installs into /etc/apk/keys for
// that arch, without x86's keys on x86_64). An unknown arch is an error.
func AlpineKeys(arch string) (*KeyRing, error) {
	ids, ok := alpineArchKeys[arch]
	if !ok {
		return nil, fmt.Errorf("loading Alpine keys: unknown architecture %q (known: %s)", arch, strings.Join(AlpineArches(), ", "))
	}
	k := NewKeyRing()
	for _, id := range ids {
		name := "alpine-devel@lists.alpinelinux.org-" + id + ".rsa.pub"
		data, err := alpineKeyFiles.ReadFile("keys/" + name)
		if err != nil {
			return nil, fmt.Errorf("loading Alpine key %s: %w", name, err)
		}
		if err := k.Add(name, data); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// Add parses pemData, a PEM "PUBLIC KEY" (PKIX, as openssl writes it) or
// "RSA PUBLIC KEY" (PKCS #1) block holding an RSA key, and stores it under
// name, the key's file name. Adding a name twice replaces the key.
func (k *KeyRing) Add(name string, pemData []byte) error {
	if name == "" || strings.ContainsAny(name, "/\\") {
		return fmt.Errorf("adding key %q: name must be a plain file name", name)
	}
	block, _ := pem.Decode(pemData)
	if block == nil {
		return fmt.Errorf("adding key %s: no PEM block found", name)
	}
	var pub *rsa.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("adding key %s: %w", name, err)
		}
		rk, ok := key.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("adding key %s: %T is not an RSA key", name, key)
		}
		pub = rk
	case "RSA PUBLIC KEY":
		rk, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("adding key %s: %w", name, err)
		}
		pub = rk
	default:
		return fmt.Errorf("adding key %s: PEM block is %q, want PUBLIC KEY", name, block.Type)
	}
	k.keys[name] = pub
	k.pems[name] = slices.Clone(pemData)
	return nil
}

// AddDir adds every *.pub file (*.rsa.pub included) in dir, the way apk reads
// /etc/apk/keys. Other files and subdirectories are ignored.
func (k *KeyRing) AddDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading key directory: %w", err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pub") || e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("reading key: %w", err)
		}
		if !st.Mode().IsRegular() {
			continue
		}
		if st.Size() > MaxKeySize {
			return fmt.Errorf("reading key %s: %d bytes is more than %d", p, st.Size(), MaxKeySize)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading key: %w", err)
		}
		if err := k.Add(e.Name(), data); err != nil {
			return fmt.Errorf("%w (in %s)", err, dir)
		}
	}
	return nil
}

// Names returns the names of the keys, sorted.
func (k *KeyRing) Names() []string {
	names := make([]string, 0, len(k.keys))
	for n := range k.keys {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// PEM returns the PEM text name was added with, to install it into an
// image's /etc/apk/keys, or nil when there is no such key.
func (k *KeyRing) PEM(name string) []byte { return slices.Clone(k.pems[name]) }

// lookup finds the key a signature names. Like apk it also accepts a
// signature name without the ".rsa.pub" suffix.
func (k *KeyRing) lookup(name string) (string, *rsa.PublicKey) {
	if k == nil {
		return "", nil
	}
	if pub, ok := k.keys[name]; ok {
		return name, pub
	}
	if pub, ok := k.keys[name+".rsa.pub"]; ok {
		return name + ".rsa.pub", pub
	}
	return "", nil
}

// trustedList is the key names for error messages.
func (k *KeyRing) trustedList() string {
	if k == nil || len(k.keys) == 0 {
		return "none"
	}
	return strings.Join(k.Names(), ", ")
}
