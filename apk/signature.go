package apk

import (
	"archive/tar"
	"crypto"
	"crypto/rsa"
	_ "crypto/sha1" // signature and checksum digests
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// MaxSignatureSize bounds one .SIGN.* entry; a 4096-bit RSA signature is
// 512 bytes.
const MaxSignatureSize = 64 << 10

// signaturePrefix starts the name of every signature entry:
// .SIGN.<ALG>.<key file name>.
const signaturePrefix = ".SIGN."

// A signature is one .SIGN.<ALG>.<key> entry of an index or package.
type signature struct {
	entry string      // the entry name, for messages
	alg   crypto.Hash // 0 for algorithms we do not verify (DSA)
	key   string      // the key's file name as the entry spells it
	sig   []byte
}

// parseSignatureName splits a .SIGN.* entry name. RSA is PKCS #1 v1.5 over
// SHA-1, RSA256 over SHA-256, RSA512 over SHA-512 (apk-tools, abuild-sign);
// DSA is obsolete and reported with alg 0.
func parseSignatureName(name string) (signature, error) {
	rest, ok := strings.CutPrefix(name, signaturePrefix)
	if !ok {
		return signature{}, fmt.Errorf("entry %q is not a signature", name)
	}
	algName, key, ok := strings.Cut(rest, ".")
	if !ok || key == "" || strings.ContainsAny(key, "/\\") {
		return signature{}, fmt.Errorf("signature entry %q does not name a key", name)
	}
	s := signature{entry: name, key: key}
	switch algName {
	case "RSA":
		s.alg = crypto.SHA1
	case "RSA256":
		s.alg = crypto.SHA256
	case "RSA512":
		s.alg = crypto.SHA512
	case "DSA":
	default:
		return signature{}, fmt.Errorf("signature entry %q: unknown algorithm %q", name, algName)
	}
	return s, nil
}

// readSignatureEntries reads the .SIGN.* entries of a signature member of
// a package or an index, hdr being the first, to the member's end.
func readSignatureEntries(tr *tar.Reader, hdr *tar.Header) ([]signature, error) {
	var sigs []signature
	for {
		s, err := parseSignatureName(hdr.Name)
		if err != nil {
			return nil, err
		}
		if hdr.Size > MaxSignatureSize {
			return nil, fmt.Errorf("signature %s has %d bytes, more than %d", hdr.Name, hdr.Size, MaxSignatureSize)
		}
		if s.sig, err = io.ReadAll(tr); err != nil {
			return nil, fmt.Errorf("reading %s: %w", hdr.Name, noEOF(err))
		}
		sigs = append(sigs, s)
		if hdr, err = tr.Next(); err == io.EOF {
			return sigs, nil
		} else if err != nil {
			return nil, fmt.Errorf("after %s: %w", s.entry, noEOF(err))
		}
	}
}

// signatureAlgs returns the digests the signatures need, SHA-1 always
// included (it is also the package checksum).
func signatureAlgs(sigs []signature) []crypto.Hash {
	algs := []crypto.Hash{crypto.SHA1}
	for _, s := range sigs {
		if s.alg != 0 && !slices.Contains(algs, s.alg) {
			algs = append(algs, s.alg)
		}
	}
	return algs
}

// errUnsigned is returned by verifySignatures when there is no signature.
var errUnsigned = errors.New("not signed")

// verifySignatures checks sigs against digests (of the signed bytes, by
// algorithm) and returns the name of the first trusted key whose signature
// holds. As in apk, one good signature by a trusted key is enough; the
// others may be by keys we do not know.
func verifySignatures(keys *KeyRing, sigs []signature, digests map[crypto.Hash][]byte) (string, error) {
	if len(sigs) == 0 {
		return "", errUnsigned
	}
	var unknown, bad []string
	for _, s := range sigs {
		name, pub := keys.lookup(s.key)
		if pub == nil {
			unknown = append(unknown, s.key)
			continue
		}
		if s.alg == 0 {
			bad = append(bad, fmt.Sprintf("%q (unsupported algorithm in %s)", name, s.entry))
			continue
		}
		digest, ok := digests[s.alg]
		if !ok {
			return "", fmt.Errorf("internal error: no %v digest for %s", s.alg, s.entry)
		}
		if err := rsa.VerifyPKCS1v15(pub, s.alg, digest, s.sig); err != nil {
			bad = append(bad, fmt.Sprintf("%q", name))
			continue
		}
		return name, nil
	}
	if len(bad) > 0 {
		return "", fmt.Errorf("signature by key %s does not match the signed data", strings.Join(bad, ", "))
	}
	return "", &UnknownKeyError{Keys: unknown, trusted: keys.trustedList()}
}

// UnknownKeyError is an index or package signed only by keys the key ring
// does not hold: the usual fault of a private mirror whose key was not
// given, which a caller can name as such.
type UnknownKeyError struct {
	Keys    []string // the key names of the signatures (the .SIGN.RSA.* suffix)
	trusted string   // the key ring's names, for the message
}

func (e *UnknownKeyError) Error() string {
	what := "key"
	if len(e.Keys) > 1 {
		what = "keys"
	}
	quoted := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		quoted[i] = fmt.Sprintf("%q", k)
	}
	return fmt.Sprintf("signed by unknown %s %s (trusted: %s)", what, strings.Join(quoted, ", "), e.trusted)
}
