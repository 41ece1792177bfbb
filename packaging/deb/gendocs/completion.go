package main

import (
	"fmt"
	"slices"
	"strings"
	"text/template"
)

// completionData is what the completion script is made from.
type completionData struct {
	// Top are the first words: agent, status, vip, tls, ...
	Top []string
	// Groups are the commands with subcommands: vip → add rm ls.
	Groups map[string][]string
	// Commands are the leaf commands with their flags.
	Commands []Command
	// Valued are the flags that take a value, whichever command has them,
	// so that a value is not taken for a command word.
	Valued []string
}

func newCompletionData(cmds []Command) (completionData, error) {
	d := completionData{Groups: map[string][]string{}}
	valued := map[string]bool{}
	for _, c := range cmds {
		if !slices.Contains(d.Top, c.Path[0]) {
			d.Top = append(d.Top, c.Path[0])
		}
		if len(c.Path) == 2 {
			d.Groups[c.Path[0]] = append(d.Groups[c.Path[0]], c.Path[1])
		} else if len(c.Path) > 2 {
			return d, fmt.Errorf("command %q: completion handles at most two words", c.Name())
		}
		for _, f := range c.Flags {
			if v, seen := valued[f.Name]; seen && v != (f.Arg != "") {
				return d, fmt.Errorf("flag -%s takes a value in one command and not in another", f.Name)
			}
			valued[f.Name] = f.Arg != ""
		}
		d.Commands = append(d.Commands, c)
	}
	for name, v := range valued {
		if v {
			d.Valued = append(d.Valued, "-"+name)
		}
	}
	slices.Sort(d.Valued)
	return d, nil
}

func completion(cmds []Command) ([]byte, error) {
	d, err := newCompletionData(cmds)
	if err != nil {
		return nil, err
	}
	return render("completion.bash.tmpl", template.FuncMap{
		"join": strings.Join,
		"flagWords": func(fs []Flag) string {
			w := make([]string, len(fs))
			for i, f := range fs {
				w[i] = "-" + f.Name
			}
			return strings.Join(w, " ")
		},
	}, d)
}
