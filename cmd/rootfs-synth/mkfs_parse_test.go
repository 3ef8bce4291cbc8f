package main

import (
	"strings"
	"testing"
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

func TestFlagsFirst(t *testing.T) {
	tests := []struct{ in, want string }{
		{"src -o img", "-o img -- src"},
		{"--no-journal src --size 1G -o=x", "--no-journal --size 1G -o=x -- src"},
		{"-o img -- -weird", "-o img -- -weird"},
		{"src", "-- src"},
	}
	for _, tt := range tests {
		got := strings.Join(flagsFirst(strings.Fields(tt.in), mkfsFlags(true)), " ")
		if got != tt.want {
			t.Errorf("flagsFirst(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
