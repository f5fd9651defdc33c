package target

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/odbench/odbench/configs"
)

// Profile says how to start, form, observe and drive one kind of system.
// Every section but Name is optional; a scenario that needs a section the
// profile lacks is skipped, naming it.
type Profile struct {
	// Base names a profile this one starts from (a built-in name, or a
	// path relative to this file): its keys stand unless this one sets
	// them; mappings merge key by key, lists and values are replaced.
	Base string `yaml:"base"`
	// Name identifies the profile (odbench run --target NAME).
	Name string `yaml:"name"`
	// Description is one line on what the profile drives.
	Description string `yaml:"description"`
	// Start says how odbench starts a cluster of the system; without it
	// the system must already run (--targets URL,...).
	Start *Start `yaml:"start"`
	// Health is asked of a member to see it alive (the external driver's
	// death check): any answer but a gateway's counts.
	Health *Request `yaml:"health"`
	// Ready are conditions every member's answers must meet before the
	// cluster counts as formed.
	Ready []Condition `yaml:"ready"`
	// Status reads a member's view of the cluster: its ID, the leader's,
	// the Raft term and indexes.
	Status *Status `yaml:"status"`
	// KV drives the system's key-value store: consensus scenarios, fault
	// loads and the recorded history for the linearizability check.
	KV *KV `yaml:"kv"`
	// Inference says how to reach the system's LLM-serving API.
	Inference *Inference `yaml:"inference"`
	// Routes are further request templates by family name, for the
	// scenarios that exercise an API of the reference node's kind
	// (models, blobs, gossip broadcasts, runtime metrics, policy).
	Routes map[string]Request `yaml:"routes"`
	// Faults says which faults odbench can inject and how.
	Faults Faults `yaml:"faults"`
	// RateLimit is the system's per-client request limit ("100/min"):
	// loads and odbench's own polling are paced below it.
	RateLimit string `yaml:"rate_limit"`

	// Source names where the profile came from: "built-in" or a file path.
	Source string `yaml:"-"`
}

// Start says how to start one member of a cluster. Every string is a Go
// text/template over MemberVars (see vars.go).
type Start struct {
	// Command is the argv, one template per argument; no shell.
	Command []string `yaml:"command"`
	// Env adds environment variables (values are templates).
	Env map[string]string `yaml:"env"`
	// Ports names the ports odbench picks free for each member before any
	// starts, so every member's template knows every member's ports
	// ({{.Ports.peer}}, and each of .Members).
	Ports []string `yaml:"ports"`
	// API is a member's API base URL (default http://127.0.0.1:{{.Ports.api}}).
	API string `yaml:"api"`
	// Order is how members start: "parallel" (all at once: a static
	// membership such as etcd's, where no member is ready before a
	// quorum is) or "first" (member 1 until ready, then the others at
	// once: a join-based membership).
	Order string `yaml:"order"`
	// NodeReady says when one member is up: a line of its output matching
	// Log, and/or Request answered 2xx (default: the health request).
	NodeReady NodeReady `yaml:"node_ready"`
	// Capture maps a name to a regexp with a group of that name, matched
	// against member 1's output: {{.Captured.name}} in the others'.
	Capture map[string]string `yaml:"capture"`
	// ConfigFile, with ConfigTemplate, renders a config file into each
	// member's directory (a path relative to it).
	ConfigFile     string `yaml:"config_file"`
	ConfigTemplate string `yaml:"config_template"`
	// VersionCommand prints the build of the member binary (argv, no
	// shell); its first line names the target in the results.
	VersionCommand []string `yaml:"version_command"`
}

// NodeReady says when one started member is up.
type NodeReady struct {
	Log     string   `yaml:"log"`
	Request *Request `yaml:"request"`
}

