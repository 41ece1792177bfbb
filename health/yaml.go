package health

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// yamlCheck is Check as written in the file: durations are strings such as
// "2s" or "500ms".
type yamlCheck struct {
	Name      string `yaml:"name"`
	Exec      string `yaml:"exec"`
	HTTP      string `yaml:"http"`
	Status    int    `yaml:"status"`
	TCP       string `yaml:"tcp"`
	Interface string `yaml:"interface"`
	Interval  string `yaml:"interval"`
	Timeout   string `yaml:"timeout"`
	Rise      int    `yaml:"rise"`
	Fall      int    `yaml:"fall"`
}

// UnmarshalYAML reads one entry of the checks list. It refuses unknown keys
// itself: a decoder's KnownFields setting does not reach the Decode call of a
// custom unmarshaler, and a misspelt "intervall" must not pass silently.
func (c *Check) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a check is a mapping such as {name: web, exec: ...}", n.Line)
	}
	if err := knownKeys(n, reflect.TypeFor[yamlCheck]()); err != nil {
		return err
	}
	var y yamlCheck
	if err := n.Decode(&y); err != nil {
		return err
	}
	interval, err := parseDuration(n, "interval", y.Interval)
	if err != nil {
		return err
	}
	timeout, err := parseDuration(n, "timeout", y.Timeout)
	if err != nil {
		return err
	}
	*c = Check{
		Name: y.Name, Exec: y.Exec, HTTP: y.HTTP, Status: y.Status, TCP: y.TCP, Interface: y.Interface,
		Interval: interval, Timeout: timeout, Rise: y.Rise, Fall: y.Fall,
	}
	return nil
}

// knownKeys refuses a key of mapping n that is not a yaml tag of struct t.
func knownKeys(n *yaml.Node, t reflect.Type) error {
	known := make(map[string]bool, t.NumField())
	for _, f := range reflect.VisibleFields(t) {
		known[strings.Split(f.Tag.Get("yaml"), ",")[0]] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !known[k.Value] {
			return fmt.Errorf("line %d: check: unknown key %q", k.Line, k.Value)
		}
	}
	return nil
}

// parseDuration parses field key of mapping n; an absent field is zero.
func parseDuration(n *yaml.Node, key, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("line %d: check: %s %q is not a duration (want e.g. 2s, 500ms)", valueLine(n, key), key, s)
	}
	return d, nil
}

// valueLine is the line of key's value in mapping n, for error messages.
func valueLine(n *yaml.Node, key string) int {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1].Line
		}
	}
	return n.Line
}
