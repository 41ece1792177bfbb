package main

import (
	"strings"
	"text/template"
)

// roff escapes text for a roff line: backslashes and hyphens (which groff
// would render as typographic hyphens, breaking copy and paste of flags), and
// a leading dot or quote that would make the line a request.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, `-`, `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffArg escapes text for a quoted macro argument.
func roffArg(s string) string {
	return `"` + strings.ReplaceAll(roff(s), `"`, `\(dq`) + `"`
}

func manPage(cmds []Command, version, date string) ([]byte, error) {
	return render("raftvip.1.tmpl", template.FuncMap{"roff": roff, "arg": roffArg},
		struct {
			Version, Date string
			Commands      []Command
		}{version, date, cmds})
}