// Request is an HTTP request to a member; Path, header values and Body
// are templates over Vars (request.go).
type Request struct {
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`

	c *compiled // parsed by Validate
}

// Condition is a condition on a member's answer to a request: the JSON
// value at a dotted path, compared by exactly one of CountAtLeast (a
// template: the length of an array or object, or a number, at least
// this), Equals or NotEquals (the value printed as text).
type Condition struct {
	Request      `yaml:",inline"`
	JSON         string  `yaml:"json"`
	CountAtLeast string  `yaml:"count_at_least"`
	Equals       *string `yaml:"equals"`
	NotEquals    *string `yaml:"not_equals"`
}

// Status reads one member's view: each field is a dotted JSON path into
// the answer to Request (numbers may be JSON numbers or strings).
type Status struct {
	Request `yaml:",inline"`
	// ID is this member's own ID as the system names members.
	ID string `yaml:"id"`
	// Leader is the leader's ID; a value in NoLeader (and a missing field)
	// means there is none.
	Leader   string   `yaml:"leader"`
	NoLeader []string `yaml:"no_leader"`
	// Term, CommitIndex and AppliedIndex are the member's Raft term and
	// indexes (optional: elections are counted from the term).
	Term         string `yaml:"term"`
	CommitIndex  string `yaml:"commit_index"`
	AppliedIndex string `yaml:"applied_index"`
}

// Faults says which faults odbench can inject into a system it starts.
type Faults struct {
	// Signals: a member can be killed (SIGKILL), paused (SIGSTOP and
	// SIGCONT) and restarted with its data (default true).
	Signals *bool `yaml:"signals"`
	// Network is how partitions and link shaping are made: "kernel"
	// (odbench's own, without the system's cooperation: every member in a
	// cgroup of its own, nftables rules by cgroup; needs root), "api"
	// (the system's own fault routes: the reference node's
	// routes.admin_faults), or "none".
	Network string `yaml:"network"`
	// Disk: "api" when the system can slow its own log writes through
	// routes.admin_faults, else "none".
	Disk string `yaml:"disk"`
}

// SignalsOK reports whether process faults are available.
func (f Faults) SignalsOK() bool { return f.Signals == nil || *f.Signals }

// Sentinel errors.
var (
	// ErrUnknown: no built-in profile has that name and no file that path.
	ErrUnknown = errors.New("unknown target profile")
	// ErrInvalid: the profile does not parse or breaks a rule.
	ErrInvalid = errors.New("invalid target profile")
)

// Builtin lists the names of the profiles odbench ships.
func Builtin() []string {
	names := configs.Targets()
	sort.Strings(names)
	return names
}

// Load returns the built-in profile of that name, or the profile in the
// file at that path (a name with a slash or ending .yaml is a path),
// parsed strictly and validated.
func Load(nameOrPath string) (*Profile, error) {
	if data, ok := configs.Target(nameOrPath); ok && !looksLikePath(nameOrPath) {
		p, err := Parse("configs/targets/"+nameOrPath+".yaml", data)
		if p != nil {
			p.Source = "built-in"
		}
		return p, err
	}
	if !looksLikePath(nameOrPath) {
		return nil, fmt.Errorf("%w %q: built-in profiles are %s; or give a profile file's path", ErrUnknown, nameOrPath, strings.Join(Builtin(), ", "))
	}
	data, err := os.ReadFile(nameOrPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknown, err)
	}
	p, err := Parse(nameOrPath, data)
	if p != nil {
		p.Source, _ = filepath.Abs(nameOrPath)
	}
	return p, err
}

func looksLikePath(s string) bool {
	return strings.ContainsRune(s, os.PathSeparator) || strings.HasSuffix(s, ".yaml") || strings.HasSuffix(s, ".yml")
}

var (
	yamlErrLine = regexp.MustCompile(`line (\d+): (.*)`)
	yamlUnknown = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
)

// unknownKey rewords yaml's "field x not found in type target.T" as
// the key and the keys valid in its place.
func unknownKey(msg string) string {
	m := yamlUnknown.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	keys := keysOf(reflect.TypeOf(Profile{}), m[2], map[reflect.Type]bool{})
	if keys == nil {
		return fmt.Sprintf("unknown key %q", m[1])
	}
	return fmt.Sprintf("unknown key %q; valid keys here are %s", m[1], strings.Join(keys, ", "))
}

// keysOf finds the struct type named name (as yaml prints it) among t and
// the types it holds, and returns its yaml keys.
func keysOf(t reflect.Type, name string, seen map[reflect.Type]bool) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return nil
	}
	seen[t] = true
	if t.String() == name {
		keys := yamlKeys(t)
		sort.Strings(keys)
		return keys
	}
	for i := range t.NumField() {
		if k := keysOf(t.Field(i).Type, name, seen); k != nil {
			return k
		}
	}
	return nil
}

// yamlKeys lists the yaml keys of struct type t, inlined fields' included.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case strings.Contains(opts, "inline"):
			keys = append(keys, yamlKeys(f.Type)...)
		case tag != "" && tag != "-":
			keys = append(keys, tag)
		}
	}
	return keys
}

// Parse decodes a profile strictly (an unknown key is an error with its
// file:line), merges it onto its base if it names one, and validates it,
// reporting every problem at once.
func Parse(file string, data []byte) (*Profile, error) {
	node, err := parseNode(file, data, 0)
	if err != nil {
		return nil, err
	}
	var p Profile
	if err := node.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, file, err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrInvalid, file, err)
	}
	return &p, nil
}

// parseNode checks one file strictly and returns its document, merged
// onto its base's.
func parseNode(file string, data []byte, depth int) (*yaml.Node, error) {
	if err := strictCheck(file, data); err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: %s: the top level must be a mapping of keys (name:, start:, ...)", ErrInvalid, file)
	}
	root := doc.Content[0]
	base := ""
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "base" {
			base = root.Content[i+1].Value
		}
	}
	if base == "" {
		return root, nil
	}
	if depth > 4 {
		return nil, fmt.Errorf("%w: %s: base: profiles based on each other more than 4 deep (a loop?)", ErrInvalid, file)
	}
	baseFile, baseData, ok := "configs/targets/"+base+".yaml", []byte(nil), false
	if !looksLikePath(base) {
		baseData, ok = configs.Target(base)
	}
	if !ok {
		baseFile = base
		if !filepath.IsAbs(baseFile) {
			baseFile = filepath.Join(filepath.Dir(file), base)
		}
		var err error
		if baseData, err = os.ReadFile(baseFile); err != nil {
			return nil, fmt.Errorf("%w: %s: base %q: %v", ErrInvalid, file, base, err)
		}
	}
	baseRoot, err := parseNode(baseFile, baseData, depth+1)
	if err != nil {
		return nil, err
	}
	return merge(baseRoot, root), nil
}

// merge lays over onto base: a mapping merges key by key, anything else
// is replaced.
func merge(base, over *yaml.Node) *yaml.Node {
	if base.Kind != yaml.MappingNode || over.Kind != yaml.MappingNode {
		return over
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: base.Tag}
	index := map[string]int{}
	for i := 0; i+1 < len(base.Content); i += 2 {
		index[base.Content[i].Value] = len(out.Content)
		out.Content = append(out.Content, base.Content[i], base.Content[i+1])
	}
	for i := 0; i+1 < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		if j, ok := index[k.Value]; ok {
			out.Content[j+1] = merge(out.Content[j+1], v)
			continue
		}
		out.Content = append(out.Content, k, v)
	}
	return out
}

// strictCheck decodes data into a Profile refusing unknown keys, and
// reports each as file:line.
func strictCheck(file string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var p Profile
	err := dec.Decode(&p)
	if err == nil {
		return nil
	}
	var errs []error
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "yaml: unmarshal errors:"))
		if line == "" {
			continue
		}
		if m := yamlErrLine.FindStringSubmatch(line); m != nil {
			errs = append(errs, fmt.Errorf("%s:%s: %s", file, m[1], unknownKey(m[2])))
		} else {
			errs = append(errs, fmt.Errorf("%s: %s", file, strings.TrimPrefix(line, "yaml: ")))
		}
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
}
