# /etc/sbx/session-env.sh: the sandbox's session environment.
#
# Managed file: `sbx start` rewrites it with one `export K=V` line per
# variable (V quoted for sh), so edits by hand are lost at the next start.
# rootfs-synth ships it empty but for this comment (files/etc/sbx/ in its
# source). It is 0600 because the values are often credentials; keep it so.
#
# Who reads it: /usr/local/bin/sbx-shell (root's login shell, so every
# `ssh host cmd` and every login gets it) and /etc/profile.d/sbx-session-env.sh
# (any other login shell). Both skip it, with a warning on stderr, when it
# does not run cleanly under sh, so a bad line cannot lock anyone out.
