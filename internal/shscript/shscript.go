// Package shscript splits sh scripts (an Alpine package's .pre-install,
// .post-install, .trigger) into simple commands, so that the lines a build
// can reproduce statically (addgroup, adduser, mkdir, ...) can be picked
// out and the rest listed. It is a POSIX sh tokenizer, not a shell: it
// removes quotes, comments and line continuations, separates commands at
// ; & && || | and newlines, and records redirections apart from the words.
//
// Three compound forms are split into their parts, since scripts use them
// around simple commands: an if command (If: the condition, then and else
// lists), a case command on a literal word or on the output of one command
// substitution (Case: the word or the substitution's commands, the
// patterns and their lists), and a function definition whose body is a
// { } group (Func: the name and the group's commands), so that an
// emulator can decide a condition and follow a call.
//
// Left out on purpose: anything whose effect depends on running a shell
// (variables and other expansions, globs, assignments, here-documents,
// loops, other case commands, subshells, other compound commands and
// function bodies, negation) comes back as a Command marked Unsupported,
// with its line and text, never as a guess at its words. Options are not
// parsed here: what an option means is the program's business
// (internal/bbaccounts has busybox's getopt).
package shscript

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Command is one simple command of a script, or one construct that could
// not be reduced to one.
type Command struct {
	// Args are the words, quotes removed, expansions left as written;
	// redirections are not among them, so a command of redirections only
	// has none.
	Args      []string
	Redirects []Redirect
	Line      int    // the line its first token is on, from 1
	Text      string // its source, first token to last, continuations included
	// Sep is what ends it: ";", "&", "&&", "||", "|", or "" for a newline
	// or the end of the script.
	Sep string
	// Pipeline is true when a "|" joins it to the command before or after.
	Pipeline bool
	// Unsupported, when not empty, says what keeps this from being a
	// simple command with literal words ("variable expansion", "'for'
	// loop", ...); then Args is not to be trusted.
	Unsupported string

	// If, when not nil, is the if command this is (Args is empty).
	If *If
	// Case, when not nil, is the case command this is (Args is empty).
	Case *Case
	// Func, when not nil, is the function definition this is (Args is
	// empty): defining it does nothing; a later command whose first word
	// is its name runs its body.
	Func *Func
}

// If is "if Cond; then Then; else Else; fi". An elif is an Else of one
// Command whose If is set.
type If struct {
	Cond, Then, Else []Command
}

// Case is "case Word in Items esac". When Subst is not nil, the word is
// one command substitution, "$(...)", and Subst its commands (lines
// counted in the script); Word is then the substitution as written.
type Case struct {
	Word  string
	Subst []Command
	Items []CaseItem
}

// CaseItem is "Patterns) Body ;;". A pattern's * ? and [ are the sh
// pattern characters (a pattern where one is quoted is Unsupported).
type CaseItem struct {
	Patterns []string
	Body     []Command
}

// Func is "Name() { Body; }".
type Func struct {
	Name string
	Body []Command
}

// Redirect is one redirection: 2>/dev/null is {2, ">", "/dev/null"}.
type Redirect struct {
	Fd     int    // as written, else 0 for the operators starting "<", 1 for those starting ">"
	Op     string // "<", ">", ">>", ">|", "<>", "<&", ">&", "<<", "<<-"
	Target string // the word after Op, quotes removed (a here-document's delimiter)
}

// Split splits a script's text into its commands, in order. The error
// is for text that is not valid sh (an unterminated quote, a "fi" without
// "if"), naming the line.
func Split(body []byte) ([]Command, error) {
	toks, err := lex(string(body))
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, src: string(body)}
	return p.commands()
}

type tokKind int

const (
	tWord tokKind = iota
	tOp
	tNewline
	tEOF
)

type token struct {
	kind       tokKind
	text       string // a word's value with quotes removed, or the operator
	start, end int    // byte offsets in the script
	line       int
	why        string // a word: the first expansion in it, "" if none
	quoted     bool   // a word: some of it was quoted or escaped
	assign     bool   // a word: it begins with an unquoted NAME=
	fd         int    // a redirection operator: the IO number before it, or -1
}

