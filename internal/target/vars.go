// What a profile's templates can use: the variables of a member's start
// and of a request, and the functions for the encodings real APIs want.

package target

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"

	"github.com/odbench/odbench/internal/config"
)

// Member is one member of a cluster as the start templates see it.
type Member struct {
	ID    string
	Index int // 1-based
	// Ports are the member's named ports (Start.Ports), picked free by
	// odbench before any member starts.
	Ports map[string]int
	// API is the member's API base URL.
	API string
}

// MemberVars are what a member's start templates can use.
type MemberVars struct {
	Member
	// DataDir is the member's own directory, also its working directory;
	// a restart keeps it.
	DataDir string
	// Size is the cluster size; Members lists every member, this one
	// included, so that a static membership can be written out.
	Size    int
	Members []Member
	// First is member 1.
	First Member
	// Via is a member already up for a join-based member to join
	// through: member 1 when the others first start, on a restart the
	// first other member running; its ID is empty when there is none
	// (member 1 at first start: it starts the cluster).
	Via Member
	// Captured holds what Start.Capture found in member 1's output.
	Captured map[string]string
	// Cluster names the cluster uniquely (an etcd cluster token: two
	// clusters started at once never mistake each other's members).
	Cluster string
	// Self is the running odbench executable (the reference node's
	// profile starts `{{.Self}} node ...`), ParentPID its process ID.
	Self      string
	ParentPID int
	// Restart is true when the member starts again with its data.
	Restart bool
}

// Vars are what a request's templates can use.
type Vars struct {
	// Key and Value: a KV operation's key and value (raw bytes as a string).
	Key   string
	Value string
	// Expect is a compare-and-set's expected version (0: the key must
	// not exist).
	Expect uint64
	// Name names what a route is about: a model, a node ID, a message.
	Name string
	// Member is the ID of the member asked.
	Member string
	// Size is the cluster size.
	Size int
	// Body is a request body built by odbench (a model's creation, a
	// policy), for routes that pass it on.
	Body string
}

// Funcs are the functions every profile template can call: those of
// custom scenarios (config.TemplateFuncs: json, b64enc, b64dec, urlquery,
// pathescape) and
//
//	join .List ","       strings joined
//	each .Members "{{.ID}}=http://127.0.0.1:{{.Ports.peer}}" ","
//	                     a template run for every member, the results joined
//	add 1 2              integer sum
var Funcs = func() template.FuncMap {
	m := template.FuncMap{
		"join": strings.Join,
		"add":  func(a, b int) int { return a + b },
		"each": each,
	}
	for k, f := range config.TemplateFuncs {
		m[k] = f
	}
	return m
}()

// each runs text, a template, for every member and joins the results.
func each(members []Member, text, sep string) (string, error) {
	t, err := template.New("each").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	parts := make([]string, len(members))
	for i, m := range members {
		var b bytes.Buffer
		if err := t.Execute(&b, m); err != nil {
			return "", err
		}
		parts[i] = b.String()
	}
	return strings.Join(parts, sep), nil
}

// newTemplate parses text with Funcs; a missing map key is an error.
func newTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Funcs(Funcs).Parse(text)
}

// Template is a parsed profile template.
type Template struct {
	t    *template.Template
	text string
}

// ParseTemplate parses one profile template; field names the profile key
// in errors.
func ParseTemplate(field, text string) (*Template, error) {
	t, err := newTemplate(field, text)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", field, err)
	}
	return &Template{t: t, text: text}, nil
}

// Render runs the template on data.
func (t *Template) Render(data any) (string, error) {
	var b bytes.Buffer
	if err := t.t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Text is the template's source.
func (t *Template) Text() string { return t.text }
