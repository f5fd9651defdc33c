package target

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/odbench/odbench/internal/config"
)

// Inference says how to reach the system's LLM-serving API.
type Inference struct {
	// API is the protocol: "ollama" (NDJSON streams) or "openai"
	// (server-sent events).
	API string `yaml:"api"`
	// Generate and Chat are the routes of a completion and of a chat
	// (defaults by API: /api/generate and /api/chat, or /v1/completions and
	// /v1/chat/completions).
	Generate string `yaml:"generate"`
	Chat     string `yaml:"chat"`
	// Models lists the models served (GET; default /api/tags or /v1/models).
	Models string `yaml:"models"`
	// Placeholder are patterns (regular expressions, case-insensitive) of
	// an answer that carries no generated text: a route that exists in
	// name only. A 2xx answer matching one is an error of kind
	// placeholder (default: "not (yet )?implemented", "placeholder").
	Placeholder []string `yaml:"placeholder"`
	// CreateModel makes a model to serve (the reference node creates
	// synthetic ones: {{.Name}}, {{.Body}}); without it the model named in
	// inference.model must already be served.
	CreateModel *Request `yaml:"create_model"`
	// DeleteModel removes it afterwards.
	DeleteModel *Request `yaml:"delete_model"`

	placeholders []*regexp.Regexp
}

// DefaultPlaceholders are the patterns of an answer that generates nothing.
var DefaultPlaceholders = []string{`not (yet )?implemented`, `placeholder`}

// IsPlaceholder reports whether a 2xx answer's text is a placeholder.
func (in *Inference) IsPlaceholder(text []byte) bool {
	for _, re := range in.placeholders {
		if re.Match(text) {
			return true
		}
	}
	return false
}

// Routes of an inference API kind.
func (in *Inference) routes() (generate, chat, models string) {
	if in.API == "openai" {
		return "/v1/completions", "/v1/chat/completions", "/v1/models"
	}
	return "/api/generate", "/api/chat", "/api/tags"
}

// Path returns the route of a completion (chat false) or a chat.
func (in *Inference) Path(chat bool) string {
	g, c, _ := in.routes()
	if chat {
		return or(in.Chat, c)
	}
	return or(in.Generate, g)
}

