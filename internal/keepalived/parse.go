package keepalived

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Node is one statement: a keyword, its arguments on the same line, and the
// statements of its { } block, if it has one.
type Node struct {
	Keyword  string
	Args     []string
	HasBlock bool
	Children []*Node
	Pos      Pos
}

// FS is how the parser reads files and expands include patterns.
// fstest.MapFS satisfies it; OSFS is the real file system.
type FS interface {
	ReadFile(name string) ([]byte, error)
	Glob(pattern string) ([]string, error)
}

// OSFS reads the host's files.
type OSFS struct{}

// ReadFile reads name from the host.
func (OSFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }

// Glob expands pattern on the host.
func (OSFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// Parse reads the file name and everything it includes into a tree of
// top-level statements. Errors wrap ErrSyntax or the file system's error and
// name the file and line.
func Parse(fsys FS, name string) ([]*Node, error) {
	toks, err := expand(fsys, name, nil, Pos{})
	if err != nil {
		return nil, err
	}
	return build(toks)
}

// isInclude reports whether w is include or one of its variants, which
// differ only in how keepalived reports missing files (keepalived.conf(5)).
func isInclude(w string) bool {
	switch w {
	case "include", "includer", "includem", "includew", "includeb", "includea":
		return true
	}
	return false
}

// expand lexes name and splices included files into its token stream, so
// that a block may open in one file and hold statements from another.
func expand(fsys FS, name string, stack []string, from Pos) ([]token, error) {
	clean := filepath.Clean(name)
	for i, s := range stack {
		if s == clean {
			return nil, fmt.Errorf("%s: %w: include cycle: %s", from, ErrSyntax, strings.Join(append(stack[i:], clean), " -> "))
		}
	}
	data, err := fsys.ReadFile(name)
	if err != nil {
		if from.File == "" {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return nil, fmt.Errorf("%s: include %s: %w", from, name, err)
	}
	toks, err := lex(name, data)
	if err != nil {
		return nil, err
	}
	stack = append(stack, clean)
	var out []token
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		start := i == 0 || toks[i-1].kind != tokWord
		if !start || t.kind != tokWord || !isInclude(t.text) {
			out = append(out, t)
			continue
		}
		if i+2 >= len(toks) || toks[i+1].kind != tokWord || toks[i+2].kind != tokEOL {
			return nil, fmt.Errorf("%s: %w: %s takes exactly one file name or pattern", t.pos, ErrSyntax, t.text)
		}
		inc, err := include(fsys, name, toks[i+1].text, stack, t.pos)
		if err != nil {
			return nil, err
		}
		out = append(out, inc...)
		i++ // the pattern; the line end is kept
	}
	return out, nil
}

// include resolves pattern relative to the including file's directory, as
// keepalived does, and expands every match in sorted order. A pattern that
// matches nothing is fine (keepalived's conf.d idiom); a plain file name that
// does not exist is an error.
func include(fsys FS, including, pattern string, stack []string, at Pos) ([]token, error) {
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(including), pattern)
	}
	var names []string
	if strings.ContainsAny(pattern, "*?[") {
		m, err := fsys.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: include %s: %w", at, ErrSyntax, pattern, err)
		}
		names = m
	} else {
		names = []string{pattern}
	}
	var out []token
	for _, n := range names {
		toks, err := expand(fsys, n, stack, at)
		if err != nil {
			return nil, err
		}
		out = append(out, toks...)
	}
	return out, nil
}

// build turns the token stream into statements. A statement ends at a line
// end, '{' or '}'; '{' opens a block for the statement before it, also when
// it starts the next line.
func build(toks []token) ([]*Node, error) {
	root := &Node{HasBlock: true}
	stack := []*Node{root}
	var cur *Node
	for _, t := range toks {
		top := stack[len(stack)-1]
		switch t.kind {
		case tokWord:
			if cur == nil {
				cur = &Node{Keyword: t.text, Pos: t.pos}
				top.Children = append(top.Children, cur)
			} else {
				cur.Args = append(cur.Args, t.text)
			}
		case tokEOL:
			cur = nil
		case tokOpen:
			target := cur
			if target == nil && len(top.Children) > 0 {
				target = top.Children[len(top.Children)-1]
			}
			if target == nil || target.HasBlock {
				return nil, fmt.Errorf("%s: %w: '{' without a keyword before it", t.pos, ErrSyntax)
			}
			target.HasBlock = true
			stack = append(stack, target)
			cur = nil
		case tokClose:
			if len(stack) == 1 {
				return nil, fmt.Errorf("%s: %w: '}' closes no block", t.pos, ErrSyntax)
			}
			stack = stack[:len(stack)-1]
			cur = nil
		}
	}
	if len(stack) > 1 {
		open := stack[len(stack)-1]
		return nil, fmt.Errorf("%s: %w: block %q opened here is never closed", open.Pos, ErrSyntax, open.Keyword)
	}
	return root.Children, nil
}
