package alpinetest

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk/apktest"
)

// Versions of the base packages: those of v3.23.3 (alpine.md §5).
const (
	baselayoutVersion = "3.7.1-r8"
	busyboxVersion    = "1.37.0-r30"
	muslVersion       = "1.2.5-r21"
	apkToolsVersion   = "3.0.3-r1"
)

// Alpine's real script texts: busybox 1.37.0-r30 and alpine-baselayout
// 3.7.x (aports main/busybox and main/alpine-baselayout).
const (
	BusyboxPostInstall = `#!/bin/busybox sh

# We need the symlinks early
/bin/busybox mkdir -p "/bin" "/sbin" "/usr/bin" "/usr/sbin"
/bin/busybox --install -s || exit 1

# can't be in pre-install since adduser/group may not available then
addgroup -S klogd 2>/dev/null
adduser -S -D -H -h /dev/null -s /sbin/nologin -G klogd -g klogd klogd 2>/dev/null

exit 0
`
	BusyboxTrigger = `#!/bin/sh

do_bb_install=

for i in "$@"; do
	case "$i" in
		/lib/modules/* | /usr/lib/modules/*)
			# don't run busybox depmod if we have kmod installed
			# we dont need to run it twice.
			target=$(readlink -f "$(command -v depmod || true)")
			if [ -d "$i" ] && [ "$target" = "/bin/busybox" ]; then
				/bin/busybox depmod ${i#*/lib/modules/}
			fi
			;;
		*) do_bb_install=yes;;
	esac
done

if [ -n "$do_bb_install" ]; then
	[ -e /bin/bbsuid ] && /bin/bbsuid --install
	[ -e /bin/busybox-extras ] && /bin/busybox-extras --install -s
	/bin/busybox --install -s
fi
`
	BaselayoutPreInstall = `#!/bin/sh

addgroup -S -g 42 shadow 2>/dev/null

exit 0
`
	BaselayoutPostInstall = `#!/bin/sh

# update color_prompt.sh symlink (if exists) after we renamed color_prompt to
# color_prompt.sh.disabled.
case "$(readlink etc/profile.d/color_prompt.sh 2>/dev/null || true)" in
	color_prompt) ln -sf color_prompt.sh.disabled etc/profile.d/color_prompt.sh;;
esac

# the /etc/group file is created after /etc/shadow. Needed to apply the group
# properly.
chown root:shadow etc/shadow
[ -e etc/shadow- ] && chown root:shadow etc/shadow-

exit 0
`
	// UserPreInstall is UserPackage's script, in the form Alpine's
	// packages use.
	UserPreInstall = `#!/bin/sh

addgroup -S svc 2>/dev/null
adduser -S -D -H -h /var/lib/svc -s /sbin/nologin -G svc -g svc svc 2>/dev/null

exit 0
`
)

// BusyboxTriggers are the busybox package's trigger globs.
var BusyboxTriggers = []string{"/bin", "/usr/bin", "/sbin", "/usr/sbin", "/lib/modules/*", "/usr/lib/modules/*"}

// BbsuidLinks are the paths `bbsuid --install` links to /bin/bbsuid.
var BbsuidLinks = []string{"bin/mount", "bin/umount", "bin/su", "usr/bin/crontab", "usr/bin/passwd",
	"usr/bin/traceroute", "usr/bin/traceroute6", "usr/bin/vlock"}

const (
	noarch    = "noarch"
	buildTime = 1765894768 // busybox-binsh 1.37.0-r30's builddate
)

// muslSO is what musl provides and every program depends on: its
// loader's name holds the arch.
func muslSO(arch string) string { return "so:libc.musl-" + arch + ".so.1" }

func dir(name string, perm fs.FileMode) apktest.File {
	return apktest.File{Name: name, Mode: fs.ModeDir | perm}
}

func file(name string, perm fs.FileMode, data string) apktest.File {
	return apktest.File{Name: name, Mode: perm, Data: []byte(data)}
}

