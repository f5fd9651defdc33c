package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// knownKeys maps every key path of Config to whether it is a map whose
// sub-keys are free (categories.*, targets.throughput_rps.*).
var knownKeys = func() map[string]bool {
	keys := map[string]bool{}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			if tag == ",squash" { // an embedded struct's keys are its parent's
				walk(prefix, f.Type)
				continue
			}
			path := tag
			if prefix != "" {
				path = prefix + "." + tag
			}
			switch f.Type.Kind() {
			case reflect.Struct:
				keys[path] = false
				walk(path, f.Type)
			case reflect.Map:
				keys[path] = true
			case reflect.Slice:
				keys[path] = false
				if f.Type.Elem().Kind() == reflect.Struct {
					// The keys of each item of a list of objects: "monitor.alerts[].name".
					walk(path+"[]", f.Type.Elem())
				}
			default:
				keys[path] = false
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
	return keys
}()

// KnownKey reports whether path (dotted, lower case) is a key of Config or
// lies below a free-form map key.
func KnownKey(path string) bool {
	path = strings.ToLower(path)
	if _, ok := knownKeys[path]; ok {
		return true
	}
	for k, free := range knownKeys {
		if free && strings.HasPrefix(path, k+".") && !strings.Contains(path[len(k)+1:], ".") {
			return true
		}
	}
	return false
}

// AllKeys returns every leaf key path of Config, sorted, for binding
// environment variables.
func AllKeys() []string {
	var out []string
	for k := range knownKeys {
		if strings.Contains(k, "[]") {
			continue // keys of list items have no variable of their own
		}
		isParent := false
		for other := range knownKeys {
			if strings.HasPrefix(other, k+".") {
				isParent = true
				break
			}
		}
		if !isParent {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// ErrSyntax marks a config file that is not valid YAML.
var ErrSyntax = errors.New("malformed YAML")

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// CheckFile parses a YAML config file's bytes and reports syntax errors and
// unknown keys as "file:line: ..." messages, all at once. name is used only
// in messages.
func CheckFile(name string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			if m[1] != "" {
				return fmt.Errorf("%s:%s: %w: %s", name, m[1], ErrSyntax, m[2])
			}
			return fmt.Errorf("%s: %w: %s", name, ErrSyntax, m[2])
		}
		return fmt.Errorf("%s: %w: %s", name, ErrSyntax, msg)
	}
	if len(doc.Content) == 0 {
		return nil // empty file: nothing set
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d: %w: the top level must be a mapping of keys (execution:, system:, ...)", name, root.Line, ErrSyntax)
	}
	var errs []error
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			path := strings.ToLower(k.Value)
			if prefix != "" {
				path = prefix + "." + path
			}
			if !KnownKey(path) {
				errs = append(errs, fmt.Errorf("%s:%d: unknown key %q%s", name, k.Line, path, suggest(path)))
				continue
			}
			if free, ok := knownKeys[path]; ok && !free && v.Kind == yaml.MappingNode {
				walk(path, v)
			}
			if v.Kind == yaml.SequenceNode && hasItemKeys(path) {
				for _, item := range v.Content {
					if item.Kind == yaml.MappingNode {
						walk(path+"[]", item)
					}
				}
			}
		}
	}
	walk("", root)
	return errors.Join(errs...)
}

// hasItemKeys reports whether path is a list of objects whose items have
// known keys ("monitor.alerts[].name").
func hasItemKeys(path string) bool {
	for k := range knownKeys {
		if strings.HasPrefix(k, path+"[].") {
			return true
		}
	}
	return false
}

// suggest names the known keys that share the unknown key's parent.
func suggest(path string) string {
	parent := ""
	if i := strings.LastIndex(path, "."); i >= 0 {
		parent = path[:i]
	}
	var siblings []string
	for k := range knownKeys {
		j := strings.LastIndex(k, ".")
		if (j < 0 && parent == "") || (j >= 0 && k[:j] == parent) {
			siblings = append(siblings, k)
		}
	}
	if len(siblings) == 0 {
		return ""
	}
	sort.Strings(siblings)
	return "; valid keys here are " + strings.Join(siblings, ", ")
}

// ParseSizes parses "1,3,5" as used by --cluster-sizes.
func ParseSizes(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", part)
		}
		out = append(out, n)
	}
	return out, nil
}
