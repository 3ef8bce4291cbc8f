package ext4format

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"go/ast"
	"go/parser"
	"go/token"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOffsetComments checks every "// 0xNN name" comment on a struct field
// in ondisk.go against where encoding/binary puts the field, and each
// struct's size: the comments are the one place offsets are written.
func TestOffsetComments(t *testing.T) {
	types := map[string]any{
		"SuperBlock": SuperBlock{}, "GroupDesc": GroupDesc{}, "Inode": Inode{},
		"ExtentHeader": ExtentHeader{}, "Extent": Extent{}, "ExtentIdx": ExtentIdx{},
		"DirEntry": DirEntry{}, "DirTail": DirTail{}, "DxRootInfo": DxRootInfo{},
		"DxCountLimit": DxCountLimit{}, "DxEntry": DxEntry{}, "DxTail": DxTail{},
		"XattrHeader": XattrHeader{}, "XattrEntry": XattrEntry{},
		"JournalHeader": JournalHeader{}, "JournalSuperBlock": JournalSuperBlock{},
	}
	sizes := map[string]int{
		"SuperBlock": SuperBlockSize, "GroupDesc": GroupDesc64Size, "Inode": InodeFixedSize,
		"ExtentHeader": ExtentHeaderSize, "Extent": ExtentEntrySize, "ExtentIdx": ExtentEntrySize,
		"DirEntry": DirEntryHeaderSize, "DirTail": DirTailSize, "DxRootInfo": DxRootEntriesOffset - DxRootInfoOffset,
		"DxCountLimit": 4, "DxEntry": DxEntrySize, "DxTail": DxTailSize,
		"XattrHeader": XattrHeaderSize, "XattrEntry": XattrEntryHeaderSize,
		"JournalHeader": 12, "JournalSuperBlock": 1024,
	}
	f, err := parser.ParseFile(token.NewFileSet(), "ondisk.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		v, ok := types[ts.Name.Name]
		if !ok {
			t.Errorf("struct %s is not in the test's table", ts.Name.Name)
			return false
		}
		seen++
		if got := binary.Size(v); got != sizes[ts.Name.Name] {
			t.Errorf("binary.Size(%s) = %d, want %d", ts.Name.Name, got, sizes[ts.Name.Name])
		}
		rt := reflect.TypeOf(v)
		off := 0
		for i, field := range st.Fields.List {
			name := field.Names[0].Name
			comment := ""
			if field.Comment != nil {
				comment = strings.TrimSpace(field.Comment.Text())
			}
			hexOff, _, _ := strings.Cut(comment, " ")
			want, err := strconv.ParseUint(strings.TrimPrefix(hexOff, "0x"), 16, 32)
			if !strings.HasPrefix(hexOff, "0x") || err != nil {
				t.Errorf("%s.%s: comment %q does not start with its offset", ts.Name.Name, name, comment)
			} else if int(want) != off {
				t.Errorf("%s.%s: comment says offset %#x, encoding/binary puts it at %#x", ts.Name.Name, name, want, off)
			}
			off += binary.Size(reflect.Zero(rt.Field(i).Type).Interface())
		}
		return false
	})
	if seen != len(types) {
		t.Errorf("ondisk.go has %d structs, the test's table %d", seen, len(types))
	}
}

// TestHandCodecs checks the structures encoded by hand against
// encoding/binary, both ways, with random field values.
func TestHandCodecs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(v reflect.Value) {
		for i := range v.NumField() {
			f := v.Field(i)
			switch f.Kind() {
			case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				f.SetUint(r.Uint64())
			case reflect.Array:
				for j := range f.Len() {
					f.Index(j).SetUint(r.Uint64())
				}
			}
		}
	}
	type codec interface{ Unmarshal([]byte) }
	for range 100 {
		for _, p := range []any{&Inode{}, &ExtentHeader{}, &Extent{}, &ExtentIdx{}, &DirEntry{}, &DirTail{}, &DxCountLimit{}, &DxEntry{}, &XattrEntry{}, &GroupDesc{}} {
			v := reflect.ValueOf(p).Elem()
			fill(v)
			if in, ok := p.(*Inode); ok {
				in.ExtraIsize = InodeFixedSize - GoodOldInodeSize // every field counts
			}
			size := binary.Size(p)
			want := make([]byte, size)
			if _, err := binary.Encode(want, binary.LittleEndian, p); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, size)
			v.MethodByName("Marshal").Call([]reflect.Value{reflect.ValueOf(got)})
			if !bytes.Equal(got, want) {
				t.Fatalf("%T.Marshal = %x, encoding/binary %x", p, got, want)
			}
			back := reflect.New(v.Type())
			back.Interface().(codec).Unmarshal(want)
			if !reflect.DeepEqual(back.Elem().Interface(), v.Interface()) {
				t.Fatalf("%T.Unmarshal(%x) = %+v, want %+v", p, want, back.Elem().Interface(), v.Interface())
			}
		}
	}
}

