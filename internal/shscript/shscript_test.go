package shscript

// Tests of Split on Alpine's real package scripts and on the sh
// constructs around them.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rootfs-synth/rootfs-synth/internal/alpinetest"
)

// render prints a command compactly: line, argv, redirections, then what
// follows it, pipeline membership, why unsupported, and the source text.
func render(c Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %q", c.Line, c.Args)
	for _, r := range c.Redirects {
		fmt.Fprintf(&b, " %d%s%s", r.Fd, r.Op, r.Target)
	}
	if c.Sep != "" {
		fmt.Fprintf(&b, " sep=%s", c.Sep)
	}
	if c.Pipeline {
		b.WriteString(" pipe")
	}
	if c.Unsupported != "" {
		fmt.Fprintf(&b, " unsupported=%q", c.Unsupported)
	}
	if c.If != nil {
		fmt.Fprintf(&b, " if{%s} then{%s} else{%s}", renderList(c.If.Cond), renderList(c.If.Then), renderList(c.If.Else))
	}
	if c.Func != nil {
		fmt.Fprintf(&b, " func %s{%s}", c.Func.Name, renderList(c.Func.Body))
	}
	if c.Case != nil {
		fmt.Fprintf(&b, " case %q", c.Case.Word)
		if c.Case.Subst != nil {
			fmt.Fprintf(&b, " subst{%s}", renderList(c.Case.Subst))
		}
		for _, it := range c.Case.Items {
			fmt.Fprintf(&b, " (%s){%s}", strings.Join(it.Patterns, "|"), renderList(it.Body))
		}
	}
	fmt.Fprintf(&b, " text=%q", c.Text)
	return b.String()
}

// renderList renders the commands of a compound command's part, without
// their texts: "line argv sep" each, joined by " / ".
func renderList(cmds []Command) string {
	var parts []string
	for _, c := range cmds {
		r := render(c)
		if i := strings.LastIndex(r, " text="); i >= 0 && c.If == nil && c.Func == nil && c.Case == nil {
			r = r[:i]
		}
		parts = append(parts, r)
	}
	return strings.Join(parts, " / ")
}

