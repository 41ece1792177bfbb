package keepalived

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/raftvip/raftvip/internal/health"
)

// Render prints r as a raftvip YAML config. The findings come first, as
// comments, so that they travel with the file; source names the keepalived
// config in the header.
func Render(r Result, source string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# raftvip config translated from %s by raftvip import-keepalived.\n", source)
	writeFindings(&b, r.Findings, Untranslated, "Not translated (keepalived did this, this config does not):")
	writeFindings(&b, r.Findings, Note, "Notes (nothing lost):")
	b.WriteString("#\n# Still to set on each node: id, raft-addr, http-addr, token-file,\n" +
		"# tls-ca, tls-cert and tls-key (raftvip tls init / tls cert; or\n" +
		"# insecure-plaintext: true), and bootstrap: true on the first node or\n" +
		"# join: [...] on the others.\n")
	if len(r.VIPs) > 0 {
		b.WriteString("vip:\n")
		for _, v := range r.VIPs {
			fmt.Fprintf(&b, "  - %s", scalar(v.CIDR))
			if v.Comment != "" {
				fmt.Fprintf(&b, "  # %s", v.Comment)
			}
			b.WriteString("\n")
		}
	}
	for _, s := range r.Settings {
		fmt.Fprintf(&b, "%s: %s\n", s.Key, scalar(s.Value))
	}
	if len(r.Checks) > 0 {
		b.WriteString("checks:\n")
		for _, c := range r.Checks {
			writeCheck(&b, c)
		}
	}
	writeWitness(&b, r.Pair)
	return b.Bytes()
}

func writeFindings(b *bytes.Buffer, fs []Finding, sev Severity, title string) {
	first := true
	for _, f := range fs {
		if f.Severity != sev {
			continue
		}
		if first {
			fmt.Fprintf(b, "#\n# %s\n", title)
			first = false
		}
		fmt.Fprintf(b, "#   %s\n", strings.ReplaceAll(f.String(), "\n", " "))
	}
}

func writeCheck(b *bytes.Buffer, c health.Check) {
	fmt.Fprintf(b, "  - name: %s\n", scalar(c.Name))
	if c.Exec != "" {
		fmt.Fprintf(b, "    exec: %s\n", strconv.Quote(c.Exec))
	} else {
		fmt.Fprintf(b, "    interface: %s\n", scalar(c.Interface))
	}
	fmt.Fprintf(b, "    interval: %s\n    timeout: %s\n    rise: %d\n    fall: %d\n", c.Interval, c.Timeout, c.Rise, c.Fall)
}

// plain matches what YAML reads back as the same string without quotes.
var plain = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./:-]*$`)

// scalar writes s plain when YAML reads it back unchanged, as a string or
// as the number or bool it is meant to be, else double-quoted. Go's quoting
// escapes (\n, \xXX, \uXXXX) are valid in YAML double-quoted scalars.
func scalar(s string) string {
	if plain.MatchString(s) && !strings.HasSuffix(s, ":") {
		switch strings.ToLower(s) {
		case "yes", "no", "on", "off", "y", "n", "null":
			return strconv.Quote(s)
		}
		return s
	}
	return strconv.Quote(s)
}
