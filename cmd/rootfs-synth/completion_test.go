//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/testenv"
)

// TestCompletion: `completion bash` prints a script bash accepts (bash -n)
// and that, sourced, completes commands and flags by asking the binary;
// zsh's and fish's name the program and its commands (the shells are not
// installed on the test machines, so their content is checked).
func TestCompletion(t *testing.T) {
	m := &mirror{home: testenv.WorldDir(t)}
	script := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, stderr, code := runCmd(t, m.command(t, nil, "completion", shell))
		if code != 0 || stderr != "" {
			t.Fatalf("rootfs-synth completion %s = exit %d, stderr %q", shell, code, stderr)
		}
		script[shell] = out
	}
	bash := testenv.Tool(t, "bash")
	file := filepath.Join(testenv.WorldDir(t), "rootfs-synth.bash")
	if err := os.WriteFile(file, []byte(script["bash"]), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bash, "-n", file).CombinedOutput(); err != nil {
		t.Fatalf("bash -n on the bash completion script: %v\n%s", err, out)
	}
	// Completing `rootfs-synth ma` and `rootfs-synth mkfs --no-j` as bash
	// would, with bash-completion's _init_completion reduced to the words.
	for _, tt := range []struct{ words, want string }{
		{"rootfs-synth mk", "mkfs"},
		{"rootfs-synth --prof", "--profile"},
		{"rootfs-synth mkfs --no-j", "--no-journal"},
		{"rootfs-synth comp", "completion"},
	} {
		words := strings.Fields(tt.words)
		prog := `_init_completion() { cur="${COMP_WORDS[COMP_CWORD]}"; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
source "$1"
COMP_WORDS=(` + strings.Join(words, " ") + `)
COMP_CWORD=` + string(rune('0'+len(words)-1)) + `
_cli_bash_autocomplete
printf '%s\n' "${COMPREPLY[@]}"
complete -p rootfs-synth`
		cmd := exec.Command(bash, "-c", prog, "bash", file)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(testenv.Binary(t))+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err != nil || len(lines) != 2 || lines[0] != tt.want || !strings.Contains(lines[1], "-F _cli_bash_autocomplete rootfs-synth") {
			t.Errorf("bash completing %q: %v, output %q, want %q and the completion registered", tt.words, err, out, tt.want)
		}
	}
	for _, want := range []string{"#compdef rootfs-synth\n", "compdef _cli_zsh_autocomplete rootfs-synth\n", "--generate-bash-completion"} {
		if !strings.Contains(script["zsh"], want) {
			t.Errorf("rootfs-synth completion zsh does not contain %q:\n%s", want, script["zsh"])
		}
	}
	for _, want := range []string{"complete -c rootfs-synth ", " -a 'mkfs'", " -l no-journal", " -l profile -r"} {
		if !strings.Contains(script["fish"], want) {
			t.Errorf("rootfs-synth completion fish does not contain %q:\n%.2000s", want, script["fish"])
		}
	}
}
