package ext4xattr

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

func TestSplitName(t *testing.T) {
	tests := []struct {
		full   string
		index  uint8
		suffix string
		ok     bool
	}{
		{"user.mime_type", IndexUser, "mime_type", true},
		{"trusted.overlay.opaque", IndexTrusted, "overlay.opaque", true},
		{"security.capability", IndexSecurity, "capability", true},
		{"security.selinux", IndexSecurity, "selinux", true},
		{"system.posix_acl_access", IndexPOSIXACLAccess, "", true},
		{"system.posix_acl_default", IndexPOSIXACLDefault, "", true},
		{"system.data", IndexSystem, "data", true},
		// Only the whole name is an ACL; a longer one is a system. name.
		{"system.posix_acl_accessx", IndexSystem, "posix_acl_accessx", true},
		// Written under system. (see prefixes), read back the same.
		{"system.richacl", IndexSystem, "richacl", true},
		{"user.", 0, "", false},
		{"system.", 0, "", false},
		{"user", 0, "", false},
		{"lustre.lov", 0, "", false},
		{"gnu.translator", 0, "", false},
		{"", 0, "", false},
	}
	for _, tt := range tests {
		index, suffix, ok := SplitName(tt.full)
		if index != tt.index || suffix != tt.suffix || ok != tt.ok {
			t.Errorf("SplitName(%q) = %d, %q, %v, want %d, %q, %v", tt.full, index, suffix, ok, tt.index, tt.suffix, tt.ok)
		}
		if !ok {
			continue
		}
		if back, ok := JoinName(index, suffix); back != tt.full || !ok {
			t.Errorf("JoinName(SplitName(%q)) = %q, %v, want %q, true", tt.full, back, ok, tt.full)
		}
	}
}

func TestJoinName(t *testing.T) {
	tests := []struct {
		index  uint8
		suffix string
		full   string
		ok     bool
	}{
		{IndexUser, "a", "user.a", true},
		{IndexPOSIXACLAccess, "", "system.posix_acl_access", true},
		{IndexPOSIXACLDefault, "", "system.posix_acl_default", true},
		{IndexTrusted, "a", "trusted.a", true},
		{IndexSecurity, "a", "security.a", true},
		{IndexSystem, "data", "system.data", true},
		{IndexRichACL, "", "system.richacl", true},
		{0, "a", "", false},
		{5, "lov", "", false}, // lustre.
		{9, "c", "", false},   // encryption
		{10, "a", "", false},  // gnu.
	}
	for _, tt := range tests {
		if full, ok := JoinName(tt.index, tt.suffix); full != tt.full || ok != tt.ok {
			t.Errorf("JoinName(%d, %q) = %q, %v, want %q, %v", tt.index, tt.suffix, full, ok, tt.full, tt.ok)
		}
	}
}

func TestIsACL(t *testing.T) {
	for index := range 256 {
		want := index == 2 || index == 3
		if got := IsACL(uint8(index)); got != want {
			t.Errorf("IsACL(%d) = %v, want %v", index, got, want)
		}
	}
}

// aclEntry is one entry of an ACL: tag, permission bits and qualifier.
type aclEntry struct {
	tag, perm uint16
	id        uint32
}

// xattrACL encodes es in the xattr API's format (version 2).
func xattrACL(es ...aclEntry) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, 2)
	for _, e := range es {
		b = le.AppendUint32(le.AppendUint16(le.AppendUint16(b, e.tag), e.perm), e.id)
	}
	return b
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestACLRoundTrip converts each ACL to the disk format and back: the
// entries without a qualifier come back with ACLUndefinedID, as the
// kernel's getxattr gives them.
func TestACLRoundTrip(t *testing.T) {
	const none = ACLUndefinedID
	tests := []struct {
		name string
		in   []byte // xattr format
		disk string // hex
	}{
		{"empty", xattrACL(), "01000000"},
		{"user, group, other", xattrACL(
			aclEntry{ACLUserObj, 6, none}, aclEntry{ACLGroupObj, 4, none}, aclEntry{ACLOther, 4, none}),
			"01000000" + "01000600" + "04000400" + "20000400"},
		// user::rw- user:1000:r-- group::r-- mask::r-- other::---
		{"named user and mask", xattrACL(
			aclEntry{ACLUserObj, 6, none}, aclEntry{ACLUser, 4, 1000}, aclEntry{ACLGroupObj, 4, none},
			aclEntry{ACLMask, 4, none}, aclEntry{ACLOther, 0, none}),
			"01000000" + "01000600" + "02000400e8030000" + "04000400" + "10000400" + "20000000"},
		{"named users and groups", xattrACL(
			aclEntry{ACLUserObj, 7, none}, aclEntry{ACLUser, 5, 0}, aclEntry{ACLUser, 1, 0x12345678},
			aclEntry{ACLGroupObj, 5, none}, aclEntry{ACLGroup, 7, 100}, aclEntry{ACLGroup, 0, 0xFFFFFFFE},
			aclEntry{ACLMask, 7, none}, aclEntry{ACLOther, 1, none}),
			"01000000" + "01000700" + "0200050000000000" + "0200010078563412" + "04000500" +
				"0800070064000000" + "08000000feffffff" + "10000700" + "20000100"},
	}
	for _, tt := range tests {
		want := mustHex(t, tt.disk)
		disk, err := ACLToDisk(tt.in)
		if err != nil || !bytes.Equal(disk, want) {
			t.Errorf("%s: ACLToDisk(%x) = %x, %v, want %s, nil", tt.name, tt.in, disk, err, tt.disk)
			continue
		}
		if again, err := ACLToDisk(disk); err != nil || !bytes.Equal(again, disk) {
			t.Errorf("%s: ACLToDisk(%x) = %x, %v, want it unchanged", tt.name, disk, again, err)
		}
		if back, err := ACLFromDisk(disk); err != nil || !bytes.Equal(back, tt.in) {
			t.Errorf("%s: ACLFromDisk(%x) = %x, %v, want %x, nil", tt.name, disk, back, err, tt.in)
		}
	}
}

