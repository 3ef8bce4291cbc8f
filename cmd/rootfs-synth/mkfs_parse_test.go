package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"123", 123}, {"512K", 512 << 10}, {"512M", 512 << 20}, {"2G", 2 << 30}, {"2g", 2 << 30},
		{"1GiB", 1 << 30}, {"3MB", 3 << 20}, {"1T", 1 << 40},
		{"", -1}, {"M", -1}, {"-5M", -1}, {"0", -1}, {"1.5G", -1}, {"9999999999T", -1},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if err != nil {
			got = -1
		}
		if got != tt.want {
			t.Errorf("parseSize(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestArrangeArgs: the one flag rule of every command (args.go), on mkfs
// and resolve. "ERR n: msg" is a usage error with exit status n.
func TestArrangeArgs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mkfs src -o img", "mkfs -o img src"},
		{"mkfs --no-journal src --size 1G -o=x", "mkfs --no-journal --size 1G -o=x src"},
		{"mkfs -o img -- -weird", "mkfs -o img -- -weird"},
		{"mkfs -o img -- src", "mkfs -o img src"},
		{"mkfs src -o img -- --no-journal", "mkfs -o img -- src --no-journal"},
		{"mkfs -o - src", "mkfs -o - src"},
		{"mkfs src --bogus -o img", "ERR 2: mkfs: unknown flag --bogus"},
		{"mkfs src --no-jornal", "ERR 2: mkfs: unknown flag --no-jornal; did you mean --no-journal?"}, // before --output's absence
		{"--profle x", "ERR 2: unknown flag --profle; did you mean --profile?"},
		{"--version", "--version"},
		{"mkfs --version", "ERR 2: mkfs: unknown flag --version"},
		{"mkfs src -o", "ERR 2: mkfs: flag -o needs a value"},
		{"mkfs src -o -- x", "ERR 2: mkfs: flag -o needs a value"},
		{"mkfs src --size", "ERR 2: mkfs: flag --size needs a value"},
		{"mkfs src", "ERR 2: mkfs: flag --output is required"},
		{"mkfs --help", "mkfs --help"},
		{"mkfs src -h", "mkfs -h src"},
		{"resolve app --offline --arch aarch64", "resolve --offline --arch aarch64 app"},
		{"resolve --repository", "ERR 2: resolve: flag --repository needs a value"},
		{"resolve app -- --offline", "resolve -- app --offline"},
		{"help mkfs", "help mkfs"},
	}
	app := newApp(time.Unix(0, 0))
	for _, tt := range tests {
		args, err := arrangeArgs(app, strings.Fields(tt.in))
		got := strings.Join(args, " ")
		if err != nil {
			got = fmt.Sprintf("ERR %d: %v", exitStatus(err), err)
		}
		if got != tt.want {
			t.Errorf("arrangeArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSourceDateEpoch: the one reading of SOURCE_DATE_EPOCH the build,
// mkfs and patch share: unset and empty mean none (as most tools read
// it), a malformed or negative value is an error.
func TestSourceDateEpoch(t *testing.T) {
	for _, tt := range []struct {
		value   string
		set     bool
		want    int64 // Unix seconds; -1 for none
		wantErr bool
	}{
		{"", false, -1, false},
		{"", true, -1, false},
		{"0", true, 0, false},
		{"1750000000", true, 1750000000, false},
		{"abc", true, 0, true},
		{"-1", true, 0, true},
		{"1.5", true, 0, true},
	} {
		if tt.set {
			t.Setenv("SOURCE_DATE_EPOCH", tt.value)
		} else {
			t.Setenv("SOURCE_DATE_EPOCH", "x") // restored after the test
			os.Unsetenv("SOURCE_DATE_EPOCH")
		}
		got, err := sourceDateEpoch()
		switch {
		case tt.wantErr:
			if err == nil {
				t.Errorf("sourceDateEpoch(%q) = %v, want an error", tt.value, got)
			}
		case err != nil:
			t.Errorf("sourceDateEpoch(%q) error %v", tt.value, err)
		case tt.want < 0 && !got.IsZero(), tt.want >= 0 && got.Unix() != tt.want:
			t.Errorf("sourceDateEpoch(%q, set %v) = %v, want %d", tt.value, tt.set, got, tt.want)
		}
	}
}
