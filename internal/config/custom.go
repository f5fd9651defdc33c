package config

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"
)

// Scenarios holds scenarios users declare in the configuration.
type Scenarios struct {
	// Custom are HTTP scenarios run, recorded, compared and reported like
	// the built-in ones, in the category "custom".
	Custom []CustomScenario `mapstructure:"custom" json:"custom,omitempty"`
}

// CustomScenario is one declared HTTP scenario: its operations (picked by
// weight for every request), a load shape, which node each request goes
// to, and requests to run once before (setup) and after (cleanup).
type CustomScenario struct {
	// Name is the scenario's name under custom/ (letters, digits, _ and -).
	Name string `mapstructure:"name" json:"name"`
	// Nodes picks each request's node: round_robin (default), first, or
	// leader (the member every member names as the leader, through the
	// target profile's status request, asked once).
	Nodes string `mapstructure:"nodes" json:"nodes,omitempty"`
	// Keys is how many distinct values {{.Key}} takes (default 1000).
	Keys int `mapstructure:"keys" json:"keys,omitempty"`
	// Data is a CSV file (a header row, then one row per record) or a JSON
	// array of objects, named relative to the config file; request i gets
	// record i modulo their count as {{.Data.field}}.
	Data       string            `mapstructure:"data" json:"data,omitempty"`
	Load       CustomLoad        `mapstructure:"load" json:"load"`
	Setup      []CustomRequest   `mapstructure:"setup" json:"setup,omitempty"`
	Operations []CustomOperation `mapstructure:"operations" json:"operations"`
	Cleanup    []CustomRequest   `mapstructure:"cleanup" json:"cleanup,omitempty"`
}

// CustomLoad is a custom scenario's load: a closed loop at each client
// count, an open loop at a rate, or a step ramp of open-loop rates.
type CustomLoad struct {
	Mode string `mapstructure:"mode" json:"mode"` // closed (default) | open | step
	// Clients are the closed loop's client counts, one scenario each
	// (default system.concurrency_levels).
	Clients []int `mapstructure:"clients" json:"clients,omitempty"`
	// Rate is the open loop's requests per second; Arrival constant or
	// poisson (default api.arrival).
	Rate    float64 `mapstructure:"rate" json:"rate,omitempty"`
	Arrival string  `mapstructure:"arrival" json:"arrival,omitempty"`
	// The step ramp: from StartRate, Increment more every StepDuration, at
	// most MaxSteps, until errors pass 1% or p99 targets.latency_p99.
	StartRate    float64       `mapstructure:"start_rate" json:"start_rate,omitempty"`
	Increment    float64       `mapstructure:"increment" json:"increment,omitempty"`
	StepDuration time.Duration `mapstructure:"step_duration" json:"step_duration,omitempty"`
	MaxSteps     int           `mapstructure:"max_steps" json:"max_steps,omitempty"`
}

// CustomRequest is one HTTP request. Path, header values and Body are
// templates over CustomVars.
type CustomRequest struct {
	Method  string            `mapstructure:"method" json:"method"`
	Path    string            `mapstructure:"path" json:"path"`
	Headers map[string]string `mapstructure:"headers" json:"headers,omitempty"`
	Body    string            `mapstructure:"body" json:"body,omitempty"`
	// ExpectStatus are the answers that count as success (default: any 2xx).
	ExpectStatus []int `mapstructure:"expect_status" json:"expect_status,omitempty"`
	// ExpectJSON are conditions on the JSON answer, all of which must hold.
	ExpectJSON []JSONCheck `mapstructure:"expect_json" json:"expect_json,omitempty"`
}

// CustomOperation is a request the load sends, recorded under Name,
// picked in proportion to Weight (default 1).
type CustomOperation struct {
	Name          string `mapstructure:"name" json:"name"`
	Weight        int    `mapstructure:"weight" json:"weight,omitempty"`
	CustomRequest `mapstructure:",squash"`
}

