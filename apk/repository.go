package apk

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
)

// Repository is one apk repository, reachable through one or more mirrors
// that serve the same content. A Client tries the mirrors in order and fails
// over to the next one on connection errors, server errors and stalls.
type Repository struct {
	// URLs are the repository's base URLs without the arch directory, e.g.
	// https://dl-cdn.alpinelinux.org/alpine/v3.23/main or
	// file:///srv/mirror/v3.23/main; the client appends "/<arch>/...".
	// Schemes: https, http and file.
	URLs []string
	// Tag is the repository's pin name without the "@" ("edge" for a
	// repositories line "@edge https://..."), or "" for a plain repository.
	// Atoms must name the tag to be served from a tagged repository.
	Tag string
}

// String returns the repository as a repositories-file line would spell it.
func (r Repository) String() string {
	s := strings.Join(r.URLs, " ")
	if r.Tag != "" {
		s = "@" + r.Tag + " " + s
	}
	return s
}

// ParseRepository parses one repository location: an https://, http:// or
// file:// URL, or a plain directory laid out like a mirror (the directory
// given is <base>/<branch>/<repo>, holding <arch>/APKINDEX.tar.gz). A
// directory is turned into an absolute file:// URL. A leading "@tag " and
// several space-separated mirrors are accepted as in ParseRepositoryLine, but
// components are not (they would make several repositories).
func ParseRepository(s string) (Repository, error) {
	repos, err := ParseRepositoryLine(s)
	if err != nil {
		return Repository{}, err
	}
	switch len(repos) {
	case 0:
		return Repository{}, errors.New("parsing repository: empty")
	case 1:
		return repos[0], nil
	default:
		return Repository{}, fmt.Errorf("parsing repository %q: components make %d repositories, want one", s, len(repos))
	}
}

// ParseRepositoryLine parses one line of an apk repositories file:
//
//	[v2] [@tag] URL [URL...] [component...]
//
// Blank lines and "#" comments yield no repository. As in apk-tools 3,
// components (bare words such as "main community") are appended to the
// base URL, one repository each. Several URLs on one line are an extension
// of rootfs-synth: they are mirrors of the same repository, tried in order.
// The v3 and ndx index types and "set" variables are not supported.
func ParseRepositoryLine(line string) ([]Repository, error) {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return nil, nil
	}
	switch fields[0] {
	case "v2":
		fields = fields[1:]
	case "v3", "ndx":
		return nil, fmt.Errorf("parsing repository %q: index type %s is not supported (only v2)", line, fields[0])
	case "set":
		return nil, fmt.Errorf("parsing repository %q: variables are not supported", line)
	}
	var tag string
	if len(fields) > 0 && strings.HasPrefix(fields[0], "@") {
		tag = fields[0][1:]
		if tag == "" {
			return nil, fmt.Errorf("parsing repository %q: empty @tag", line)
		}
		fields = fields[1:]
	}
	var bases, components []string
	for _, f := range fields {
		// A bare word before any URL is a relative directory.
		if strings.ContainsAny(f, "/:") || len(bases) == 0 {
			if len(components) > 0 {
				return nil, fmt.Errorf("parsing repository %q: URL %q after a component", line, f)
			}
			u, err := normalizeRepositoryURL(f)
			if err != nil {
				return nil, fmt.Errorf("parsing repository %q: %w", line, err)
			}
			bases = append(bases, u)
			continue
		}
		if !validComponent(f) {
			return nil, fmt.Errorf("parsing repository %q: component %q: want letters, digits, '.', '_' or '-'", line, f)
		}
		components = append(components, f)
	}
	if len(bases) == 0 {
		return nil, fmt.Errorf("parsing repository %q: no URL", line)
	}
	if len(components) == 0 {
		return []Repository{{URLs: bases, Tag: tag}}, nil
	}
	repos := make([]Repository, 0, len(components))
	for _, c := range components {
		r := Repository{Tag: tag}
		for _, b := range bases {
			r.URLs = append(r.URLs, b+"/"+c)
		}
		repos = append(repos, r)
	}
	return repos, nil
}

// ParseRepositories reads an apk repositories file (/etc/apk/repositories
// style), one ParseRepositoryLine per line. Errors name the line number.
func ParseRepositories(r io.Reader) ([]Repository, error) {
	var repos []Repository
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		rs, err := ParseRepositoryLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("repositories:%d: %w", n, err)
		}
		repos = append(repos, rs...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading repositories: %w", err)
	}
	return repos, nil
}

// normalizeRepositoryURL checks a repository location and returns it as a
// URL without a trailing slash; directories become absolute file:// URLs.
func normalizeRepositoryURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		abs, err := filepath.Abs(s)
		if err != nil {
			return "", fmt.Errorf("making repository directory %q absolute: %w", s, err)
		}
		s = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("parsing repository URL: %w", err)
	}
	u.Path, u.RawPath = strings.TrimRight(u.Path, "/"), ""
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return "", fmt.Errorf("repository URL %q has no host", s)
		}
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("repository URL %q names a remote host", s)
		}
		if u.Path == "" {
			return "", fmt.Errorf("repository URL %q has no path", s)
		}
		u.Host = ""
	default:
		return "", fmt.Errorf("repository URL %q: scheme %q is not supported (https, http, file or a directory)", s, u.Scheme)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery || u.User != nil || u.Opaque != "" {
		return "", fmt.Errorf("repository URL %q has a query, fragment, user or opaque part", s)
	}
	return u.String(), nil
}

func validComponent(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return s != "." && s != ".."
}