func (t token) String() string {
	switch t.kind {
	case tNewline:
		return "newline"
	case tEOF:
		return "end of script"
	}
	return fmt.Sprintf("%q", t.text)
}

// operators, longest first so that the first prefix match is the right one.
var operators = []string{"<<-", "&&", "||", ";;", "<<", ">>", "<&", ">&", "<>", ">|", ";", "&", "|", "<", ">", "(", ")"}

func isRedirect(op string) bool { return strings.ContainsAny(op[:1], "<>") }

type lexer struct {
	s        string
	pos      int
	line     int
	toks     []token
	heredoc  []heredoc // delimiters waiting for the next newline
	wantDoc  bool      // the next word is a here-document delimiter
	stripDoc bool
}

type heredoc struct {
	delim string
	strip bool
	line  int
}

func lex(s string) ([]token, error) {
	l := &lexer{s: s, line: 1}
	for l.pos < len(s) {
		c := s[l.pos]
		switch {
		case c == ' ' || c == '\t':
			l.pos++
		case c == '\\' && l.pos+1 < len(s) && s[l.pos+1] == '\n':
			l.pos += 2
			l.line++
		case c == '#':
			if i := strings.IndexByte(s[l.pos:], '\n'); i >= 0 {
				l.pos += i
			} else {
				l.pos = len(s)
			}
		case c == '\n':
			l.toks = append(l.toks, token{kind: tNewline, text: "\n", start: l.pos, end: l.pos + 1, line: l.line})
			l.pos++
			l.line++
			if err := l.skipHeredocs(); err != nil {
				return nil, err
			}
		case strings.IndexByte(";&|<>()", c) >= 0:
			l.operator(-1, l.pos)
		default:
			t, err := l.word()
			if err != nil {
				return nil, err
			}
			if isDigits(t.text) && !t.quoted && l.pos < len(s) && (s[l.pos] == '<' || s[l.pos] == '>') {
				fd, _ := strconv.Atoi(t.text)
				l.operator(fd, t.start)
				continue
			}
			if l.wantDoc {
				l.heredoc = append(l.heredoc, heredoc{t.text, l.stripDoc, t.line})
				l.wantDoc = false
			}
			l.toks = append(l.toks, t)
		}
	}
	if len(l.heredoc) > 0 {
		h := l.heredoc[0]
		return nil, fmt.Errorf("line %d: here-document delimiter %q not found", h.line, h.delim)
	}
	l.toks = append(l.toks, token{kind: tEOF, start: len(s), end: len(s), line: l.line})
	return l.toks, nil
}

func (l *lexer) operator(fd, start int) {
	for _, op := range operators {
		if strings.HasPrefix(l.s[l.pos:], op) {
			l.toks = append(l.toks, token{kind: tOp, text: op, start: start, end: l.pos + len(op), line: l.line, fd: fd})
			l.pos += len(op)
			if op == "<<" || op == "<<-" {
				l.wantDoc, l.stripDoc = true, op == "<<-"
			}
			return
		}
	}
}

// skipHeredocs passes over the bodies of the here-documents started on the
// line just ended.
func (l *lexer) skipHeredocs() error {
	for _, h := range l.heredoc {
		for {
			if l.pos >= len(l.s) {
				return fmt.Errorf("line %d: here-document delimiter %q not found", h.line, h.delim)
			}
			text, rest, _ := strings.Cut(l.s[l.pos:], "\n")
			l.pos = len(l.s) - len(rest)
			l.line++
			if h.strip {
				text = strings.TrimLeft(text, "\t")
			}
			if text == h.delim {
				break
			}
		}
	}
	l.heredoc = l.heredoc[:0]
	return nil
}