func symlink(name, target string) apktest.File {
	return apktest.File{Name: name, Mode: fs.ModeSymlink | 0o777, Linkname: target}
}

func placeholder(what string) string {
	return "\x7fELF placeholder for " + what + " (alpinetest; not a program)\n"
}

// basePackages returns the base packages and the test-shaped extras of
// main, in index order.
func basePackages(opts Options, key *apktest.Key) ([]apktest.Pkg, error) {
	td := opts.Testdata
	etc := map[string][]byte{}
	for _, name := range []string{"passwd", "group", "shadow", "inittab", "fstab", "hostname", "profile", "securetty"} {
		b, err := readTestdata(td, "minirootfs-3.20.3/etc/"+name)
		if err != nil {
			return nil, err
		}
		etc[name] = b
	}
	paths, err := readTestdata(td, "packages/busybox-paths.d-busybox-1.37.0-r30.txt")
	if err != nil {
		return nil, err
	}
	bb, bbsuid := []byte(placeholder("busybox")), []byte(placeholder("bbsuid"))
	if opts.Bootable {
		p := opts.BusyboxPath
		if p == "" {
			p = "/bin/busybox"
		}
		if bb, err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("reading the static busybox for a bootable repository: %w", err)
		}
		// bbsuid's links (/bin/mount, /bin/su, ...) must run too: busybox
		// itself picks the applet from the link's name, as bbsuid does.
		bbsuid = bb
	}
	pub := string(key.PublicPEM())
	arch := opts.arch()
	muslDep := muslSO(arch)
	prio := 100
	common := func(p apktest.Pkg) apktest.Pkg {
		if p.URL == "" {
			p.URL = "https://alpinelinux.org"
		}
		if p.License == "" {
			p.License = "GPL-2.0-only"
		}
		if p.Origin == "" {
			p.Origin = p.Name
		}
		p.Maintainer = "alpinetest <alpinetest@localhost>"
		p.BuildTime = buildTime
		return p
	}
	pkgs := []apktest.Pkg{
		{
			Name: "musl", Version: muslVersion, Description: "the musl c library (libc) implementation",
			License: "MIT", Provides: []string{muslDep + "=1"},
			Files: []apktest.File{
				file("lib/ld-musl-"+arch+".so.1", 0o755, placeholder("musl")),
				symlink("lib/libc.musl-"+arch+".so.1", "ld-musl-"+arch+".so.1"),
			},
		},
		{
			Name: "busybox", Version: busyboxVersion, Description: "Size optimized toolbox of many common UNIX utilities",
			Depends: []string{muslDep}, Provides: []string{"cmd:busybox=" + busyboxVersion},
			Replaces: []string{"busybox-initscripts"},
			Triggers: BusyboxTriggers,
			Scripts:  map[string]string{"post-install": BusyboxPostInstall, "trigger": BusyboxTrigger},
			Files: []apktest.File{
				dir("bin", 0o755),
				{Name: "bin/busybox", Mode: 0o755, Data: bb},
				file("etc/busybox-paths.d/busybox", 0o644, string(paths)),
				file("etc/securetty", 0o644, string(etc["securetty"])),
				file("etc/logrotate.d/acpid", 0o644, "/var/log/acpid.log {\n\tmissingok\n\tnotifempty\n\tsharedscripts\n}\n"),
				dir("etc/network/if-down.d", 0o755),
				dir("etc/network/if-post-down.d", 0o755),
				dir("etc/network/if-post-up.d", 0o755),
				dir("etc/network/if-pre-down.d", 0o755),
				dir("etc/network/if-pre-up.d", 0o755),
				file("etc/network/if-up.d/dad", 0o775, "#!/bin/sh\n# alpinetest stand-in for busybox's dad hook\nexit 0\n"),
				file("etc/udhcpc/udhcpc.conf", 0o644, "# alpinetest stand-in for udhcpc.conf\n"),
				dir("sbin", 0o755),
				dir("tmp", 0o777|fs.ModeSticky),
				dir("usr/sbin", 0o755),
				file("usr/share/udhcpc/default.script", 0o755, "#!/bin/sh\n# alpinetest stand-in for udhcpc's default.script\nexit 0\n"),
				dir("var/cache/misc", 0o755),
			},
		},
		{
			Name: "busybox-suid", Version: busyboxVersion, Description: "suid binaries of Busybox",
			Origin: "busybox", Depends: []string{"busybox=" + busyboxVersion, muslDep},
			Files: []apktest.File{{Name: "bin/bbsuid", Mode: fs.ModeSetuid | 0o111, Data: bbsuid}},
		},
		{
			Name: "busybox-binsh", Version: busyboxVersion, Arch: noarch, Description: "busybox ash /bin/sh",
			Origin: "busybox", ProviderPriority: &prio,
			Replaces: []string{"busybox-initscripts"},
			Provides: []string{"/bin/sh", "cmd:sh=" + busyboxVersion},
			Depends:  []string{"busybox=" + busyboxVersion},
			Files:    []apktest.File{symlink("bin/sh", "/bin/busybox")},
		},
		baselayout(),
		baselayoutData(etc),
		{
			Name: "alpine-keys", Version: "2.6-r0", Arch: noarch, Description: "Public keys for Alpine Linux packages",
			License: "MIT", Replaces: []string{"alpine-base"},
			Files: []apktest.File{
				file("etc/apk/keys/"+key.Name, 0o644, pub),
				file("usr/share/apk/keys/"+key.Name, 0o644, pub),
				symlink("usr/share/apk/keys/"+arch+"/"+key.Name, "../"+key.Name),
			},
		},
		{
			Name: "ca-certificates-bundle", Version: "20251003-r0", Arch: noarch, Origin: "ca-certificates",
			Description: "Pre generated bundle of Mozilla certificates", License: "MPL-2.0 AND MIT",
			Provides: []string{"ca-certificates-cacert=20251003-r0"},
			Files: []apktest.File{
				file("etc/ssl/certs/ca-certificates.crt", 0o644, "# alpinetest: no certificates\n"),
				symlink("etc/ssl/cert.pem", "certs/ca-certificates.crt"),
				symlink("etc/ssl1.1/cert.pem", "/etc/ssl/cert.pem"),
				symlink("etc/ssl1.1/certs", "/etc/ssl/certs"),
			},
		},
		{
			Name: "libapk", Version: apkToolsVersion, Origin: "apk-tools", Description: "Alpine Package Keeper - shared library",
			Depends: []string{muslDep}, Provides: []string{"so:libapk.so.3.0.0=3.0.0"},
			Files: []apktest.File{file("usr/lib/libapk.so.3.0.0", 0o755, placeholder("libapk"))},
		},
		{
			Name: "apk-tools", Version: apkToolsVersion, Description: "Alpine Package Keeper - package manager for alpine",
			Depends: []string{"ca-certificates-bundle", muslDep, "so:libapk.so.3.0.0"},
			Files: []apktest.File{
				dir("etc/apk/keys", 0o755),
				dir("etc/apk/protected_paths.d", 0o755),
				dir("lib/apk/db", 0o755),
				dir("lib/apk/exec", 0o755),
				file("sbin/apk", 0o755, placeholder("apk")),
			},
		},
		{
			Name: "scanelf", Version: "1.3.8-r2", Origin: "pax-utils", Description: "Scan ELF binaries for stuff",
			Depends: []string{muslDep},
			Files:   []apktest.File{file("usr/bin/scanelf", 0o755, placeholder("scanelf"))},
		},
		{
			Name: "musl-utils", Version: muslVersion, Origin: "musl", Description: "the musl c library (libc) implementation",
			License:  "MIT AND BSD-2-Clause AND GPL-2.0-or-later",
			Provides: []string{"libc-utils=" + muslVersion, "cmd:getconf=" + muslVersion, "cmd:getent=" + muslVersion, "cmd:ldd=" + muslVersion},
			Depends:  []string{"scanelf", muslDep},
			Files: []apktest.File{
				file("sbin/ldconfig", 0o755, "#!/bin/sh\nscanelf --ldpath >/dev/null\n"),
				file("usr/bin/getconf", 0o755, placeholder("getconf")),
				file("usr/bin/getent", 0o755, placeholder("getent")),
				file("usr/bin/iconv", 0o755, placeholder("iconv")),
				file("usr/bin/ldd", 0o755, "#!/bin/sh\nexec /lib/ld-musl-"+arch+".so.1 --list \"$@\"\n"),
			},
		},
		{
			Name: UserPackage, Version: "1.0-r0", Description: "a service whose files belong to its system user",
			Depends: []string{"/bin/sh"},
			Scripts: map[string]string{"pre-install": UserPreInstall},
			Files: []apktest.File{
				file("usr/bin/testsvc", 0o755, "#!/bin/sh\necho testsvc\n"),
				{Name: "var/lib/svc", Mode: fs.ModeDir | 0o750, Uname: UserName, Gname: UserName},
				{Name: "var/lib/svc/state", Mode: 0o640, Uname: UserName, Gname: UserName, Data: []byte("state of testsvc\n")},
			},
		},
		{
			Name: ReplacedPackage, Version: "1.0-r0", Description: "ships " + ReplacedPath,
			Files: []apktest.File{file(ReplacedPath, 0o644, "from "+ReplacedPackage+"\n")},
		},
		{
			Name: ReplacingPackage, Version: "1.0-r0", Description: "replaces " + ReplacedPackage + "'s " + ReplacedPath,
			Depends: []string{ReplacedPackage}, Replaces: []string{ReplacedPackage},
			Files: []apktest.File{file(ReplacedPath, 0o644, "from "+ReplacingPackage+"\n")},
		},
	}
	for i := range pkgs {
		pkgs[i] = common(pkgs[i])
	}
	return pkgs, nil
}

