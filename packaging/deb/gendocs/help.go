package main

import (
	"bufio"
	"fmt"
	"strings"
)

// Command is one entry of raftvip's usage text and the flags its -h lists.
type Command struct {
	// Path is the command as typed: ["agent"], ["vip", "add"].
	Path []string
	// Synopsis is the usage line's left column: "vip add <cidr>".
	Synopsis string
	// Summary is its description.
	Summary string
	Flags   []Flag
}

// Name is the command path joined by spaces.
func (c Command) Name() string { return strings.Join(c.Path, " ") }

// Flag is one flag of a command's -h output (the flag package's
// PrintDefaults format).
type Flag struct {
	Name string
	// Arg is the value's type name ("string", "duration", "value"), empty
	// for a boolean flag.
	Arg   string
	Usage string
}

// parseCommands reads the "commands:" block of raftvip's usage text. The
// description column is found from the lines whose synopsis is followed by
// two spaces, since a synopsis as wide as the column leaves only one.
func parseCommands(usage string) ([]Command, error) {
	_, block, ok := strings.Cut(usage, "commands:\n")
	if !ok {
		return nil, fmt.Errorf("no commands: block in the usage text")
	}
	block, _, _ = strings.Cut(block, "\n\n")
	lines := strings.Split(strings.TrimRight(block, "\n"), "\n")
	votes := map[int]int{}
	for _, l := range lines {
		body := strings.TrimLeft(l, " ")
		if i := strings.Index(body, "  "); i > 0 {
			j := i + len(body[i:]) - len(strings.TrimLeft(body[i:], " "))
			votes[len(l)-len(body)+j]++
		}
	}
	col, best := 0, 0
	for c, n := range votes {
		if n > best || (n == best && c < col) {
			col, best = c, n
		}
	}
	if best == 0 {
		return nil, fmt.Errorf("cannot find the description column of the commands")
	}
	var cmds []Command
	for _, l := range lines {
		if len(l) <= col {
			return nil, fmt.Errorf("command line %q is shorter than the description column %d", l, col)
		}
		syn, sum := strings.TrimSpace(l[:col]), strings.TrimSpace(l[col:])
		var path []string
		for _, w := range strings.Fields(syn) {
			if strings.ContainsAny(w[:1], "<[-") {
				break
			}
			path = append(path, w)
		}
		if len(path) == 0 {
			return nil, fmt.Errorf("command line %q names no command", l)
		}
		cmds = append(cmds, Command{Path: path, Synopsis: syn, Summary: sum})
	}
	return cmds, nil
}

// parseFlags reads the flag package's PrintDefaults output, which may follow
// other text (import-keepalived prints a description first):
//
//	-name type
//	  	usage, possibly on
//	  	several lines
func parseFlags(help string) []Flag {
	var flags []Flag
	for sc := bufio.NewScanner(strings.NewReader(help)); sc.Scan(); {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "  -") && !strings.HasPrefix(l, "  --"):
			f := strings.Fields(l[3:])
			fl := Flag{Name: f[0]}
			if len(f) > 1 {
				fl.Arg = f[1]
			}
			flags = append(flags, fl)
		case strings.HasPrefix(l, "    \t") && len(flags) > 0:
			u := &flags[len(flags)-1].Usage
			*u = strings.TrimSpace(*u + " " + strings.TrimSpace(l))
		}
	}
	return flags
}

// dropHostDefault removes a default that is this host's name from a flag's
// usage.
func dropHostDefault(usage, host string) string {
	if host == "" {
		return usage
	}
	return strings.Replace(usage, ` (default "`+host+`")`, "", 1)
}