// JSONCheck is a condition on the value at a dotted Path of a JSON answer
// ("status", "models.0.name"): it Equals or NotEquals a text, or (Exists)
// is present.
type JSONCheck struct {
	Path      string  `mapstructure:"path" json:"path"`
	Equals    *string `mapstructure:"equals" json:"equals,omitempty"`
	NotEquals *string `mapstructure:"not_equals" json:"not_equals,omitempty"`
	Exists    bool    `mapstructure:"exists" json:"exists,omitempty"`
}

// CustomVars are what a custom request's templates can use.
type CustomVars struct {
	// Seq counts the scenario's requests, from 0.
	Seq uint64
	// Worker is the load engine's worker sending the request.
	Worker int
	// Node is the ID of the node the request goes to.
	Node string
	// Key is one of the scenario's keys, at random.
	Key string
	// Data is the request's record of the data file.
	Data map[string]string
}

// Rand returns a random whole number from 0 to n-1 ({{.Rand 100}}).
func (CustomVars) Rand(n int) int {
	if n <= 0 {
		return 0
	}
	return rand.IntN(n)
}

// TemplateFuncs are the functions a custom request's templates (and a
// target profile's) can call, for the encodings real APIs want:
//
//	json .Data.prompt   the value as JSON: a quoted, escaped string
//	b64enc .Key         base64 (standard, padded), as etcd's JSON gateway wants keys and values
//	b64dec "dGV4dA=="   its inverse
//	urlquery .Key       escaped for a query parameter
//	pathescape .Key     escaped for one path segment
var TemplateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"b64enc": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	"b64dec": func(s string) (string, error) {
		b, err := base64.StdEncoding.DecodeString(s)
		return string(b), err
	},
	"urlquery":   url.QueryEscape,
	"pathescape": url.PathEscape,
}

// ParseTemplate parses one of a custom request's templates.
func ParseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Option("missingkey=error").Funcs(TemplateFuncs).Parse(text)
}

