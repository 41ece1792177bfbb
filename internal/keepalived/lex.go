// Package keepalived reads keepalived.conf (blocks, comments, quoted strings,
// includes) into a generic tree and translates that tree into raftvip's
// agent config. Both steps are pure: files are read through FS.
package keepalived

import (
	"errors"
	"fmt"
	"strings"
)

// ErrSyntax marks a config that cannot be read at all; the error text names
// the file and line.
var ErrSyntax = errors.New("syntax error")

// Pos is where a token or statement starts.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.File == "" {
		return "-"
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

type tokKind int

const (
	tokWord tokKind = iota
	tokOpen
	tokClose
	tokEOL
)

type token struct {
	kind tokKind
	text string
	pos  Pos
}

// lex splits one file into words, braces and line ends. The rules are
// keepalived.conf(5)'s: '#' and '!' start a comment anywhere outside quotes;
// " and ' quote (the other one is literal inside), quotes are removed and may
// sit inside a word ("ab"c is abc); backslash escapes work inside quotes.
func lex(file string, data []byte) ([]token, error) {
	var toks []token
	for i, line := range strings.Split(string(data), "\n") {
		pos := Pos{file, i + 1}
		lt, err := lexLine(strings.TrimSuffix(line, "\r"), pos)
		if err != nil {
			return nil, err
		}
		toks = append(toks, lt...)
		toks = append(toks, token{kind: tokEOL, pos: pos})
	}
	return toks, nil
}

func lexLine(line string, pos Pos) ([]token, error) {
	var (
		toks  []token
		word  strings.Builder
		in    bool // inside a word
		quote rune
	)
	flush := func() {
		if in {
			toks = append(toks, token{kind: tokWord, text: word.String(), pos: pos})
			word.Reset()
			in = false
		}
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0 && c == '\\' && i+1 < len(rs):
			i++
			word.WriteString(unescape(rs[i]))
		case quote != 0:
			word.WriteRune(c)
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == '#' || c == '!':
			flush()
			return toks, nil
		case c == '{' || c == '}':
			flush()
			k := tokOpen
			if c == '}' {
				k = tokClose
			}
			toks = append(toks, token{kind: k, text: string(c), pos: pos})
		case c == ' ' || c == '\t':
			flush()
		default:
			word.WriteRune(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("%s: %w: unterminated %c quote", pos, ErrSyntax, quote)
	}
	flush()
	return toks, nil
}

// unescape covers the common shell escapes; any other \C is C, as
// keepalived.conf(5) says.
func unescape(c rune) string {
	switch c {
	case 'n':
		return "\n"
	case 't':
		return "\t"
	case 'r':
		return "\r"
	}
	return string(c)
}
