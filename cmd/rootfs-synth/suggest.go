package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// closest is the candidate a person most likely meant by typed: the one
// fewest edits away (a transposed pair is one edit), if that is at most a
// third of its length (so "zzz" suggests nothing), or the only candidate
// typed is the start of ("--verb": --verbose). "" when none is close.
func closest(typed string, candidates []string) string {
	best, bestDist := "", 0
	var prefixed []string
	for _, c := range candidates {
		if len(typed) >= 2 && strings.HasPrefix(c, typed) {
			prefixed = append(prefixed, c)
		}
		// Within a third of the name (one edit for short ones), and not
		// every character of typed: "b" is not a typo of "h".
		d := editDistance(typed, c)
		if d <= max(1, len(c)/3) && d < len(typed) && (best == "" || d < bestDist) {
			best, bestDist = c, d
		}
	}
	if best == "" && len(prefixed) == 1 {
		return prefixed[0]
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent bytes.
func editDistance(a, b string) int {
	prev2, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// didYouMean is "; did you mean X?" for the candidate closest to typed,
// or "" when none is close.
func didYouMean(typed string, candidates []string) string {
	if c := closest(typed, candidates); c != "" {
		return fmt.Sprintf("; did you mean %s?", c)
	}
	return ""
}

// unknownFlag is the usage error for a flag no command at this level has
// (typed as given, without its "=value"), with the closest known one.
func unknownFlag(prefix, typed string, known []string) error {
	var spelled []string
	for _, n := range known {
		spelled = append(spelled, dashed(n))
	}
	return usageError("%sunknown flag %s%s", prefix, typed, didYouMean("--"+strings.TrimLeft(typed, "-"), spelled))
}

// dashed is a flag's name as typed: "-o", "--output".
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// visibleCommandNames are the names a person can type at this level.
func visibleCommandNames(commands []*cli.Command) []string {
	var names []string
	for _, c := range commands {
		if !c.Hidden {
			names = append(names, c.Names()...)
		}
	}
	return names
}

// archNames maps the names other systems give an architecture (Go's,
// Debian's) to Alpine's.
var archNames = map[string]string{
	"amd64": "x86_64", "arm64": "aarch64", "i386": "x86", "i686": "x86", "386": "x86",
	"armel": "armhf", "arm": "armv7", "ppc64el": "ppc64le", "riscv": "riscv64", "loong64": "loongarch64",
}

// unknownArch is the usage error for an --arch Alpine does not build for
// (when no --keys-dir says otherwise).
func unknownArch(arch string) error {
	known := apk.AlpineArches()
	hint := didYouMean(arch, known)
	if a, ok := archNames[arch]; ok && slices.Contains(known, a) {
		hint = fmt.Sprintf("; did you mean %s?", a)
	}
	return usageError("--arch %q: not an Alpine architecture (%s; for another, give --keys-dir)%s", arch, strings.Join(known, ", "), hint)
}