// ModelsPath returns the route that lists the models served.
func (in *Inference) ModelsPath() string {
	_, _, m := in.routes()
	return or(in.Models, m)
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

var (
	portName  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	routeName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// Validate checks the profile and parses its templates, reporting every
// problem at once, each naming its key.
func (p *Profile) Validate() error {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if p.Name == "" {
		add("name: must be set")
	}
	if s := p.Start; s != nil {
		if s.NodeReady.Log == "" && s.NodeReady.Request == nil && p.Health != nil {
			h := *p.Health // a member is up once it answers its health request
			s.NodeReady.Request = &h
		}
		errs = append(errs, s.validate()...)
	}
	if p.Health != nil {
		if err := p.Health.prepare("health"); err != nil {
			add("%v", err)
		}
	}
	for i := range p.Ready {
		errs = append(errs, p.Ready[i].validate(fmt.Sprintf("ready[%d]", i))...)
	}
	if s := p.Status; s != nil {
		if err := s.Request.prepare("status"); err != nil {
			add("%v", err)
		}
		if s.ID == "" || s.Leader == "" {
			add("status: id and leader must name where the answer holds the member's and the leader's IDs")
		}
		for _, l := range []struct{ name, v string }{{"id", s.ID}, {"leader", s.Leader}, {"term", s.Term},
			{"commit_index", s.CommitIndex}, {"applied_index", s.AppliedIndex}} {
			if _, err := ParseLocator(l.v); err != nil {
				add("status.%s: %v", l.name, err)
			}
		}
	}
	if p.KV != nil {
		errs = append(errs, p.KV.compile()...)
	}
	if in := p.Inference; in != nil {
		errs = append(errs, in.validate()...)
	}
	names := make([]string, 0, len(p.Routes))
	for name := range p.Routes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := p.Routes[name]
		if !routeName.MatchString(name) {
			add("routes.%s: a route's name must be lower case letters, digits and _", name)
		}
		if err := r.prepare("routes." + name); err != nil {
			add("%v", err)
		}
		p.Routes[name] = r
	}
	switch f := p.Faults; f.Network {
	case "", NetworkNone, NetworkKernel:
	case NetworkAPI:
		for _, r := range []string{RouteFaultsSet, RouteFaultsClear} {
			if _, ok := p.Routes[r]; !ok {
				add("faults.network: api needs routes.%s", r)
			}
		}
	default:
		add("faults.network: must be kernel, api or none, but is %q", f.Network)
	}
	switch p.Faults.Disk {
	case "", NetworkNone:
	case NetworkAPI:
		if _, ok := p.Routes[RouteFaultsSet]; !ok {
			add("faults.disk: api needs routes.%s", RouteFaultsSet)
		}
	default:
		add("faults.disk: must be api or none, but is %q", p.Faults.Disk)
	}
	if p.Faults.Network == NetworkKernel && p.Start == nil {
		add("faults.network: kernel needs a start section: odbench can only shape the traffic of members it starts")
	}
	if p.RateLimit != "" {
		if _, err := config.ParseRate(p.RateLimit); err != nil {
			add("rate_limit: %v", err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "\n"))
}

// Ways of making faults.
const (
	NetworkKernel = "kernel"
	NetworkAPI    = "api"
	NetworkNone   = "none"
)

// Routes a profile with faults.network or faults.disk "api" names.
const (
	RouteFaultsSet   = "admin_faults_set"   // body {{.Body}}: the reference node's FaultRequest
	RouteFaultsClear = "admin_faults_clear" // heals every fault of the member
)

// prepare parses the request's templates, storing them.
func (r *Request) prepare(field string) error {
	c, err := r.compile(field)
	r.c = c
	return err
}

func (s *Start) validate() []string {
	var errs []string
	add := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if len(s.Command) == 0 {
		add("start.command: must name the member binary and its arguments")
	}
	for i, a := range s.Command {
		if _, err := ParseTemplate(fmt.Sprintf("start.command[%d]", i), a); err != nil {
			add("%v", err)
		}
	}
	for k, v := range s.Env {
		if _, err := ParseTemplate("start.env."+k, v); err != nil {
			add("%v", err)
		}
	}
	seen := map[string]bool{}
	for _, p := range s.Ports {
		if !portName.MatchString(p) || seen[p] {
			add("start.ports: %q must be a distinct name of lower case letters, digits and _", p)
		}
		seen[p] = true
	}
	if s.API == "" && !seen["api"] {
		add("start.api: must give the member's API base URL (or name a port api, for the default http://127.0.0.1:{{.Ports.api}})")
	}
	if _, err := ParseTemplate("start.api", s.APIURL()); err != nil {
		add("%v", err)
	}
	switch s.Order {
	case "", OrderParallel, OrderFirst:
	default:
		add("start.order: must be parallel or first, but is %q", s.Order)
	}
	if s.NodeReady.Log == "" && s.NodeReady.Request == nil {
		add("start.node_ready: give log (a pattern of the member's output) or request (answered 2xx), or a health request, so odbench knows when a member is up")
	}
	if s.NodeReady.Log != "" {
		if _, err := regexp.Compile(s.NodeReady.Log); err != nil {
			add("start.node_ready.log: %v", err)
		}
	}
	if s.NodeReady.Request != nil {
		if err := s.NodeReady.Request.prepare("start.node_ready.request"); err != nil {
			add("%v", err)
		}
	}
	for name, pat := range s.Capture {
		re, err := regexp.Compile(pat)
		switch {
		case err != nil:
			add("start.capture.%s: %v", name, err)
		case re.SubexpIndex(name) < 0:
			add("start.capture.%s: the pattern %q has no group named %s, as in (?P<%s>...)", name, pat, name, name)
		}
	}
	if (s.ConfigFile == "") != (s.ConfigTemplate == "") {
		add("start.config_file and start.config_template: set both or neither")
	} else if s.ConfigFile != "" {
		if strings.HasPrefix(s.ConfigFile, "/") || strings.Contains(s.ConfigFile, "..") {
			add("start.config_file: must be a path inside the member's directory, not %q", s.ConfigFile)
		}
		if _, err := ParseTemplate("start.config_template", s.ConfigTemplate); err != nil {
			add("%v", err)
		}
	}
	return errs
}

// Orders of start.
const (
	OrderParallel = "parallel"
	OrderFirst    = "first"
)

// APIURL is start.api, or its default.
func (s *Start) APIURL() string { return or(s.API, "http://127.0.0.1:{{.Ports.api}}") }

func (c *Condition) validate(field string) []string {
	var errs []string
	if err := c.Request.prepare(field); err != nil {
		errs = append(errs, err.Error())
	}
	if strings.Trim(c.JSON, ".") == "" {
		errs = append(errs, field+".json: must name a field of the answer (dotted: leader.id, peers.0)")
	}
	n := 0
	if c.CountAtLeast != "" {
		n++
		if _, err := ParseTemplate(field+".count_at_least", c.CountAtLeast); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if c.Equals != nil {
		n++
	}
	if c.NotEquals != nil {
		n++
	}
	if n != 1 {
		errs = append(errs, fmt.Sprintf("%s: give exactly one of count_at_least, equals, not_equals (got %d)", field, n))
	}
	return errs
}

func (in *Inference) validate() []string {
	var errs []string
	switch in.API {
	case "ollama", "openai":
	default:
		errs = append(errs, fmt.Sprintf("inference.api: must be ollama or openai, but is %q", in.API))
	}
	pats := in.Placeholder
	if len(pats) == 0 {
		pats = DefaultPlaceholders
	}
	in.placeholders = nil
	for i, p := range pats {
		re, err := regexp.Compile("(?i)" + p)
		if err != nil {
			errs = append(errs, fmt.Sprintf("inference.placeholder[%d]: %v", i, err))
			continue
		}
		in.placeholders = append(in.placeholders, re)
	}
	for _, r := range []struct {
		name string
		req  *Request
	}{{"create_model", in.CreateModel}, {"delete_model", in.DeleteModel}} {
		if r.req != nil {
			if err := r.req.prepare("inference." + r.name); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	return errs
}