// baselayout is alpine-baselayout: the directory skeleton with its real
// modes (the 3.20.3 installed database's F:/M: lines; proc stays 0755 in
// the package, procfs is mounted 0555 over it), the 3.23-style relative
// symlinks and a few small files whose content is a stand-in.
func baselayout() apktest.Pkg {
	p := apktest.Pkg{
		Name: "alpine-baselayout", Version: baselayoutVersion, Description: "Alpine base dir structure and init scripts",
		URL:     "https://git.alpinelinux.org/cgit/aports/tree/main/alpine-baselayout",
		Depends: []string{"alpine-baselayout-data=" + baselayoutVersion, "/bin/sh"},
		Scripts: map[string]string{"pre-install": BaselayoutPreInstall, "post-install": BaselayoutPostInstall},
	}
	for _, d := range strings.Fields(`dev dev/pts dev/shm etc etc/crontabs etc/modprobe.d etc/modules-load.d
		etc/network etc/network/if-down.d etc/network/if-post-down.d etc/network/if-pre-up.d etc/network/if-up.d
		etc/opt etc/periodic etc/periodic/15min etc/periodic/daily etc/periodic/hourly etc/periodic/monthly
		etc/periodic/weekly etc/profile.d etc/sysctl.d home lib lib/firmware lib/modules-load.d lib/sysctl.d
		media media/cdrom media/floppy media/usb mnt opt proc run run/lock sbin srv sys usr usr/bin usr/lib
		usr/lib/modules-load.d usr/lib/sysctl.d usr/local usr/local/bin usr/local/lib usr/local/share usr/sbin
		usr/share usr/share/man usr/share/misc var var/cache var/cache/misc var/lib var/lib/misc var/local
		var/log var/mail var/opt var/spool var/spool/cron`) {
		p.Files = append(p.Files, dir(d, 0o755))
	}
	p.Files = append(p.Files,
		dir("root", 0o700),
		dir("tmp", 0o777|fs.ModeSticky),
		dir("var/tmp", 0o777|fs.ModeSticky),
		dir("var/empty", 0o555),
		symlink("var/run", "../run"),
		symlink("var/lock", "../run/lock"),
		symlink("var/spool/mail", "../mail"),
		symlink("var/spool/cron/crontabs", "../../../etc/crontabs"),
		file("etc/crontabs/root", 0o600, "# min\thour\tday\tmonth\tweekday\tcommand\n*/15\t*\t*\t*\t*\trun-parts /etc/periodic/15min\n"),
		file("etc/motd", 0o644, "Welcome to Alpine (alpinetest)!\n"),
		file("etc/modprobe.d/aliases.conf", 0o644, "# alpinetest stand-in\n"),
		file("etc/modprobe.d/blacklist.conf", 0o644, "# alpinetest stand-in\n"),
		file("etc/modprobe.d/i386.conf", 0o644, "# alpinetest stand-in\n"),
		file("etc/modprobe.d/kms.conf", 0o644, "# alpinetest stand-in\n"),
		file("etc/profile.d/20locale.sh", 0o644, "export CHARSET=${CHARSET:-UTF-8}\nexport LANG=${LANG:-C.UTF-8}\nexport LC_COLLATE=${LC_COLLATE:-C}\n"),
		file("etc/profile.d/README", 0o644, "This directory should contain shell scripts configuring system-wide\nenvironment on users' shells.\n"),
		file("etc/profile.d/color_prompt.sh.disabled", 0o644, "# alpinetest stand-in\n"),
		file("usr/lib/sysctl.d/00-alpine.conf", 0o644, "net.ipv4.tcp_syncookies = 1\n"),
	)
	return p
}

