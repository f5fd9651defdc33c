package target

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuiltinProfilesLoad(t *testing.T) {
	names := Builtin()
	for _, want := range []string{"etcd", "etcd-serializable-reads", "odbench-node"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("no built-in profile %q in %v", want, names)
		}
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			p, err := Load(n)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != n || p.Source != "built-in" {
				t.Errorf("name %q source %q", p.Name, p.Source)
			}
		})
	}
}

func TestUnknownKeysNameTheirLine(t *testing.T) {
	_, err := Parse("bad.yaml", []byte("name: x\nstart:\n  comand: [x]\n"))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `bad.yaml:3: unknown key "comand"; valid keys here are api, capture, command,`) {
		t.Fatalf("error %v, want bad.yaml:3 naming comand", err)
	}
	_, err = Load("no-such-system")
	if !errors.Is(err, ErrUnknown) || !strings.Contains(err.Error(), "etcd") {
		t.Errorf("unknown name: %v, want the built-in names listed", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := Parse("p.yaml", []byte(`
name: x
start: {command: ["{{.Nope"], ports: [Bad], order: sideways}
kv:
  put: {method: FETCH, path: nope}
  get: {method: GET, path: /k}
  delete: {method: DELETE, path: /k}
faults: {network: magic}
rate_limit: lots
`))
	for _, want := range []string{"start.command[0]", `start.ports: "Bad"`, "start.order", "start.node_ready", "kv.put.method", "kv.put.path",
		"kv.put.version: must be set", "kv.get.value: must be set", "faults.network", "rate_limit"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// A profile based on another keeps the base's keys it does not set, and
// merges mappings key by key: the negative control changes etcd's get and
// nothing else.
func TestBaseMerges(t *testing.T) {
	p, err := Load("etcd-serializable-reads")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := Load("etcd")
	if !strings.Contains(p.KV.Get.Body, "serializable") || strings.Contains(base.KV.Get.Body, "serializable") {
		t.Errorf("get bodies: %q (variant) %q (base)", p.KV.Get.Body, base.KV.Get.Body)
	}
	if p.KV.Put.Body != base.KV.Put.Body || p.Start == nil || len(p.Start.Command) != len(base.Start.Command) {
		t.Error("the variant lost keys of its base")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(file, []byte("base: etcd\nname: mine\nrate_limit: 10/s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mine, err := Load(file)
	if err != nil || mine.RateLimit != "10/s" || mine.KV == nil {
		t.Errorf("a file based on a built-in: %+v, %v", mine, err)
	}
}

func TestEtcdStaticMembershipRenders(t *testing.T) {
	p, _ := Load("etcd")
	members := []Member{{ID: "n1", Index: 1, Ports: map[string]int{"client": 1001, "peer": 2001}},
		{ID: "n2", Index: 2, Ports: map[string]int{"client": 1002, "peer": 2002}}}
	tmpl, err := ParseTemplate("x", p.Start.Command[7])
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.Render(MemberVars{Member: members[1], Members: members, Size: 2})
	if err != nil || got != "--initial-cluster=n1=http://127.0.0.1:2001,n2=http://127.0.0.1:2002" {
		t.Errorf("rendered %q, %v", got, err)
	}
}

func answer(code int, body string, header map[string]string) *Answer {
	return &Answer{Code: code, Body: []byte(body), Header: func(k string) string { return header[k] }}
}

// The etcd profile reads etcd's JSON gateway answers, as etcd 3.4
// wrote them here: 64-bit numbers as strings, values in base64, absent
// fields for empty results and false.
func TestEtcdAnswersRead(t *testing.T) {
	p, _ := Load("etcd")
	call, err := p.KV.Put.Render("http://127.0.0.1:1", Vars{Key: "foo", Value: "bar"})
	if err != nil || call.Method != http.MethodPost || call.URL != "http://127.0.0.1:1/v3/kv/put" || string(call.Body) != `{"key":"Zm9v","value":"YmFy"}` {
		t.Errorf("put call %+v %v", call, err)
	}
	if v, err := p.KV.Put.Written(answer(200, `{"header":{"revision":"2","raft_term":"2"}}`, nil)); v != 2 || err != nil {
		t.Errorf("put version %d %v", v, err)
	}
	value, version, found, err := p.KV.Get.Read(answer(200, `{"header":{"revision":"2"},"kvs":[{"key":"Zm9v","mod_revision":"2","value":"YmFy"}],"count":"1"}`, nil))
	if value != "bar" || version != 2 || !found || err != nil {
		t.Errorf("get: %q %d %v %v", value, version, found, err)
	}
	if _, _, found, err := p.KV.Get.Read(answer(200, `{"header":{"revision":"2"}}`, nil)); found || err != nil {
		t.Errorf("get of a missing key: found %v %v", found, err)
	}
	for _, tt := range []struct {
		body     string
		version  uint64
		conflict bool
	}{
		{`{"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":{"header":{"revision":"3"}}}]}`, 3, false},
		{`{"header":{"revision":"3"},"responses":[{"response_range":{"kvs":[{"mod_revision":"3"}],"count":"1"}}]}`, 3, true},
		{`{"header":{"revision":"3"},"responses":[{"response_range":{"header":{"revision":"3"}}}]}`, 0, true},
	} {
		v, conflict, err := p.KV.CAS.Compared(answer(200, tt.body, nil))
		if v != tt.version || conflict != tt.conflict || err != nil {
			t.Errorf("cas %s: %d %v %v, want %d %v", tt.body, v, conflict, err, tt.version, tt.conflict)
		}
	}
	// An error answer lacks kvs and succeeded too, but says nothing of the
	// key: not "not found", not a failed comparison (etcd's gateway, as a
	// member answered here while it was cut off from the majority).
	timedOut := answer(503, `{"error":"etcdserver: request timed out","message":"etcdserver: request timed out","code":14}`, nil)
	if p.KV.Get.IsNotFound(timedOut) || p.KV.CAS.IsConflict(timedOut) {
		t.Errorf("an error answer read as not found (%v) or as a failed comparison (%v)", p.KV.Get.IsNotFound(timedOut), p.KV.CAS.IsConflict(timedOut))
	}
	call, _ = p.KV.CAS.Render("", Vars{Key: "k", Value: "v"})
	if !strings.Contains(string(call.Body), `"target":"CREATE"`) {
		t.Errorf("cas expecting no key: %s", call.Body)
	}
}

func TestNodeAnswersRead(t *testing.T) {
	p, _ := Load("odbench-node")
	_, version, found, err := p.KV.Get.Read(answer(200, "value", map[string]string{"X-Version": "7"}))
	if version != 7 || !found || err != nil {
		t.Errorf("get: %d %v %v", version, found, err)
	}
	if !p.KV.Get.IsNotFound(answer(404, `{"error":"not found"}`, nil)) {
		t.Error("a 404 is not found")
	}
	v, conflict, err := p.KV.CAS.Compared(answer(409, `{"error":"version mismatch","version":9}`, nil))
	if v != 9 || !conflict || err != nil {
		t.Errorf("cas conflict: %d %v %v", v, conflict, err)
	}
	if !p.KV.Put.IsNotApplied(answer(503, "", map[string]string{"X-Not-Applied": "true"})) {
		t.Error("X-Not-Applied: true is not applied")
	}
}

func TestLocators(t *testing.T) {
	for _, bad := range []string{"weird:x", "json:", "status:abc"} {
		if _, err := ParseLocator(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	a := answer(200, `{"a":{"b":["x","5"]},"ok":true}`, map[string]string{"H": "v"})
	for loc, want := range map[string]bool{"json:a.b.0=x": true, "a.b.1": true, "absent:a.c": true, "absent:ok": false,
		"json:ok=true": true, "header:H=v": true, "header:H=w": false, "status:200": true} {
		l, err := ParseLocator(loc)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Matches(a); got != want {
			t.Errorf("%s matches %v, want %v", loc, got, want)
		}
	}
	l, _ := ParseLocator("a.b.1")
	if v, err := l.Uint(a); v != 5 || err != nil {
		t.Errorf("uint %d %v", v, err)
	}
}

// FuzzParse: no profile text makes Parse panic.
func FuzzParse(f *testing.F) {
	for _, n := range Builtin() {
		b, _ := os.ReadFile(filepath.Join("..", "..", "configs", "targets", n+".yaml"))
		f.Add(b)
	}
	f.Add([]byte("name: x\nkv: {put: {method: GET}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parse("fuzz.yaml", b)
	})
}
