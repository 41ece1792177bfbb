package keepalived

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// flat renders a tree as "keyword args [children]" for compact comparisons.
func flat(nodes []*Node) string {
	var parts []string
	for _, n := range nodes {
		s := strings.Join(append([]string{n.Keyword}, n.Args...), "|")
		if n.HasBlock {
			s += " {" + flat(n.Children) + "}"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func parseString(t *testing.T, files map[string]string) ([]*Node, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return Parse(fsys, "etc/keepalived.conf")
}

func TestParseTricky(t *testing.T) {
	tests := []struct {
		name, conf, want string
	}{
		{"nested braces on one line",
			"vrrp_instance VI_1 { authentication { auth_type PASS } track_script { chk } }",
			"vrrp_instance|VI_1 {authentication {auth_type|PASS}; track_script {chk}}"},
		{"comments at line end, both kinds",
			"global_defs { # the globals\n router_id LB1 ! name\n}\n! whole line\n# another",
			"global_defs {router_id|LB1}"},
		{"quoted strings keep spaces, quotes go",
			`vrrp_script chk { script "/usr/bin/killall -0 haproxy" }` + "\nx 'a b' \"c#d\" e\"f g\"h",
			"vrrp_script|chk {script|/usr/bin/killall -0 haproxy}; x|a b|c#d|ef gh"},
		{"other quote is literal, escapes work",
			`script "sh -c 'exit 0'" "a\"b\\c"`,
			`script|sh -c 'exit 0'|a"b\c`},
		{"brace on the next line",
			"vrrp_instance VI_1\n{\n priority 100\n}",
			"vrrp_instance|VI_1 {priority|100}"},
		{"empty block and CRLF",
			"a {\r\n}\r\nb 1\r\n",
			"a {}; b|1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := parseString(t, map[string]string{"etc/keepalived.conf": tt.conf})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, flat(nodes)); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePositions(t *testing.T) {
	nodes, err := parseString(t, map[string]string{
		"etc/keepalived.conf":   "global_defs {\n}\ninclude conf.d/*.conf\nvrrp_instance VI_1 {\n}\n",
		"etc/conf.d/b.conf":     "\n\nvrrp_script b {\n}\n",
		"etc/conf.d/a.conf":     "vrrp_script a {\n}\n",
		"etc/conf.d/skip.conf~": "junk {",
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nodes {
		got = append(got, n.Keyword+" "+n.Pos.String())
	}
	want := []string{
		"global_defs etc/keepalived.conf:1",
		"vrrp_script etc/conf.d/a.conf:1", // glob matches in sorted order
		"vrrp_script etc/conf.d/b.conf:3",
		"vrrp_instance etc/keepalived.conf:4",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
}

func TestParseIncludeInsideBlockAndEmptyGlob(t *testing.T) {
	nodes, err := parseString(t, map[string]string{
		"etc/keepalived.conf": "vrrp_instance VI_1 {\n include vips.conf\n}\ninclude none.d/*.conf\n",
		"etc/vips.conf":       "virtual_ipaddress {\n 192.0.2.10/24\n}\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := flat(nodes), "vrrp_instance|VI_1 {virtual_ipaddress {192.0.2.10/24}}"; got != want {
		t.Errorf("tree = %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // the error must start with this file:line and contain the rest
	}{
		{"unterminated block", map[string]string{"etc/keepalived.conf": "global_defs {\n}\nvrrp_instance VI_1 {\n  priority 100\n"},
			`etc/keepalived.conf:3: syntax error: block "vrrp_instance" opened here is never closed`},
		{"unterminated block in an include", map[string]string{"etc/keepalived.conf": "include a.conf\n", "etc/a.conf": "\nx {\n"},
			`etc/a.conf:2: syntax error: block "x" opened here`},
		{"stray close", map[string]string{"etc/keepalived.conf": "a {\n}\n}\n"},
			"etc/keepalived.conf:3: syntax error: '}' closes no block"},
		{"open without keyword", map[string]string{"etc/keepalived.conf": "{\n}\n"},
			"etc/keepalived.conf:1: syntax error: '{' without a keyword"},
		{"unterminated quote", map[string]string{"etc/keepalived.conf": "a\nscript \"/bin/true\n"},
			`etc/keepalived.conf:2: syntax error: unterminated " quote`},
		{"include cycle", map[string]string{"etc/keepalived.conf": "include a.conf\n", "etc/a.conf": "x\ninclude keepalived.conf\n"},
			"etc/a.conf:2: syntax error: include cycle: etc/keepalived.conf -> etc/a.conf -> etc/keepalived.conf"},
		{"self include by glob", map[string]string{"etc/keepalived.conf": "include *.conf\n"},
			"etc/keepalived.conf:1: syntax error: include cycle"},
		{"missing include", map[string]string{"etc/keepalived.conf": "\ninclude nothere.conf\n"},
			"etc/keepalived.conf:2: include etc/nothere.conf:"},
		{"include without a file", map[string]string{"etc/keepalived.conf": "include\n"},
			"etc/keepalived.conf:1: syntax error: include takes exactly one file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseString(t, tt.files)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestParseMissingFile(t *testing.T) {
	_, err := Parse(fstest.MapFS{}, "etc/keepalived.conf")
	if err == nil || errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "etc/keepalived.conf") {
		t.Fatalf("Parse of a missing file = %v, want a read error naming it", err)
	}
}