// word reads one word, removing quotes and noting what in it a shell would
// expand.
func (l *lexer) word() (token, error) {
	t := token{kind: tWord, start: l.pos, line: l.line, fd: -1}
	var v strings.Builder
	glob, bracket := false, false
	why := func(reason string) {
		if t.why == "" {
			t.why = reason
		}
	}
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		if strings.IndexByte(" \t\n;&|<>()", c) >= 0 {
			break
		}
		switch c {
		case '\\':
			if l.pos+1 >= len(l.s) {
				v.WriteByte(c)
				l.pos++
				continue
			}
			if l.s[l.pos+1] == '\n' {
				l.line++
			} else {
				v.WriteByte(l.s[l.pos+1])
				t.quoted = true
			}
			l.pos += 2
		case '\'':
			end := strings.IndexByte(l.s[l.pos+1:], '\'')
			if end < 0 {
				return t, fmt.Errorf("line %d: unterminated single quote", l.line)
			}
			q := l.s[l.pos+1 : l.pos+1+end]
			v.WriteString(q)
			l.line += strings.Count(q, "\n")
			l.pos += end + 2
			t.quoted = true
		case '"':
			if err := l.doubleQuoted(&v, why); err != nil {
				return t, err
			}
			t.quoted = true
		case '$', '`':
			if err := l.expansion(&v, why); err != nil {
				return t, err
			}
		default:
			switch {
			case c == '*' || c == '?' || (c == ']' && bracket):
				glob = true
			case c == '[':
				bracket = true
			case c == '~' && l.pos == t.start:
				why("tilde expansion")
			case c == '=' && !t.quoted && t.why == "" && !t.assign && isName(v.String()):
				t.assign = true
			}
			v.WriteByte(c)
			l.pos++
		}
	}
	if glob {
		why("glob pattern")
	}
	t.text, t.end = v.String(), l.pos
	return t, nil
}

func (l *lexer) doubleQuoted(v *strings.Builder, why func(string)) error {
	line := l.line
	l.pos++
	for l.pos < len(l.s) {
		c := l.s[l.pos]
		switch {
		case c == '"':
			l.pos++
			return nil
		case c == '\\' && l.pos+1 < len(l.s) && strings.IndexByte("$`\"\\\n", l.s[l.pos+1]) >= 0:
			if l.s[l.pos+1] == '\n' {
				l.line++
			} else {
				v.WriteByte(l.s[l.pos+1])
			}
			l.pos += 2
		case c == '$' || c == '`':
			if err := l.expansion(v, why); err != nil {
				return err
			}
		default:
			if c == '\n' {
				l.line++
			}
			v.WriteByte(c)
			l.pos++
		}
	}
	return fmt.Errorf("line %d: unterminated double quote", line)
}

// expansion passes over the $... or `...` at l.pos, copying its source
// into v and telling why what it is; a '$' that stays literal is copied.
func (l *lexer) expansion(v *strings.Builder, why func(string)) error {
	start := l.pos
	reason, err := l.skipExpansion()
	if err != nil {
		return err
	}
	if reason == "" {
		l.pos++
	}
	v.WriteString(l.s[start:l.pos])
	why(reason)
	return nil
}

// skipExpansion passes over the $... or `...` at l.pos and says what it
// is, or returns "" without moving for a '$' that stays literal.
func (l *lexer) skipExpansion() (string, error) {
	s, p := l.s, l.pos
	if s[p] == '`' {
		for i := p + 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '`':
				l.line += strings.Count(s[p:i], "\n")
				l.pos = i + 1
				return "command substitution", nil
			}
		}
		return "", fmt.Errorf("line %d: unterminated `", l.line)
	}
	if p+1 >= len(s) {
		return "", nil
	}
	switch c := s[p+1]; {
	case c == '(' || c == '{':
		reason := "command substitution"
		if c == '{' {
			reason = "parameter expansion"
		} else if strings.HasPrefix(s[p+1:], "((") {
			reason = "arithmetic expansion"
		}
		end, err := l.balanced(p + 1)
		if err != nil {
			return "", err
		}
		l.line += strings.Count(s[p:end], "\n")
		l.pos = end
		return reason, nil
	case c == '_' || c|0x20 >= 'a' && c|0x20 <= 'z':
		l.pos = p + 2
		for l.pos < len(s) && (s[l.pos] == '_' || isAlnum(s[l.pos])) {
			l.pos++
		}
		return "variable expansion", nil
	case strings.IndexByte("0123456789@*#?$!-", c) >= 0:
		l.pos = p + 2
		return "variable expansion", nil
	}
	return "", nil
}