func checkSplit(t *testing.T, name, script string, want []string) {
	t.Helper()
	cmds, err := Split([]byte(script))
	if err != nil {
		t.Errorf("Split(%s) = %v, want %d commands", name, err, len(want))
		return
	}
	var got []string
	for _, c := range cmds {
		got = append(got, render(c))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Split(%s) =\n\t%s\nwant\n\t%s", name, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// The scripts of the base closure: Alpine's texts, as the packages of
// internal/alpinetest carry them (one copy for every test), and an older
// busybox.trigger (aports main/busybox at 13f7afcb), a second real text for
// the splitter.
var (
	busyboxPostInstall    = alpinetest.BusyboxPostInstall
	baselayoutPreInstall  = alpinetest.BaselayoutPreInstall
	baselayoutPostInstall = alpinetest.BaselayoutPostInstall
)

const (
	busyboxTrigger = `#!/bin/sh

do_bb_install=

for i in "$@"; do
	case "$i" in
		/lib/modules/*)	/bin/busybox depmod ${i#/lib/modules/};;
		*) do_bb_install=yes;;
	esac
done

if [ -n "$do_bb_install" ]; then
	/bin/busybox --install -s
fi

`
)

func TestSplitRealScripts(t *testing.T) {
	checkSplit(t, "busybox.post-install", busyboxPostInstall, []string{
		`4 ["/bin/busybox" "mkdir" "-p" "/bin" "/sbin" "/usr/bin" "/usr/sbin"] text="/bin/busybox mkdir -p \"/bin\" \"/sbin\" \"/usr/bin\" \"/usr/sbin\""`,
		`5 ["/bin/busybox" "--install" "-s"] sep=|| text="/bin/busybox --install -s"`,
		`5 ["exit" "1"] text="exit 1"`,
		`8 ["addgroup" "-S" "klogd"] 2>/dev/null text="addgroup -S klogd 2>/dev/null"`,
		`9 ["adduser" "-S" "-D" "-H" "-h" "/dev/null" "-s" "/sbin/nologin" "-G" "klogd" "-g" "klogd" "klogd"] 2>/dev/null text="adduser -S -D -H -h /dev/null -s /sbin/nologin -G klogd -g klogd klogd 2>/dev/null"`,
		`11 ["exit" "0"] text="exit 0"`,
	})
	checkSplit(t, "alpine-baselayout.pre-install", baselayoutPreInstall, []string{
		`3 ["addgroup" "-S" "-g" "42" "shadow"] 2>/dev/null text="addgroup -S -g 42 shadow 2>/dev/null"`,
		`5 ["exit" "0"] text="exit 0"`,
	})
	checkSplit(t, "alpine-baselayout.post-install", baselayoutPostInstall, []string{
		`5 [] case "$(readlink etc/profile.d/color_prompt.sh 2>/dev/null || true)" subst{5 ["readlink" "etc/profile.d/color_prompt.sh"] 2>/dev/null sep=|| / 5 ["true"]} (color_prompt){6 ["ln" "-sf" "color_prompt.sh.disabled" "etc/profile.d/color_prompt.sh"]} text="case \"$(readlink etc/profile.d/color_prompt.sh 2>/dev/null || true)\" in\n\tcolor_prompt) ln -sf color_prompt.sh.disabled etc/profile.d/color_prompt.sh;;\nesac"`,
		`11 ["chown" "root:shadow" "etc/shadow"] text="chown root:shadow etc/shadow"`,
		`12 ["[" "-e" "etc/shadow-" "]"] sep=&& text="[ -e etc/shadow- ]"`,
		`12 ["chown" "root:shadow" "etc/shadow-"] text="chown root:shadow etc/shadow-"`,
		`14 ["exit" "0"] text="exit 0"`,
	})
	checkSplit(t, "busybox.trigger", busyboxTrigger, []string{
		`3 ["do_bb_install="] unsupported="assignment" text="do_bb_install="`,
		`5 [] unsupported="'for' loop" text="for i in \"$@\"; do\n\tcase \"$i\" in\n\t\t/lib/modules/*)\t/bin/busybox depmod ${i#/lib/modules/};;\n\t\t*) do_bb_install=yes;;\n\tesac\ndone"`,
		`12 [] if{12 ["[" "-n" "$do_bb_install" "]"] sep=; unsupported="variable expansion"} then{13 ["/bin/busybox" "--install" "-s"]} else{} text="if [ -n \"$do_bb_install\" ]; then\n\t/bin/busybox --install -s\nfi"`,
	})
}

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"# only a comment\n\n", nil},
		{`a 'b c' "d e" f\ g`, []string{`1 ["a" "b c" "d e" "f g"] text="a 'b c' \"d e\" f\\ g"`}},
		{`a "x\"y\\z\q" 'it''s' ""`, []string{`1 ["a" "x\"y\\z\\q" "its" ""] text="a \"x\\\"y\\\\z\\q\" 'it''s' \"\""`}},
		{"a \\\n  b\nc", []string{`1 ["a" "b"] text="a \\\n  b"`, `3 ["c"] text="c"`}},
		{"a;b ; c", []string{`1 ["a"] sep=; text="a"`, `1 ["b"] sep=; text="b"`, `1 ["c"] text="c"`}},
		{"a && b || c &", []string{`1 ["a"] sep=&& text="a"`, `1 ["b"] sep=|| text="b"`, `1 ["c"] sep=& text="c"`}},
		{"a | b | c\nd", []string{`1 ["a"] sep=| pipe text="a"`, `1 ["b"] sep=| pipe text="b"`, `1 ["c"] pipe text="c"`, `2 ["d"] text="d"`}},
		{"a &&\n\n b", []string{`1 ["a"] sep=&& text="a"`, `3 ["b"] text="b"`}},
		{"a >/dev/null 2>&1", []string{`1 ["a"] 1>/dev/null 2>&1 text="a >/dev/null 2>&1"`}},
		{"a 2> /dev/null b <in >>out 3<>rw 0<&- >|f", []string{`1 ["a" "b"] 2>/dev/null 0<in 1>>out 3<>rw 0<&- 1>|f text="a 2> /dev/null b <in >>out 3<>rw 0<&- >|f"`}},
		{`a x2>f "2">g`, []string{`1 ["a" "x2" "2"] 1>f 1>g text="a x2>f \"2\">g"`}},
		{"a # comment; b\nc#d", []string{`1 ["a"] text="a"`, `2 ["c#d"] text="c#d"`}},
		{"echo a=b", []string{`1 ["echo" "a=b"] text="echo a=b"`}},
		{"[ -e x ]", []string{`1 ["[" "-e" "x" "]"] text="[ -e x ]"`}},
		{`echo '$HOME' "a\$b" $ "$"`, []string{`1 ["echo" "$HOME" "a$b" "$" "$"] text="echo '$HOME' \"a\\$b\" $ \"$\""`}},
		{"echo $HOME", []string{`1 ["echo" "$HOME"] unsupported="variable expansion" text="echo $HOME"`}},
		{`echo "x$1"`, []string{`1 ["echo" "x$1"] unsupported="variable expansion" text="echo \"x$1\""`}},
		{"echo ${a:-b}", []string{`1 ["echo" "${a:-b}"] unsupported="parameter expansion" text="echo ${a:-b}"`}},
		{`echo "$(cat "f" | tr a b)" next`, []string{`1 ["echo" "$(cat \"f\" | tr a b)" "next"] unsupported="command substitution" text="echo \"$(cat \"f\" | tr a b)\" next"`}},
		{"echo `date`", []string{`1 ["echo" "` + "`date`" + `"] unsupported="command substitution" text="echo ` + "`date`" + `"`}},
		{"echo $((1+2))", []string{`1 ["echo" "$((1+2))"] unsupported="arithmetic expansion" text="echo $((1+2))"`}},
		{"rm -f /etc/*.conf", []string{`1 ["rm" "-f" "/etc/*.conf"] unsupported="glob pattern" text="rm -f /etc/*.conf"`}},
		{"ls a[bc]", []string{`1 ["ls" "a[bc]"] unsupported="glob pattern" text="ls a[bc]"`}},
		{`ls "*"`, []string{`1 ["ls" "*"] text="ls \"*\""`}},
		{"cd ~/x", []string{`1 ["cd" "~/x"] unsupported="tilde expansion" text="cd ~/x"`}},
		{"X=1 cmd", []string{`1 ["X=1" "cmd"] unsupported="assignment" text="X=1 cmd"`}},
		{`"X=1" cmd`, []string{`1 ["X=1" "cmd"] text="\"X=1\" cmd"`}},
		{"a > $f", []string{`1 ["a"] 1>$f unsupported="variable expansion" text="a > $f"`}},
		{"cat <<EOF >x\nbody $x\n'\nEOF\nnext", []string{`1 ["cat"] 0<<EOF 1>x unsupported="here-document" text="cat <<EOF >x"`, `5 ["next"] text="next"`}},
		{"cat <<-'E'\n\tbody\n\tE\nnext", []string{`1 ["cat"] 0<<-E unsupported="here-document" text="cat <<-'E'"`, `4 ["next"] text="next"`}},
		{"if a; then b; elif c; then d; else fi=1; fi; e", []string{`1 [] sep=; if{1 ["a"] sep=;} then{1 ["b"] sep=;} else{1 [] if{1 ["c"] sep=;} then{1 ["d"] sep=;} else{1 ["fi=1"] sep=; unsupported="assignment"} text="elif c; then d; else fi=1; fi"} text="if a; then b; elif c; then d; else fi=1; fi"`, `1 ["e"] text="e"`}},
		{"if a\nthen\n\tif b; then c; fi\nfi >/dev/null && d", []string{`1 [] 1>/dev/null sep=&& if{1 ["a"]} then{3 [] if{3 ["b"] sep=;} then{3 ["c"] sep=;} else{} text="if b; then c; fi"} else{} text="if a\nthen\n\tif b; then c; fi\nfi >/dev/null"`, `4 ["d"] text="d"`}},
		{"if echo then fi; then :; fi", []string{`1 [] if{1 ["echo" "then" "fi"] sep=;} then{1 [":"] sep=;} else{} text="if echo then fi; then :; fi"`}},
		{"if a; then for x in y; do b; done; fi", []string{`1 [] if{1 ["a"] sep=;} then{1 [] sep=; unsupported="'for' loop"} else{} text="if a; then for x in y; do b; done; fi"`}},
		{"while read l; do echo done; done < f", []string{`1 [] 0<f unsupported="'while' loop" text="while read l; do echo done; done < f"`}},
		{"for x in fi done; do :; done", []string{`1 [] unsupported="'for' loop" text="for x in fi done; do :; done"`}},
		{"case $x in (a|b) if c; then d; fi;; fi) e;; *) ;; esac", []string{`1 [] unsupported="'case' compound command" text="case $x in (a|b) if c; then d; fi;; fi) e;; *) ;; esac"`}},
		{"case x in\n(a|b*) c; d;;\n*) ;;\nesac", []string{`1 [] case "x" (a|b*){2 ["c"] sep=; / 2 ["d"]} (*){} text="case x in\n(a|b*) c; d;;\n*) ;;\nesac"`}},
		{"case $(a\nb) in x) c\nesac", []string{`1 [] case "$(a\nb)" subst{1 ["a"] / 2 ["b"]} (x){2 ["c"]} text="case $(a\nb) in x) c\nesac"`}},
		{"case \"$(a)x\" in x) ;; esac", []string{`1 [] unsupported="'case' compound command" text="case \"$(a)x\" in x) ;; esac"`}},
		{"case x in $y) ;; esac", []string{`1 [] unsupported="'case' pattern with variable expansion" text="case x in $y) ;; esac"`}},
		{"case x in \\*) ;; esac", []string{`1 [] unsupported="'case' pattern partly quoted" text="case x in \\*) ;; esac"`}},
		{"case x in \"*\"y*) ;; esac", []string{`1 [] unsupported="'case' pattern partly quoted" text="case x in \"*\"y*) ;; esac"`}},
		{"f() {\n a\n}\nf", []string{`1 [] func f{2 ["a"]} text="f() {\n a\n}"`, `4 ["f"] text="f"`}},
		{"f() { if a; then echo }; fi; }", []string{`1 [] func f{1 [] sep=; if{1 ["a"] sep=;} then{1 ["echo" "}"] sep=;} else{} text="if a; then echo }; fi"} text="f() { if a; then echo }; fi; }"`}},
		{"f ()\n(a)", []string{`1 [] unsupported="function definition" text="f ()\n(a)"`}},
		{"function g { a; }", []string{`1 [] func g{1 ["a"] sep=;} text="function g { a; }"`}},
		{"(cd /; ls) && x", []string{`1 [] sep=&& unsupported="( ) subshell" text="(cd /; ls)"`, `1 ["x"] text="x"`}},
		{"{ a; b; } >/dev/null 2>&1", []string{`1 [] 1>/dev/null 2>&1 unsupported="{ } group" text="{ a; b; } >/dev/null 2>&1"`}},
		{"! grep -q x f", []string{`1 ["grep" "-q" "x" "f"] unsupported="negation" text="! grep -q x f"`}},
		{`echo "if" fi`, []string{`1 ["echo" "if" "fi"] text="echo \"if\" fi"`}},
		{`"if" true`, []string{`1 ["if" "true"] text="\"if\" true"`}},
		{"a 'multi\nline' b\nc", []string{`1 ["a" "multi\nline" "b"] text="a 'multi\nline' b"`, `3 ["c"] text="c"`}},
	} {
		checkSplit(t, fmt.Sprintf("%q", c.in), c.in, c.want)
	}
}

func TestSplitErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a 'b", "line 1: unterminated single quote"},
		{"a\nb \"c\nd", "line 2: unterminated double quote"},
		{"echo $(a", "line 1: unterminated $("},
		{"echo ${a", "line 1: unterminated ${"},
		{"echo `a", "line 1: unterminated `"},
		{"fi", `line 1: unexpected "fi"`},
		{"a; done", `line 1: unexpected "done"`},
		{"if a; then\n b", `line 1: "if" is not closed`},
		{"case x in a) b;;", `line 1: "case" is not closed`},
		{"case x y", `line 1: 'case' without 'in': "y"`},
		{"while a; do b; fi", `line 1: unexpected "fi"`},
		{"a |", "line 1: unexpected end of script"},
		{"a &&\n", "line 2: unexpected end of script"},
		{"a && ;", `line 1: unexpected ";"`},
		{";; a", `line 1: unexpected ";;"`},
		{"a )", `line 1: unexpected ")"`},
		{"a >", "line 1: unexpected end of script"},
		{"a > ;", `line 1: unexpected ";"`},
		{"f() a", `line 1: function body is "a", not a compound command`},
		{"f() {\n a", `line 1: "{" is not closed`},
		{"if a; then b; else c", `line 1: "if" is not closed`},
		{"if a; then b; elif c; then", `line 1: "if" is not closed`},
		{"if a; b; fi", `line 1: unexpected "fi"`},
		{"a;;", `line 1: unexpected ";;"`},
		{"case x in a) b) c;; esac", `line 1: unexpected ")"`},
		{"case $(a ;;) in x) ;; esac", `line 1: in "$(a ;;)": line 1: unexpected ";;"`},
		{"if a; then b; fi fi", `line 1: unexpected "fi"`},
		{"cat <<EOF\nno end", `line 1: here-document delimiter "EOF" not found`},
		{"cat <<EOF", `line 1: here-document delimiter "EOF" not found`},
	} {
		cmds, err := Split([]byte(c.in))
		if fmt.Sprint(err) != c.want {
			t.Errorf("Split(%q) = %d commands, %v, want error %s", c.in, len(cmds), err, c.want)
		}
	}
}

// FuzzSplit checks that any text either splits or fails cleanly, and
// that every command's Text is a piece of the script.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{busyboxPostInstall, baselayoutPreInstall, baselayoutPostInstall, busyboxTrigger,
		"a 'b' \"c\" d\\ e | f && g || h; i &", "cat <<EOF\nx\nEOF\n", "f() { a; }", "case a in b) c;; esac",
		"if [ -d x ]; then f() { a; }; elif b; then c; else d; fi", "case \"$(readlink x || true)\" in (a|b*) c;; *) ;; esac"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cmds, err := Split(body)
		if err != nil {
			return
		}
		var check func([]Command)
		check = func(cmds []Command) {
			for _, c := range cmds {
				if !strings.Contains(string(body), c.Text) || c.Line < 1 {
					t.Fatalf("command %+v: Text not in the script or bad line", c)
				}
				if c.If != nil {
					check(c.If.Cond)
					check(c.If.Then)
					check(c.If.Else)
				}
				if c.Func != nil {
					check(c.Func.Body)
				}
				if c.Case != nil {
					for _, it := range c.Case.Items {
						check(it.Body)
					}
				}
			}
		}
		check(cmds)
	})
}
