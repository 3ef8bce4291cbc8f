# /etc/profile.d/sbx-session-env.sh: loads the sandbox's session environment
# (/etc/sbx/session-env.sh, written by `sbx start`) into login shells;
# Alpine's /etc/profile sources /etc/profile.d/*.sh after it sets PATH, so a
# PATH set by the session wins.
#
# Shipped by rootfs-synth (files/etc/profile.d/ in its source). Commands run
# over ssh read no profile: they get the same file from root's shell,
# /usr/local/bin/sbx-shell. The file is first tried in a subshell, because an
# error in a sourced file can end the shell that sources it.
if [ -r /etc/sbx/session-env.sh ]; then
	if (. /etc/sbx/session-env.sh) >/dev/null 2>&1; then
		. /etc/sbx/session-env.sh
	else
		echo "sbx-session-env: ignoring /etc/sbx/session-env.sh: it fails under sh" >&2
	fi
fi