// TestInodeExtraFields checks that the fields past 128 bytes count only
// inside i_extra_isize and the inode.
func TestInodeExtraFields(t *testing.T) {
	n := Inode{Mode: 0o100644, ExtraIsize: 4, ChecksumHi: 0xABCD, MtimeExtra: 7}
	b := make([]byte, 256)
	n.Marshal(b)
	var got Inode
	got.Unmarshal(b)
	if got.ChecksumHi != 0xABCD || got.MtimeExtra != 0 {
		t.Errorf("i_extra_isize 4: ChecksumHi, MtimeExtra = %#x, %d, want 0xabcd, 0", got.ChecksumHi, got.MtimeExtra)
	}
	if !got.HasChecksumHi(256) || got.HasChecksumHi(128) {
		t.Errorf("HasChecksumHi(256), HasChecksumHi(128) = %v, %v, want true, false", got.HasChecksumHi(256), got.HasChecksumHi(128))
	}
	got.Unmarshal(b[:128])
	if got.ExtraIsize != 0 || got.ChecksumHi != 0 {
		t.Errorf("128-byte inode: ExtraIsize, ChecksumHi = %d, %#x, want 0, 0", got.ExtraIsize, got.ChecksumHi)
	}
}

func TestEncodeDevice(t *testing.T) {
	for _, tt := range []struct {
		major, minor uint32
		want         string // i_block[0:8] in hex
	}{
		{1, 3, "0301000000000000"}, // old encoding in i_block[0]
		{255, 255, "ffff000000000000"},
		{300, 70000, "00000000702c1111"}, // new: minor&0xff | major<<8 | (minor&^0xff)<<12
		{8, 256, "0000000000081000"},
	} {
		// Over an i_block that held another device (both encodings'
		// words set): a re-encoded inode must read back as the new one.
		var b [60]byte
		for i := range 12 {
			b[i] = 0xee
		}
		EncodeDevice(&b, tt.major, tt.minor)
		if got := hex.EncodeToString(b[:8]); got != tt.want {
			t.Errorf("EncodeDevice(%d, %d) = %s, want %s", tt.major, tt.minor, got, tt.want)
		}
		if major, minor := DecodeDevice(&b); major != tt.major || minor != tt.minor {
			t.Errorf("DecodeDevice(%s) = %d, %d, want %d, %d", tt.want, major, minor, tt.major, tt.minor)
		}
	}
}

func TestTimeRoundTrip(t *testing.T) {
	for _, tm := range []time.Time{
		time.Unix(0, 0), time.Unix(1600000000, 123456789), time.Unix(-1, 0),
		time.Unix(-1<<31, 0), time.Unix(1<<31, 5), time.Unix(1<<31-1+3<<32, 999999999),
	} {
		sec, extra := EncodeTime(tm)
		if got := DecodeTime(sec, extra); !got.Equal(tm) {
			t.Errorf("DecodeTime(EncodeTime(%v)) = %v", tm.Unix(), got.Unix())
		}
	}
}

func TestFileType(t *testing.T) {
	for ft := range uint8(FileTypeSymlink + 1) {
		m := FileTypeMode(ft)
		want := ft
		if ft == FileTypeUnknown {
			want = FileTypeRegular // no type bits: a regular file
		}
		if got := FileType(m); got != want {
			t.Errorf("FileType(FileTypeMode(%d) = %v) = %d, want %d", ft, m, got, want)
		}
	}
}
