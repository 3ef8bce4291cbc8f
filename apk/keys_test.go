package apk_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/apk"
	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// alpineKeySHA512 are the sha512sums of aports main/alpine-keys/APKBUILD
// (alpine-keys 2.5); 66ba20fe (loongarch64) is not in that list and is
// pinned to the file in the aports tree (shared/testdata/alpine-keys README).
var alpineKeySHA512 = map[string]string{
	"58199dcc": "e4f9e314f8e506fba2cb3e599c6412a036ec37ce3a54990fc7d80a821d8728f40ee3b4aa8a15218d50341fa785d9ddf7c7471f45018c6a2065ab13664a1aa9e9",
	"616ae350": "51a5ec21283fe218809b2325202e1f8c9b2551705db48254b9d48a04f4ed0075de51e9886c4704647ffb309fd32d9850d14013848a53038039e85011251fe1cc",
	"524d27bb": "698fda502f70365a852de3c10636eadfc4f70a7a00f096581119aef665e248b787004ceef63f4c8cb18c6f88d18b8b1bd6b3c5d260e79e6d73a3cc09537b196e",
	"616adfeb": "a98095a626f2dcbda73ffd8873ba2d609ee1d881f5da13b0eb3469ddd58b06440b4b0b2f791b037c88073e9a17c6dfc62dc1a4c8491bed871524d772ef04ad24",
	"616a9724": "7aa5526a88519ae91f997bf914a9bd3d230b21c011587f155ce22c4bb94b70181b28590027eb555d96d1122dffb8242c1fb044228e99b4e9b7650fcf6f5121c7",
	"5243ef4b": "e18e65ee911eb1f8ea869f758e8f2c94cf2ac254ee7ab90a3de1d47b94a547c2066214abf710da21910ebedc0153d05fd4fe579cc5ce24f46e0cfd29a02b1a68",
	"61666e3f": "b89d825e6af73687339848817791b294e2404162e2e069d9212d76d4ee53d6216eb75421a07b02f9778ef57dbb27962b2436247264eea1a1d882967ca0c18724",
	"4a6a0840": "2d4064cbe09ff958493ec86bcb925af9b7517825d1d9d8d00f2986201ad5952f986fea83d1e2c177e92130700bafa8c0bff61411b3cdb59a41e460ed719580a6",
	"5261cecb": "721134f289ab1e7dde9158359906017daee40983199fe55f28206c8cdc46b8fcf177a36f270ce374b0eba5dbe01f68cbb3e385ae78a54bb0a2ed1e83a4d820a5",
	"6165ee59": "8b9c2208c904c9f34d9d01d3d68b224208530e684265df214deb8c9e6b4b19633aa48a405e673249c9e93a8ee194a336e951cd82a4e27e5e66e85fdc5e0d495e",
	"58cbb476": "bb5a3df8fac14a62d5936fb3722873fa6a121219b703cba955eb77de38c4384aeaf378fb9321a655e255f0be761e894e309b3789867279c1524dab6300cd8ef1",
	"616abc23": "bad4da65221150a5d4cc6f63981e4dd203d40844d32e82c17f346eee5350e460e32d28f0e231a2b78d326ec32b898eec597d3787dae47dcacc9a9776d19fb4a1",
	"58e4f17d": "0666389ca53121453578cd4bef5fd06e159e291164b3e3233e7d6521604f8bebd30caeef1663adcd5309e07278833402c8a92c33294ec0c5cada24dc47c8cc98",
	"616ac3bc": "83fc29066f6073418ecf01176ce24c1c0e788508f3083a97691706e2c78323e53448060fb0d2abb8118a759570f1f0db9d39953c63fe26fe06da2be05dff393c",
	"5e69ca50": "66ce9677e9c2a7961d5d7bc5b162ed3114a7aef6d01181073c1f42a9934966eecded2ec09deb210f5a389d434d1641ba35fe3abdd5246b2e97d5a5b26a945c5c",
	"60ac2099": "34514100e502f449dcabe0aa550232c3330ed2f0b789b977eb228d4ac86afc93479474ac005914992a3b47c18ee3eb32ca27ccd0d392700a8f11f47d64a78969",
	"616db30d": "7cea57204a50d72bddff201c509ccbf06773d87062a3ead0a206cc6e4a00e0960f52d21f7cee7aaec6a4abba7a697e2e2e7f630fa1ccef7ee2c33908fca18998",
	"66ba20fe": "383ee8cdd7be983289ac7c31b3d6e8f11dd07008ec615503abad69ff69c96047434ec812a3778b6fe393ed59ff3ac3961a660b29a87febe85667c58493cb9e4b",
}

