package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// completionCommand is `rootfs-synth completion bash|zsh|fish`: a script
// that makes the shell complete the commands and flags. The scripts ask
// the binary itself (urfave/cli's --generate-bash-completion, enabled
// with App.EnableBashCompletion), so they never go stale; fish's is
// urfave's ToFishCompletion, a static list of the commands and flags.
func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "SHELL",
		Description: "bash (in ~/.bashrc):  source <(rootfs-synth completion bash)\n" +
			"zsh (in ~/.zshrc, after compinit):  source <(rootfs-synth completion zsh)\n" +
			"fish:  rootfs-synth completion fish >~/.config/fish/completions/rootfs-synth.fish",
		Action: func(cCtx *cli.Context) error {
			if cCtx.NArg() != 1 {
				return usageError("completion: want one SHELL (bash, zsh or fish), have %d arguments", cCtx.NArg())
			}
			w := cCtx.App.Writer
			switch shell := cCtx.Args().First(); shell {
			case "bash":
				_, err := io.WriteString(w, bashCompletion)
				return err
			case "zsh":
				_, err := io.WriteString(w, zshCompletion)
				return err
			case "fish":
				script, err := cCtx.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("completion: writing the fish script: %w", err)
				}
				_, err = io.WriteString(w, script)
				return err
			default:
				return usageError("completion: no script for shell %q (bash, zsh, fish)%s", shell, didYouMean(shell, []string{"bash", "zsh", "fish"}))
			}
		},
	}
}

// bashCompletion is urfave/cli v2's autocomplete/bash_autocomplete (MIT),
// with the program named: its PROG from ${BASH_SOURCE} would be "63" for
// `source <(rootfs-synth completion bash)`.
const bashCompletion = `# bash completion for rootfs-synth (rootfs-synth completion bash)

_cli_init_completion() {
  COMPREPLY=()
  _get_comp_words_by_ref "$@" cur prev words cword
}

_cli_bash_autocomplete() {
  if [[ "${COMP_WORDS[0]}" != "source" ]]; then
    local cur opts base words
    COMPREPLY=()
    cur="${COMP_WORDS[COMP_CWORD]}"
    if declare -F _init_completion >/dev/null 2>&1; then
      _init_completion -n "=:" || return
    else
      _cli_init_completion -n "=:" || return
    fi
    words=("${words[@]:0:$cword}")
    if [[ "$cur" == "-"* ]]; then
      requestComp="${words[*]} ${cur} --generate-bash-completion"
    else
      requestComp="${words[*]} --generate-bash-completion"
    fi
    opts=$(eval "${requestComp}" 2>/dev/null)
    COMPREPLY=($(compgen -W "${opts}" -- ${cur}))
    return 0
  fi
}

complete -o bashdefault -o default -o nospace -F _cli_bash_autocomplete rootfs-synth
`

// zshCompletion is urfave/cli v2's autocomplete/zsh_autocomplete (MIT),
// with the program named.
const zshCompletion = `#compdef rootfs-synth
# zsh completion for rootfs-synth (rootfs-synth completion zsh)

_cli_zsh_autocomplete() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi

  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}

compdef _cli_zsh_autocomplete rootfs-synth
`
