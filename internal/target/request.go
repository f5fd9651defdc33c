// Requests a profile spells: rendered into calls, and their answers read
// through locators ("json:kvs.0.value", "header:X-Version", "status:404").

package target

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/odbench/odbench/internal/jsonpath"
)

// Call is a rendered request.
type Call struct {
	Method  string
	URL     string
	Headers map[string]string
	Body    []byte
}

// compiled holds a request's parsed templates.
type compiled struct {
	path, body *Template
	headers    map[string]*Template
}

// compile parses the request's templates; field names it in errors.
func (r *Request) compile(field string) (*compiled, error) {
	c := &compiled{headers: map[string]*Template{}}
	var errs []string
	if !validMethods[r.Method] {
		errs = append(errs, fmt.Sprintf("%s.method: must be one of GET, POST, PUT, DELETE, PATCH, HEAD, but is %q", field, r.Method))
	}
	if !strings.HasPrefix(r.Path, "/") {
		errs = append(errs, fmt.Sprintf("%s.path: must begin with /, but is %q", field, r.Path))
	}
	var err error
	if c.path, err = ParseTemplate(field+".path", r.Path); err != nil {
		errs = append(errs, err.Error())
	}
	if c.body, err = ParseTemplate(field+".body", r.Body); err != nil {
		errs = append(errs, err.Error())
	}
	for k, v := range r.Headers {
		if c.headers[k], err = ParseTemplate(field+".headers."+k, v); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return c, nil
}

var validMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "DELETE": true, "PATCH": true, "HEAD": true}

// Render builds the call of the request to the member at base (its API
// base URL). The request must have been validated (Profile.Validate).
func (r *Request) Render(base string, v Vars) (Call, error) {
	c := r.c
	if c == nil { // not validated: parse now, for this call only
		var err error
		if c, err = r.compile("request"); err != nil {
			return Call{}, err
		}
	}
	path, err := c.path.Render(v)
	if err != nil {
		return Call{}, err
	}
	call := Call{Method: r.Method, URL: strings.TrimRight(base, "/") + path}
	if r.Body != "" {
		body, err := c.body.Render(v)
		if err != nil {
			return Call{}, err
		}
		call.Body = []byte(body)
	}
	if len(c.headers) > 0 {
		call.Headers = make(map[string]string, len(c.headers))
		for k, t := range c.headers {
			if call.Headers[k], err = t.Render(v); err != nil {
				return Call{}, err
			}
		}
	}
	return call, nil
}

// Describe names the request for messages: "POST /v3/kv/range".
func (r *Request) Describe() string { return r.Method + " " + r.Path }

// Answer is a response as a profile reads it.
type Answer struct {
	Code   int
	Header func(name string) string
	Body   []byte

	doc    any
	parsed bool
}

// JSON returns the body decoded as JSON (nil when it is not JSON).
func (a *Answer) JSON() any {
	if !a.parsed {
		a.parsed = true
		if json.Unmarshal(a.Body, &a.doc) != nil {
			a.doc = nil
		}
	}
	return a.doc
}

// Locator says where something is in an answer: "body" (the whole
// body), "header:NAME", "json:PATH" (a dotted path; a bare PATH means the
// same), "status:CODE" (matches a status), "absent:PATH" (matches when
// the JSON path leads nowhere); a match may compare: "json:PATH=TEXT",
// "header:NAME=TEXT".
type Locator struct {
	kind, arg string
	eq        *string
}

// ParseLocator reads a locator; "" is the zero Locator (not set).
func ParseLocator(s string) (Locator, error) {
	if s == "" {
		return Locator{}, nil
	}
	if s == "body" {
		return Locator{kind: "body"}, nil
	}
	kind, arg, ok := strings.Cut(s, ":")
	if !ok {
		kind, arg = "json", s
	}
	var l Locator
	l.kind = kind
	if a, eq, ok := strings.Cut(arg, "="); ok && (kind == "json" || kind == "header") {
		arg = a
		l.eq = &eq
	}
	l.arg = arg
	switch kind {
	case "json", "header", "absent":
		if arg == "" {
			return Locator{}, fmt.Errorf("%q: %s: needs a name or path after the colon", s, kind)
		}
	case "status":
		if _, err := strconv.Atoi(arg); err != nil {
			return Locator{}, fmt.Errorf("%q: status: needs an HTTP status code", s)
		}
	default:
		return Locator{}, fmt.Errorf("%q: must be body, header:NAME, json:PATH, status:CODE or absent:PATH", s)
	}
	return l, nil
}

// Set reports whether the locator was given.
func (l Locator) Set() bool { return l.kind != "" }

// Text returns the value the locator points at, as text (JSON strings as
// they are, numbers as JSON prints them, null as ""), and whether it is
// there.
func (l Locator) Text(a *Answer) (string, bool) {
	switch l.kind {
	case "body":
		return string(a.Body), true
	case "header":
		v := a.Header(l.arg)
		return v, v != ""
	case "json":
		v, ok := jsonpath.Lookup(a.JSON(), l.arg)
		if !ok {
			return "", false
		}
		return TextOf(v), true
	}
	return "", false
}

// Uint returns the value the locator points at as a whole number (a JSON
// number, or a string of digits as JSON gateways write 64-bit numbers).
func (l Locator) Uint(a *Answer) (uint64, error) {
	s, ok := l.Text(a)
	if !ok {
		return 0, fmt.Errorf("the answer has no %s", l)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f < 0 {
			return 0, fmt.Errorf("%s is %q, not a whole number", l, s)
		}
		v = uint64(f)
	}
	return v, nil
}

// Matches reports whether the answer meets the locator as a condition:
// its status, a path absent, or a value present (and equal, when a
// comparison is given).
func (l Locator) Matches(a *Answer) bool {
	switch l.kind {
	case "status":
		code, _ := strconv.Atoi(l.arg)
		return a.Code == code
	case "absent":
		_, ok := jsonpath.Lookup(a.JSON(), l.arg)
		return !ok
	}
	v, ok := l.Text(a)
	if l.eq != nil {
		return ok && v == *l.eq
	}
	return ok
}

// Outcome reports whether the answer is the outcome the locator names
// (a key not found, a comparison failed): a status locator matches the
// code, any other only a 2xx answer, since an error answer lacks every
// field of a success without saying anything about the key.
func (l Locator) Outcome(a *Answer) bool {
	if l.kind != "status" && a.Code/100 != 2 {
		return false
	}
	return l.Matches(a)
}

func (l Locator) String() string {
	s := l.kind
	if l.arg != "" {
		s += ":" + l.arg
	}
	if l.eq != nil {
		s += "=" + *l.eq
	}
	return s
}

// decodeValue reads a value in an encoding: "" (as it is) or "base64".
func decodeValue(s, encoding string) (string, error) {
	if encoding == "base64" {
		b, err := base64.StdEncoding.DecodeString(s)
		return string(b), err
	}
	return s, nil
}

// TextOf prints a JSON value as conditions compare it: strings as they
// are, null as "", objects as their sorted keys, the rest as JSON.
func TextOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "{" + strings.Join(keys, ",") + "}"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Count is the length of an array or object, or a number's value (a
// string of digits too).
func Count(v any) (float64, bool) {
	switch x := v.(type) {
	case []any:
		return float64(len(x)), true
	case map[string]any:
		return float64(len(x)), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// HeaderOf adapts an http.Header to Answer.Header.
func HeaderOf(h http.Header) func(string) string { return h.Get }