// TestEmbeddedKeysChecksums checks every embedded key file against
// aports' sha512sums: a changed byte of a trust anchor fails here.
func TestEmbeddedKeysChecksums(t *testing.T) {
	files, err := filepath.Glob("keys/*.rsa.pub")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(alpineKeySHA512) {
		t.Errorf("keys/ has %d files, want %d", len(files), len(alpineKeySHA512))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "alpine-devel@lists.alpinelinux.org-"), ".rsa.pub")
		sum := sha512.Sum512(data)
		if got, want := hex.EncodeToString(sum[:]), alpineKeySHA512[id]; got != want {
			t.Errorf("sha512(%s) = %s, want %s", filepath.Base(f), got, want)
		}
	}
}

func TestAlpineKeys(t *testing.T) {
	tests := []struct {
		arch string
		want []string // key ids
	}{
		{"x86_64", []string{"4a6a0840", "5261cecb", "6165ee59"}},
		{"aarch64", []string{"58199dcc", "616ae350"}},
		{"x86", []string{"4a6a0840", "5243ef4b", "61666e3f"}},
		{"armv7", []string{"524d27bb", "616adfeb"}},
		{"loongarch64", []string{"66ba20fe"}},
	}
	for _, tt := range tests {
		k, err := apk.AlpineKeys(tt.arch)
		if err != nil {
			t.Fatalf("AlpineKeys(%q): %v", tt.arch, err)
		}
		var want []string
		for _, id := range tt.want {
			want = append(want, "alpine-devel@lists.alpinelinux.org-"+id+".rsa.pub")
		}
		if got := k.Names(); !slices.Equal(got, want) {
			t.Errorf("AlpineKeys(%q).Names() = %q, want %q", tt.arch, got, want)
		}
		for _, n := range want {
			embedded, _ := os.ReadFile(filepath.Join("keys", n))
			if got := k.PEM(n); string(got) != string(embedded) {
				t.Errorf("AlpineKeys(%q).PEM(%s) differs from keys/%s", tt.arch, n, n)
			}
		}
	}
	if _, err := apk.AlpineKeys("sparc"); err == nil || !strings.Contains(err.Error(), `unknown architecture "sparc"`) {
		t.Errorf(`AlpineKeys("sparc") error = %v, want unknown architecture "sparc"`, err)
	}
}

func TestKeyRingAdd(t *testing.T) {
	k, err := apktest.NewKey("mine")
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.Private.PublicKey)})
	tests := []struct {
		name    string
		pem     []byte
		wantErr string // "" for success
	}{
		{"a.rsa.pub", k.PublicPEM(), ""},
		{"b.rsa.pub", pkcs1, ""},
		{"c.rsa.pub", []byte("not a key"), "no PEM block"},
		{"d.rsa.pub", ecPEM, "not an RSA key"},
		{"e.rsa.pub", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), `PEM block is "CERTIFICATE"`},
		{"../f.rsa.pub", k.PublicPEM(), "plain file name"},
		{"", k.PublicPEM(), "plain file name"},
	}
	ring := apk.NewKeyRing()
	for _, tt := range tests {
		err := ring.Add(tt.name, tt.pem)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Add(%q) = %v, want error containing %q", tt.name, err, tt.wantErr)
		}
	}
	if got, want := ring.Names(), []string{"a.rsa.pub", "b.rsa.pub"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
}

func TestKeyRingAddDir(t *testing.T) {
	k, err := apktest.NewKey("dirkey")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"dirkey.rsa.pub": k.PublicPEM(),
		"other.pub":      k.PublicPEM(),
		"README":         []byte("ignored"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.pub"), 0o755); err != nil {
		t.Fatal(err)
	}
	ring := apk.NewKeyRing()
	if err := ring.AddDir(dir); err != nil {
		t.Fatal(err)
	}
	if got, want := ring.Names(), []string{"dirkey.rsa.pub", "other.pub"}; !slices.Equal(got, want) {
		t.Errorf("AddDir: Names() = %q, want %q", got, want)
	}
	os.WriteFile(filepath.Join(dir, "bad.pub"), []byte("junk"), 0o644)
	if err := ring.AddDir(dir); err == nil || !strings.Contains(err.Error(), "bad.pub") {
		t.Errorf("AddDir with a bad key = %v, want an error naming bad.pub", err)
	}
	if err := ring.AddDir(filepath.Join(dir, "missing")); err == nil {
		t.Error("AddDir(missing dir) succeeded")
	}
}
