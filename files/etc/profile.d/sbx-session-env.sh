# /etc/profile.d/sbx-session-env.sh: loads the sandbox's session environment
# (/etc/sbx/session-env.sh, written by `sbx start`) into login shells;
# Alpine's /etc/profile sources /etc/profile.d/*.sh after it sets PATH, so a
# PATH set by the session wins.
#
# Shipped by rootfs-synth (files/etc/profile.d/ in its source). Commands run
# over ssh read no profile: they get the same file from root's shell,
# /usr/local/bin/sbx-shell. The file runs in a subshell, because an error in a
# sourced file can end the shell that sources it; its exports are kept.
if [ -r /etc/sbx/session-env.sh ]; then
	# Run once, in a subshell with no stdin and its output on stderr (a
	# stray echo must not reach an scp or sftp data channel, a read must
	# not eat the session's input, an exit or a failing last line must not
	# end or drop the session), and keep only what it exported.
	if sbx_env=$(. /etc/sbx/session-env.sh </dev/null >&2; export -p); then
		eval "$sbx_env"
	else
		echo "sbx-session-env: ignoring /etc/sbx/session-env.sh: it fails under sh" >&2
	fi
	unset sbx_env
fi