// TestACLToDiskDropsIDs: an id on an entry without a qualifier is not
// stored (ext4's short entries have no room for it).
func TestACLToDiskDropsIDs(t *testing.T) {
	in := xattrACL(aclEntry{ACLUserObj, 6, 0}, aclEntry{ACLOther, 4, 42})
	want := "01000000" + "01000600" + "20000400"
	if got, err := ACLToDisk(in); err != nil || hex.EncodeToString(got) != want {
		t.Errorf("ACLToDisk(%x) = %x, %v, want %s, nil", in, got, err, want)
	}
}

func TestACLToDiskErrors(t *testing.T) {
	const notACL = "not a POSIX ACL (version 2 header, 8-byte entries)"
	tests := []struct {
		name string
		in   string // hex
		want string
	}{
		{"nothing", "", notACL},
		{"short header", "020000", notACL},
		{"version 0", "00000000", notACL},
		{"version 3", "03000000", notACL},
		{"entry cut short", "02000000" + "01000600ffffff", notACL},
		{"unknown tag", "02000000" + "01000600ffffffff" + "40000400ffffffff", "unknown ACL tag 0x40"},
		{"tag zero", "02000000" + "00000000ffffffff", "unknown ACL tag 0x0"},
	}
	for _, tt := range tests {
		in := mustHex(t, tt.in)
		if got, err := ACLToDisk(in); err == nil || err.Error() != tt.want {
			t.Errorf("%s: ACLToDisk(%x) = %x, %v, want error %q", tt.name, in, got, err, tt.want)
		}
	}
}

func TestACLFromDiskErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string // hex
		want string
	}{
		{"nothing", "", "ACL without a version 1 header"},
		{"short header", "0100", "ACL without a version 1 header"},
		{"xattr format", "02000000" + "01000600ffffffff", "ACL without a version 1 header"},
		{"short entry cut short", "01000000" + "01000600" + "0400", "ACL entry at 8 is cut short"},
		{"named entry cut short", "01000000" + "02000400e803", "ACL entry at 4 is cut short"},
		{"named entry without id", "01000000" + "08000400", "ACL entry at 4 is cut short"},
		{"unknown tag", "01000000" + "01000600" + "40000400", "ACL entry at 8 has unknown tag 0x40"},
	}
	for _, tt := range tests {
		in := mustHex(t, tt.in)
		if got, err := ACLFromDisk(in); err == nil || err.Error() != tt.want {
			t.Errorf("%s: ACLFromDisk(%x) = %x, %v, want error %q", tt.name, in, got, err, tt.want)
		}
	}
}

// FuzzACLFromDisk: whatever the reader accepts, the writer stores again
// byte for byte.
func FuzzACLFromDisk(f *testing.F) {
	for _, s := range []string{
		"01000000",
		"01000000" + "01000600" + "02000400e8030000" + "04000400" + "10000400" + "20000000",
		"01000000" + "08000400",
		"02000000" + "01000600ffffffff",
	} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, disk []byte) {
		v, err := ACLFromDisk(disk)
		if err != nil {
			return
		}
		back, err := ACLToDisk(v)
		if err != nil || !bytes.Equal(back, disk) {
			t.Errorf("ACLToDisk(ACLFromDisk(%x)) = %x, %v, want %x, nil", disk, back, err, disk)
		}
	})
}