// balanced returns the offset just past the bracket that closes the one at
// open, passing over quotes and escapes inside.
func (l *lexer) balanced(open int) (int, error) {
	s := l.s
	var stack []byte
	for i := open; i < len(s); i++ {
		switch c := s[i]; c {
		case '(', '{':
			stack = append(stack, map[byte]byte{'(': ')', '{': '}'}[c])
		case ')', '}':
			if len(stack) > 0 && stack[len(stack)-1] == c {
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return i + 1, nil
				}
			}
		case '\\':
			i++
		case '\'':
			if j := strings.IndexByte(s[i+1:], '\''); j >= 0 {
				i += j + 1
			} else {
				i = len(s)
			}
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		}
	}
	return 0, fmt.Errorf("line %d: unterminated $%c", l.line, s[open])
}

func isAlnum(c byte) bool { return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' }

func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !(s[i] == '_' || isAlnum(s[i])) || (i == 0 && s[i] >= '0' && s[i] <= '9') {
			return false
		}
	}
	return s != ""
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

type parser struct {
	toks []token
	i    int
	src  string
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func unexpected(t token) error { return fmt.Errorf("line %d: unexpected %s", t.line, t) }

// openers are the reserved words and operator that start a compound
// command, with what Unsupported says about it.
var openers = map[string]string{
	"if": "'if' compound command", "case": "'case' compound command",
	"for": "'for' loop", "while": "'while' loop", "until": "'until' loop",
	"select": "'select' loop", "{": "{ } group", "(": "( ) subshell",
}

var closers = map[string]bool{"then": true, "else": true, "elif": true, "fi": true,
	"do": true, "done": true, "esac": true, "}": true}

func (p *parser) commands() ([]Command, error) { return p.list(nil) }

// errNotClosed is list's error for the end of the script before a stop
// word; the caller names what is not closed.
var errNotClosed = errors.New("not closed")

// list reads commands up to the end of the script or, when stop is not
// nil, up to one of the stop words standing where a command would start
// (not read; the end of the script is then errNotClosed).
func (p *parser) list(stop []string) ([]Command, error) {
	var cmds []Command
	pipe := false
	for {
		t := p.peek()
		switch {
		case t.kind == tEOF && stop != nil:
			return nil, errNotClosed
		case t.kind == tEOF:
			return cmds, nil
		case t.kind == tNewline:
			p.i++
			continue
		case (t.kind == tWord && !t.quoted || t.kind == tOp && t.text == ";;") && slices.Contains(stop, t.text):
			return cmds, nil
		case t.kind == tOp && t.text != "(" && !isRedirect(t.text):
			return nil, unexpected(t)
		}
		c, err := p.command()
		if err != nil {
			return nil, err
		}
		c.Pipeline = pipe || c.Sep == "|"
		pipe = c.Sep == "|"
		cmds = append(cmds, c)
		if c.Sep == "&&" || c.Sep == "||" || c.Sep == "|" {
			for p.peek().kind == tNewline {
				p.i++
			}
			if t := p.peek(); t.kind == tEOF {
				return nil, unexpected(t)
			}
		}
	}
}

// command reads one command and the operator after it.
func (p *parser) command() (Command, error) {
	start := p.peek()
	c := Command{Line: start.line}
	if start.kind == tWord && !start.quoted && start.text == "!" {
		p.i++
		c.Unsupported = "negation"
	}
	head := p.peek()
	word := head.kind == tWord && !head.quoted
	compound := true
	var what string // why a compound command is Unsupported
	switch {
	case word && head.text == "function":
		p.i++
		name := p.next()
		if name.kind != tWord {
			return c, unexpected(name)
		}
		if t := p.peek(); t.kind == tOp && t.text == "(" {
			p.i++
			if t := p.next(); t.kind != tOp || t.text != ")" {
				return c, unexpected(t)
			}
		}
		f, err := p.functionBody(name.text)
		if err != nil {
			return c, err
		}
		if c.Func = f; f == nil {
			what = "function definition"
		}
	case head.kind == tWord && p.i+2 < len(p.toks) &&
		p.toks[p.i+1].kind == tOp && p.toks[p.i+1].text == "(" &&
		p.toks[p.i+2].kind == tOp && p.toks[p.i+2].text == ")":
		p.i += 3
		f, err := p.functionBody(head.text)
		if err != nil {
			return c, err
		}
		if c.Func = f; f == nil {
			what = "function definition"
		}
	case word && head.text == "if":
		p.i++
		clause, err := p.ifClause(head)
		if err != nil {
			return c, err
		}
		c.If = clause
	case word && head.text == "case" && p.caseWord(p.toks[p.i+1]):
		p.i++
		clause, why, err := p.caseClause(head)
		if err != nil {
			return c, err
		}
		c.Case, what = clause, why
	case (word && openers[head.text] != "") || (head.kind == tOp && head.text == "("):
		what = openers[head.text]
		if err := p.compound(); err != nil {
			return c, err
		}
	case word && closers[head.text]:
		return c, unexpected(head)
	default:
		compound = false
	}
	if c.Unsupported == "" {
		c.Unsupported = what
	}
	if err := p.simple(&c, compound); err != nil {
		return c, err
	}
	c.Text = p.src[start.start:p.toks[p.i-1].end]
	switch t := p.peek(); {
	case t.kind == tOp && (t.text == ";" || t.text == "&" || t.text == "&&" || t.text == "||" || t.text == "|"):
		c.Sep = t.text
		p.i++
	case t.kind == tOp && t.text != ";;": // ";;" ends a case item, for caseClause
		return c, unexpected(t)
	}
	return c, nil
}

// caseWord reports whether t, the word after "case", is one caseClause
// reads: literal, or one command substitution.
func (p *parser) caseWord(t token) bool {
	if t.kind != tWord {
		return false
	}
	_, ok := p.substitution(t)
	return t.why == "" || ok
}

// substitution returns the commands' source of a word that is exactly one
// command substitution, $(...), quoted or not.
func (p *parser) substitution(t token) (string, bool) {
	if t.why != "command substitution" {
		return "", false
	}
	raw := p.src[t.start:t.end]
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	if !strings.HasPrefix(raw, "$(") || strings.HasPrefix(raw, "$((") {
		return "", false
	}
	end, err := (&lexer{s: raw}).balanced(1)
	if err != nil || end != len(raw) {
		return "", false
	}
	return raw[2 : len(raw)-1], true
}

// caseClause reads a case command after its "case", open, up to and with
// its "esac". why, when not "", is what keeps it from being split (a
// pattern with an expansion or a quoted pattern character); the clause is
// then nil.
func (p *parser) caseClause(open token) (clause *Case, why string, err error) {
	w := p.next()
	clause = &Case{Word: w.text}
	if inner, ok := p.substitution(w); ok {
		sub, err := Split([]byte(inner))
		if err != nil {
			return nil, "", fmt.Errorf("line %d: in %s: %w", w.line, w, err)
		}
		shiftLines(sub, w.line-1)
		clause.Subst = append([]Command{}, sub...) // not nil: "$()" has no commands
	}
	for p.peek().kind == tNewline {
		p.i++
	}
	if t := p.next(); t.kind != tWord || t.quoted || t.text != "in" {
		return nil, "", fmt.Errorf("line %d: 'case' without 'in': %s", t.line, t)
	}
	for {
		for p.peek().kind == tNewline {
			p.i++
		}
		switch t := p.peek(); {
		case t.kind == tEOF:
			return nil, "", fmt.Errorf("line %d: %s is not closed", open.line, open)
		case t.kind == tWord && !t.quoted && t.text == "esac":
			p.i++
			if why != "" {
				clause = nil
			}
			return clause, why, nil
		case t.kind == tOp && t.text == "(":
			p.i++
		}
		var item CaseItem
		for {
			t := p.next()
			if t.kind != tWord {
				return nil, "", unexpected(t)
			}
			switch {
			case why != "":
			case t.why != "" && t.why != "glob pattern":
				why = "'case' pattern with " + t.why
			case t.quoted && strings.ContainsAny(t.text, "*?["):
				why = "'case' pattern partly quoted"
			}
			item.Patterns = append(item.Patterns, t.text)
			if sep := p.next(); sep.kind == tOp && sep.text == ")" {
				break
			} else if sep.kind != tOp || sep.text != "|" {
				return nil, "", unexpected(sep)
			}
		}
		if item.Body, err = p.list([]string{";;", "esac"}); err != nil {
			return nil, "", p.notClosed(err, open)
		}
		clause.Items = append(clause.Items, item)
		if t := p.peek(); t.kind == tOp && t.text == ";;" {
			p.i++
		}
	}
}

// shiftLines adds delta to the lines of cmds and of the commands in them.
func shiftLines(cmds []Command, delta int) {
	for i := range cmds {
		c := &cmds[i]
		c.Line += delta
		if c.If != nil {
			shiftLines(c.If.Cond, delta)
			shiftLines(c.If.Then, delta)
			shiftLines(c.If.Else, delta)
		}
		if c.Case != nil {
			shiftLines(c.Case.Subst, delta)
			for _, it := range c.Case.Items {
				shiftLines(it.Body, delta)
			}
		}
		if c.Func != nil {
			shiftLines(c.Func.Body, delta)
		}
	}
}

// functionBody reads the compound command a function definition's
// "NAME()" is followed by, possibly on a later line: a { } group as the
// function's commands, any other compound command passed over (nil).
func (p *parser) functionBody(name string) (*Func, error) {
	for p.peek().kind == tNewline {
		p.i++
	}
	t := p.peek()
	if !(t.kind == tWord && !t.quoted && openers[t.text] != "") && !(t.kind == tOp && t.text == "(") {
		return nil, fmt.Errorf("line %d: function body is %s, not a compound command", t.line, t)
	}
	if t.kind != tWord || t.text != "{" {
		return nil, p.compound()
	}
	p.i++
	body, err := p.list([]string{"}"})
	if err != nil {
		return nil, p.notClosed(err, t)
	}
	p.i++ // the "}"
	return &Func{Name: name, Body: body}, nil
}

// ifClause reads an if command after its "if" (or an elif's), open, up to
// and with its "fi".
func (p *parser) ifClause(open token) (*If, error) {
	var clause If
	var err error
	if clause.Cond, err = p.list([]string{"then"}); err != nil {
		return nil, p.notClosed(err, open)
	}
	p.i++ // the "then"
	if clause.Then, err = p.list([]string{"elif", "else", "fi"}); err != nil {
		return nil, p.notClosed(err, open)
	}
	switch t := p.next(); t.text {
	case "elif":
		inner, err := p.ifClause(open)
		if err != nil {
			return nil, err
		}
		clause.Else = []Command{{Line: t.line, Text: p.src[t.start:p.toks[p.i-1].end], If: inner}}
	case "else":
		if clause.Else, err = p.list([]string{"fi"}); err != nil {
			return nil, p.notClosed(err, open)
		}
		p.i++ // the "fi"
	}
	return &clause, nil
}

// notClosed names open in list's errNotClosed; other errors pass.
func (p *parser) notClosed(err error, open token) error {
	if errors.Is(err, errNotClosed) {
		return fmt.Errorf("line %d: %s is not closed", open.line, open)
	}
	return err
}

// simple reads words and redirections up to an operator or newline; after a
// compound command only redirections may follow.
func (p *parser) simple(c *Command, compound bool) error {
	for {
		t := p.peek()
		switch {
		case t.kind == tWord && !compound:
			p.i++
			if c.Unsupported == "" && len(c.Args) == 0 && t.assign {
				c.Unsupported = "assignment"
			}
			if c.Unsupported == "" && t.why != "" {
				c.Unsupported = t.why
			}
			c.Args = append(c.Args, t.text)
		case t.kind == tOp && isRedirect(t.text):
			p.i++
			target := p.next()
			if target.kind != tWord {
				return unexpected(target)
			}
			fd := t.fd
			if fd < 0 {
				fd = 1
				if t.text[0] == '<' {
					fd = 0
				}
			}
			if c.Unsupported == "" && (t.text == "<<" || t.text == "<<-") {
				c.Unsupported = "here-document"
			}
			if c.Unsupported == "" && target.why != "" {
				c.Unsupported = target.why
			}
			c.Redirects = append(c.Redirects, Redirect{Fd: fd, Op: t.text, Target: target.text})
		default:
			if !compound && len(c.Args) == 0 && len(c.Redirects) == 0 {
				return unexpected(t)
			}
			return nil
		}
	}
}

// compound passes over a compound command from its opening word to the
// word or ')' that closes it, tracking nesting, case patterns, and which
// words stand where a reserved word can.
func (p *parser) compound() error {
	first := p.peek()
	var stack []string
	cmdStart, inPattern, caseWords := true, false, 0
	for {
		t := p.next()
		switch t.kind {
		case tEOF:
			return fmt.Errorf("line %d: %s is not closed", first.line, first)
		case tNewline:
			cmdStart = true
		case tOp:
			switch {
			case inPattern && (t.text == "(" || t.text == "|"):
			case inPattern && t.text == ")":
				inPattern, cmdStart = false, true
			case t.text == "(":
				stack, cmdStart = append(stack, ")"), true
			case t.text == ")":
				if len(stack) == 0 || stack[len(stack)-1] != ")" {
					return unexpected(t)
				}
				stack, cmdStart = stack[:len(stack)-1], false
			case t.text == ";;":
				if len(stack) == 0 || stack[len(stack)-1] != "esac" {
					return unexpected(t)
				}
				inPattern = true
			case isRedirect(t.text):
				if p.next().kind != tWord {
					return unexpected(p.toks[p.i-1])
				}
			default:
				cmdStart = true
			}
		case tWord:
			reserved := !t.quoted
			switch {
			case caseWords == 2:
				caseWords = 1
			case caseWords == 1:
				if !reserved || t.text != "in" {
					return fmt.Errorf("line %d: 'case' without 'in': %s", t.line, t)
				}
				caseWords, inPattern = 0, true
			case inPattern:
				if reserved && t.text == "esac" {
					stack, inPattern = stack[:len(stack)-1], false
				}
			case !cmdStart || !reserved:
				cmdStart = false
			default:
				switch t.text {
				case "if":
					stack = append(stack, "fi")
				case "while", "until":
					stack = append(stack, "done")
				case "for", "select":
					stack, cmdStart = append(stack, "done"), false
				case "case":
					stack, cmdStart, caseWords = append(stack, "esac"), false, 2
				case "{":
					stack = append(stack, "}")
				case "then", "else", "elif", "do", "!":
				case "fi", "done", "esac", "}":
					if len(stack) == 0 || stack[len(stack)-1] != t.text {
						return unexpected(t)
					}
					stack, cmdStart = stack[:len(stack)-1], false
				default:
					cmdStart = false
				}
			}
		}
		if len(stack) == 0 {
			return nil
		}
	}
}
