package provision

// TEMPORARY stand-ins for accounts.go and shellwords.go (another branch).

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

var ErrAccountExists = errors.New("account exists")

type Created struct {
	Name        string
	ID, GID     uint32
	Home, Shell string
	IsGroup     bool
	MakeHome    bool
}

type Accounts struct {
	passwd, group, shadow []byte
	created               []Created
}

func ParseAccounts(passwd, group, shadow []byte) (*Accounts, error) {
	return &Accounts{passwd: passwd, group: group, shadow: shadow}, nil
}

func lookup(b []byte, name string) (uint32, bool) {
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 3 && f[0] == name {
			n, err := strconv.ParseUint(f[2], 10, 32)
			return uint32(n), err == nil
		}
	}
	return 0, false
}
func (a *Accounts) LookupUser(n string) (uint32, bool)         { return lookup(a.passwd, n) }
func (a *Accounts) LookupGroup(n string) (uint32, bool)        { return lookup(a.group, n) }
func (a *Accounts) AddGroup(args []string) error               { return nil }
func (a *Accounts) AddUser(args []string, now time.Time) error { return nil }
func (a *Accounts) Passwd() []byte                             { return a.passwd }
func (a *Accounts) Group() []byte                              { return a.group }
func (a *Accounts) Shadow() []byte                             { return a.shadow }
func (a *Accounts) TakeCreated() []Created                     { c := a.created; a.created = nil; return c }

type Command struct {
	Args        []string
	Line        int
	Text        string
	Unsupported string
}

func (c Command) IgnoresErrors() bool {
	return strings.Contains(c.Text, "2>") || strings.Contains(c.Text, "||")
}

func SplitScript(body []byte) ([]Command, error) {
	var out []Command
	for i, l := range bytes.Split(body, []byte("\n")) {
		s := strings.TrimSpace(string(l))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		out = append(out, Command{Args: strings.Fields(s), Line: i + 1, Text: s})
	}
	return out, nil
}

func formatQ1(b []byte) string { return "Q1" + base64.StdEncoding.EncodeToString(b) }
