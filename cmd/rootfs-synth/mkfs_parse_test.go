package main

import (
	"fmt"
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
		{"mkfs src --bogus -o img", "mkfs --bogus -o img src"}, // urfave reports --bogus
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
