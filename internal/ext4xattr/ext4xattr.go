// Package ext4xattr holds what the ext4 image writer (ext4img) and reader
// (ext4fs) must agree on about extended attributes: how a full name is
// stored as a name index and a suffix, and how POSIX ACL values are
// converted between the xattr API's format and ext4's on-disk format.
//
// Left out on purpose: the entry and block layout, the entry hash and the
// checksums. The writer lays entries out and the reader checks them, so
// the two sides share the format's description (attributes.rst), not code.
package ext4xattr

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Name indexes (e_name_index), as fs/ext4/xattr.h defines them.
const (
	IndexUser            = 1
	IndexPOSIXACLAccess  = 2
	IndexPOSIXACLDefault = 3
	IndexTrusted         = 4
	IndexSecurity        = 6
	IndexSystem          = 7
	IndexRichACL         = 8
)

// prefixes is the name each index stands for; the stored name is the rest.
// fs/ext4/xattr.c's ext4_xattr_handler_map maps the indexes Linux lists to
// handlers with these prefixes; e2fsprogs (lib/ext2fs/ext_attr.c) knows
// "system." and "system.richacl" too. The whole names, stored with an
// empty suffix, come before "system." so that SplitName picks them.
var prefixes = []struct {
	index  uint8
	prefix string
	whole  bool // the stored name is empty: the index is the whole name
	// readOnly keeps SplitName from choosing the index: richacl never
	// reached mainline Linux, so the writer stores "system.richacl" under
	// "system." like any other name; both forms read back the same.
	readOnly bool
}{
	{IndexPOSIXACLAccess, "system.posix_acl_access", true, false},
	{IndexPOSIXACLDefault, "system.posix_acl_default", true, false},
	{IndexRichACL, "system.richacl", true, true},
	{IndexUser, "user.", false, false},
	{IndexTrusted, "trusted.", false, false},
	{IndexSecurity, "security.", false, false},
	{IndexSystem, "system.", false, false},
}

// SplitName returns the index and stored suffix of a full name, as the
// kernel picks them from the handler whose prefix matches
// (ext4_xattr_set_handle gets the handler's index and the rest of the
// name; the POSIX ACL handlers pass an empty name). A prefix alone, or a
// name with none of the prefixes, is not ok.
func SplitName(full string) (index uint8, suffix string, ok bool) {
	for _, p := range prefixes {
		switch {
		case p.readOnly:
		case p.whole:
			if full == p.prefix {
				return p.index, "", true
			}
		case strings.HasPrefix(full, p.prefix) && len(full) > len(p.prefix):
			return p.index, full[len(p.prefix):], true
		}
	}
	return 0, "", false
}

// JoinName returns the full name of an entry with the given index and
// stored suffix, as the kernel's ext4_xattr_list_entries prefixes names
// with ext4_xattr_prefix (for the indexes it has handlers for) and debugfs
// does for all; it is not ok for an index this package does not know.
func JoinName(index uint8, suffix string) (string, bool) {
	for _, p := range prefixes {
		if p.index == index {
			return p.prefix + suffix, true
		}
	}
	return "", false
}

// IsACL reports whether values under index are POSIX ACLs, which ext4
// stores in its own format (ACLToDisk, ACLFromDisk).
func IsACL(index uint8) bool {
	return index == IndexPOSIXACLAccess || index == IndexPOSIXACLDefault
}

// POSIX ACL tags (include/uapi/linux/posix_acl.h) and the id the xattr
// format gives entries without one (ACL_UNDEFINED_ID).
const (
	ACLUserObj     = 0x01
	ACLUser        = 0x02
	ACLGroupObj    = 0x04
	ACLGroup       = 0x08
	ACLMask        = 0x10
	ACLOther       = 0x20
	ACLUndefinedID = 0xFFFFFFFF
)

// ACLToDisk converts a POSIX ACL from the xattr API's format (version 2,
// 8-byte entries: what getxattr returns and tar archives carry) into ext4's
// on-disk format (version 1, 4-byte entries except for named users and
// groups), as the kernel's ext4_acl_to_disk (fs/ext4/acl.c) does with
// what posix_acl_from_xattr parsed. Entries without a qualifier lose their
// id. A value already in the disk format is returned unchanged.
func ACLToDisk(v []byte) ([]byte, error) {
	le := binary.LittleEndian
	if len(v) >= 4 && le.Uint32(v) == 1 {
		return v, nil
	}
	if len(v) < 4 || le.Uint32(v) != 2 || (len(v)-4)%8 != 0 {
		return nil, fmt.Errorf("not a POSIX ACL (version 2 header, 8-byte entries)")
	}
	out := make([]byte, 4, len(v))
	le.PutUint32(out, 1)
	for i := 4; i < len(v); i += 8 {
		tag, perm, id := le.Uint16(v[i:]), le.Uint16(v[i+2:]), le.Uint32(v[i+4:])
		switch tag {
		case ACLUserObj, ACLGroupObj, ACLMask, ACLOther:
			out = le.AppendUint16(le.AppendUint16(out, tag), perm)
		case ACLUser, ACLGroup:
			out = le.AppendUint32(le.AppendUint16(le.AppendUint16(out, tag), perm), id)
		default:
			return nil, fmt.Errorf("unknown ACL tag %#x", tag)
		}
	}
	return out, nil
}

// ACLFromDisk converts an ACL from ext4's on-disk format (version 1,
// 4-byte entries except named users and groups) to the xattr API's
// (version 2, 8-byte entries), as the kernel's ext4_acl_from_disk
// (fs/ext4/acl.c) and posix_acl_to_xattr do: entries without a qualifier
// get ACLUndefinedID.
func ACLFromDisk(v []byte) ([]byte, error) {
	le := binary.LittleEndian
	if len(v) < 4 || le.Uint32(v) != 1 {
		return nil, fmt.Errorf("ACL without a version 1 header")
	}
	out := le.AppendUint32(nil, 2)
	for i := 4; i < len(v); {
		if len(v)-i < 4 {
			return nil, fmt.Errorf("ACL entry at %d is cut short", i)
		}
		tag, perm := le.Uint16(v[i:]), le.Uint16(v[i+2:])
		id := uint32(ACLUndefinedID)
		switch tag {
		case ACLUserObj, ACLGroupObj, ACLMask, ACLOther:
			i += 4
		case ACLUser, ACLGroup:
			if len(v)-i < 8 {
				return nil, fmt.Errorf("ACL entry at %d is cut short", i)
			}
			id = le.Uint32(v[i+4:])
			i += 8
		default:
			return nil, fmt.Errorf("ACL entry at %d has unknown tag %#x", i, tag)
		}
		out = le.AppendUint32(le.AppendUint16(le.AppendUint16(out, tag), perm), id)
	}
	return out, nil
}