// baselayoutData is alpine-baselayout-data: the real 3.20.3 /etc files
// where the shared data has them (passwd, group, shadow, inittab, fstab,
// hostname, profile), short stand-ins for the rest.
func baselayoutData(etc map[string][]byte) apktest.Pkg {
	p := apktest.Pkg{
		Name: "alpine-baselayout-data", Version: baselayoutVersion, Origin: "alpine-baselayout",
		Description: "Alpine base dir structure and init scripts",
		URL:         "https://git.alpinelinux.org/cgit/aports/tree/main/alpine-baselayout",
		Replaces:    []string{"alpine-baselayout"},
	}
	for _, name := range []string{"fstab", "group", "hostname", "inittab", "passwd", "profile"} {
		p.Files = append(p.Files, file("etc/"+name, 0o644, string(etc[name])))
	}
	p.Files = append(p.Files,
		apktest.File{Name: "etc/shadow", Mode: 0o640, Gname: "shadow", Data: etc["shadow"]},
		file("etc/hosts", 0o644, "127.0.0.1\tlocalhost localhost.localdomain\n::1\t\tlocalhost localhost.localdomain\n"),
		file("etc/modules", 0o644, "af_packet\nipv6\n"),
		symlink("etc/mtab", "../proc/mounts"),
		file("etc/nsswitch.conf", 0o644, "passwd:\tfiles\ngroup:\tfiles\nhosts:\tfiles dns\n"),
		file("etc/protocols", 0o644, "ip\t0\tIP\nicmp\t1\tICMP\ntcp\t6\tTCP\nudp\t17\tUDP\n"),
		file("etc/services", 0o644, "ssh\t\t22/tcp\nhttp\t\t80/tcp\n"),
		file("etc/shells", 0o644, "# valid login shells\n/bin/sh\n/bin/ash\n"),
		file("etc/sysctl.conf", 0o644, "# content of this file will override /etc/sysctl.d/*\n"),
	)
	return p
}

// communityPackage is the one package of community.
func communityPackage() apktest.Pkg {
	return apktest.Pkg{
		Name: CommunityPackage, Version: "2.0-r1", Description: "a package from community",
		URL: "https://alpinelinux.org", License: "MIT", Origin: CommunityPackage,
		Maintainer: "alpinetest <alpinetest@localhost>", BuildTime: buildTime,
		Depends: []string{"busybox"},
		Files:   []apktest.File{file("usr/share/testcommunity/README", 0o644, "from community\n")},
	}
}