// LoadData reads a custom scenario's data file: CSV with a header row, or
// a JSON array of objects (values written as text).
func LoadData(path string) ([]map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []map[string]string
	if strings.EqualFold(filepath.Ext(path), ".json") {
		var objs []map[string]any
		if err := json.Unmarshal(b, &objs); err != nil {
			return nil, fmt.Errorf("%s: want a JSON array of objects: %v", path, err)
		}
		for _, o := range objs {
			row := map[string]string{}
			for k, v := range o {
				if s, ok := v.(string); ok {
					row[k] = s
				} else {
					j, _ := json.Marshal(v)
					row[k] = string(j)
				}
			}
			rows = append(rows, row)
		}
	} else {
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if len(recs) < 2 {
			return nil, fmt.Errorf("%s: want a header row and at least one record", path)
		}
		for _, rec := range recs[1:] {
			row := map[string]string{}
			for i, h := range recs[0] {
				row[h] = rec[i]
			}
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no records", path)
	}
	return rows, nil
}

var customName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (s Scenarios) validate(p *problems) {
	seen := map[string]bool{}
	for i, c := range s.Custom {
		f := fmt.Sprintf("scenarios.custom[%d]", i)
		if !customName.MatchString(c.Name) {
			p.bad(f+".name", fmt.Sprintf("%q", c.Name), "must be letters, digits, _ and - (it names the scenario custom/NAME)")
		} else if seen[c.Name] {
			p.bad(f+".name", c.Name, "is the name of another custom scenario")
		}
		seen[c.Name] = true
		if !slices.Contains([]string{"", "round_robin", "first", "leader"}, c.Nodes) {
			p.bad(f+".nodes", c.Nodes, "must be round_robin, first or leader")
		}
		if c.Keys < 0 {
			p.bad(f+".keys", c.Keys, "must not be negative")
		}
		var data map[string]string
		if c.Data != "" {
			rows, err := LoadData(c.Data)
			if err != nil {
				p.add(fmt.Errorf("%s.data: %v", f, err))
			} else {
				data = rows[0]
			}
		}
		c.Load.validate(p, f+".load")
		if len(c.Operations) == 0 {
			p.bad(f+".operations", "none", "must list at least one request")
		}
		for j, op := range c.Operations {
			of := fmt.Sprintf("%s.operations[%d]", f, j)
			if !customName.MatchString(op.Name) {
				p.bad(of+".name", fmt.Sprintf("%q", op.Name), "must be letters, digits, _ and -")
			}
			if op.Weight < 0 {
				p.bad(of+".weight", op.Weight, "must not be negative")
			}
			op.CustomRequest.validate(p, of, data)
		}
		for j, r := range c.Setup {
			r.validate(p, fmt.Sprintf("%s.setup[%d]", f, j), data)
		}
		for j, r := range c.Cleanup {
			r.validate(p, fmt.Sprintf("%s.cleanup[%d]", f, j), data)
		}
	}
}

func (l CustomLoad) validate(p *problems, f string) {
	switch l.Mode {
	case "", "closed":
		for _, n := range l.Clients {
			if n < 1 {
				p.bad(f+".clients", l.Clients, "must hold counts of at least 1")
				break
			}
		}
	case "open":
		if l.Rate <= 0 {
			p.bad(f+".rate", l.Rate, "must be above 0 for an open loop")
		}
	case "step":
		if l.StartRate <= 0 || l.Increment <= 0 || l.StepDuration < 500*time.Millisecond || l.MaxSteps < 1 {
			p.bad(f, fmt.Sprintf("start_rate %v, increment %v, step_duration %v, max_steps %d", l.StartRate, l.Increment, l.StepDuration, l.MaxSteps),
				"a step ramp needs start_rate and increment above 0, step_duration of at least 500ms and max_steps of at least 1")
		}
	default:
		p.bad(f+".mode", l.Mode, "must be closed, open or step")
	}
	if !slices.Contains([]string{"", "constant", "poisson"}, l.Arrival) {
		p.bad(f+".arrival", l.Arrival, "must be constant or poisson")
	}
}

// validate parses every template of r and runs it on sample variables,
// so a misspelt variable is found before anything starts.
func (r CustomRequest) validate(p *problems, f string, data map[string]string) {
	if !slices.Contains([]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}, r.Method) {
		p.bad(f+".method", fmt.Sprintf("%q", r.Method), "must be GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS")
	}
	if !strings.HasPrefix(r.Path, "/") {
		p.bad(f+".path", r.Path, "must start with / (the node's API address goes before it)")
	}
	sample := CustomVars{Node: "n1", Key: "k", Data: data}
	if sample.Data == nil {
		sample.Data = map[string]string{}
	}
	check := func(field, text string) {
		t, err := ParseTemplate(field, text)
		if err == nil {
			err = t.Execute(&bytes.Buffer{}, sample)
		}
		if err != nil {
			p.add(fmt.Errorf("%s.%s: %v (variables: .Seq .Worker .Node .Key .Data.FIELD; .Rand N; json VALUE)", f, field, err))
		}
	}
	check("path", r.Path)
	check("body", r.Body)
	for _, h := range sortedKeys(r.Headers) {
		check("headers."+h, r.Headers[h])
	}
	for _, s := range r.ExpectStatus {
		if s < 100 || s > 599 {
			p.bad(f+".expect_status", r.ExpectStatus, "must hold HTTP statuses, 100 to 599")
			break
		}
	}
	for k, c := range r.ExpectJSON {
		n := 0
		if c.Equals != nil {
			n++
		}
		if c.NotEquals != nil {
			n++
		}
		if c.Exists {
			n++
		}
		if strings.Trim(c.Path, ".") == "" || n != 1 {
			p.bad(fmt.Sprintf("%s.expect_json[%d]", f, k), c.Path, "needs a path and exactly one of equals, not_equals, exists")
		}
	}
}
