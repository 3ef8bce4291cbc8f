package build

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/rootfs-synth/rootfs-synth/apk"
)

// checkGuest sets s.guest from Options.GuestRepositories (given): a
// build's and a plan's, not what only chooses packages (Fetch, Resolve),
// which writes no guest.
func (s *selection) checkGuest(given []string) error {
	var err error
	s.guest, err = guestRepositories(given, s.repos, s.requested, s.branch)
	return err
}

// guestRepositories are the lines of the image's /etc/apk/repositories.
// Given lines are the user's and go in as written (checked that apk can
// read them and that they serve every tag the world pins). Otherwise the
// guest gets the official mirror's main and community for the branch,
// whatever the build read them from: a mirror on file:// or this machine
// means nothing inside the guest, and another one is a detail of where
// the build ran. A tag the world pins ("foo@edge") gets its "@edge URL"
// line, so that apk in the guest can still upgrade what it pinned: the
// tagged repository's own URL when it is on the network, else its
// <branch>/<repo> on the official mirror.
func guestRepositories(given []string, repos []apk.Repository, world []apk.Dependency, branch string) ([]string, error) {
	var tags []string
	for _, d := range world {
		if d.Tag != "" && !slices.Contains(tags, d.Tag) {
			tags = append(tags, d.Tag)
		}
	}
	if given != nil {
		return checkGuestRepositories(given, tags, world)
	}
	var lines []string
	for _, name := range mirrorRepositories {
		lines = append(lines, DefaultMirror+"/"+branch+"/"+name)
	}
	for _, tag := range tags {
		i := slices.IndexFunc(repos, func(r apk.Repository) bool { return r.Tag == tag })
		if i < 0 {
			continue // the solver says that no repository has the tag
		}
		u, err := guestURL(repos[i])
		if err != nil {
			return nil, &OptionError{Option: "GuestRepositories", Err: usagef("the world pins @%s: %v: give the guest's @%s line", tag, err, tag)}
		}
		lines = append(lines, "@"+tag+" "+u)
	}
	return lines, nil
}

// checkGuestRepositories checks lines a user gave for the guest.
func checkGuestRepositories(given, tags []string, world []apk.Dependency) ([]string, error) {
	served := map[string]bool{}
	lines := make([]string, 0, len(given))
	for _, l := range given {
		l = strings.TrimSpace(l)
		// One line each: a line break would smuggle in another.
		if strings.ContainsFunc(l, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return nil, &OptionError{"GuestRepositories", l, usage("a control character in a line")}
		}
		rs, err := apk.ParseRepositoryLine(l)
		if err != nil {
			return nil, &OptionError{Option: "GuestRepositories", Err: usage(err.Error())}
		}
		for _, r := range rs {
			// apk in the guest would read a second URL as a component.
			if len(r.URLs) > 1 {
				return nil, &OptionError{"GuestRepositories", l, usage("one URL per line (apk takes the others as components)")}
			}
			served[r.Tag] = true
		}
		lines = append(lines, l)
	}
	for _, tag := range tags {
		if !served[tag] {
			i := slices.IndexFunc(world, func(d apk.Dependency) bool { return d.Tag == tag })
			return nil, &OptionError{Option: "GuestRepositories", Err: usagef("no @%s line, and the world pins %s", tag, world[i])}
		}
	}
	return lines, nil
}

// guestURL is where the guest finds repository r: its first URL on the
// network off this machine, else the official mirror's repository of the
// same <branch>/<repo>.
func guestURL(r apk.Repository) (string, error) {
	for _, u := range r.URLs {
		if !onThisMachine(u) {
			return u, nil
		}
	}
	p, err := url.Parse(r.URLs[0])
	if err != nil {
		return "", err
	}
	elems := strings.Split(strings.Trim(p.Path, "/"), "/")
	if len(elems) < 2 || !plainName(elems[len(elems)-1]) || !plainName(elems[len(elems)-2]) {
		return "", fmt.Errorf("its repository %s is on this machine and does not end in <branch>/<repo>", r)
	}
	return DefaultMirror + "/" + strings.Join(elems[len(elems)-2:], "/"), nil
}

// onThisMachine reports whether a repository URL names this machine: a
// file, localhost or a loopback address, which the guest cannot reach.
func onThisMachine(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "file" || u.Host == "" {
		return true
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// usedRepositories are the repositories a build read, one line each as
// /etc/apk/repositories spells it, with the URL of the mirror each index
// really came from (a failover shows here).
func usedRepositories(indexes []*apk.Index, arch string) []string {
	lines := make([]string, len(indexes))
	for i, idx := range indexes {
		l := strings.TrimSuffix(idx.Source, "/"+arch+"/APKINDEX.tar.gz")
		if idx.Tag != "" {
			l = "@" + idx.Tag + " " + l
		}
		lines[i] = l
	}
	return lines
}
