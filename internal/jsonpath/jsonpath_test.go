package jsonpath

import (
	"encoding/json"
	"testing"
)

func TestLookup(t *testing.T) {
	var doc any
	_ = json.Unmarshal([]byte(`{"leader_id":"n1","peers":[{"id":"n1"},{"id":"n2"}],"n":3}`), &doc)
	for path, want := range map[string]any{"leader_id": "n1", "peers.1.id": "n2", ".n.": 3.0} {
		if got, ok := Lookup(doc, path); !ok || got != want {
			t.Errorf("%s: %v %v, want %v", path, got, ok, want)
		}
	}
	for _, path := range []string{"nope", "peers.2", "peers.x", "leader_id.sub", "peers.-1"} {
		if got, ok := Lookup(doc, path); ok {
			t.Errorf("%s: found %v, want nothing", path, got)
		}
	}
}
