package node

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCommandCodec(t *testing.T) {
	for _, c := range []Command{
		{Op: opPut, Key: "k", Value: []byte("v")},
		{Op: opPut, Key: "a/b c", Value: bytes.Repeat([]byte{0, 1, 255}, 100)},
		{Op: opPut, Key: "empty"},
		{Op: opDelete, Key: "k"},
		{Op: opCAS, Key: "k", Value: []byte("x"), ExpectVersion: 1 << 40},
		{Op: opDrain, NodeID: "n2"},
	} {
		b, err := encodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		if kv := c.Op == opPut || c.Op == opDelete || c.Op == opCAS; kv != (b[0] == kvTag) {
			t.Errorf("%s: encoded as %q", c.Op, b[:1])
		}
		got, err := decodeCommand(b)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		want, _ := json.Marshal(c)
		have, _ := json.Marshal(got)
		if !bytes.Equal(want, have) {
			t.Errorf("round trip: %s, want %s", have, want)
		}
	}
	// A log written before the binary form (JSON) still applies.
	old, _ := json.Marshal(Command{Op: opPut, Key: "k", Value: []byte("v")})
	if c, err := decodeCommand(old); err != nil || c.Key != "k" || string(c.Value) != "v" {
		t.Errorf("a JSON put: %+v %v", c, err)
	}
}

// TestEncodePut: a put encoded from its body, length known or not, is
// the command encodeCommand writes; a body shorter than announced fails.
func TestEncodePut(t *testing.T) {
	for _, v := range [][]byte{nil, []byte("v"), bytes.Repeat([]byte{0, 1, 255}, 100)} {
		want, _ := encodeCommand(Command{Op: opPut, Key: "a/b c", Value: v})
		for _, size := range []int64{int64(len(v)), -1} {
			got, err := encodePut("a/b c", bytes.NewReader(v), size)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("value %q, size %d: %q %v; want %q", v, size, got, err, want)
			}
		}
	}
	if _, err := encodePut("k", strings.NewReader("ab"), 3); err == nil {
		t.Error("a body shorter than its length was encoded")
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range []Command{{Op: opPut, Key: "k", Value: []byte("v")}, {Op: opCAS, Key: "k", ExpectVersion: 7}, {Op: opDrain, NodeID: "n"}} {
		b, _ := encodeCommand(c)
		f.Add(b)
	}
	f.Add([]byte{kvTag})
	f.Add([]byte{kvTag, 'p', 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommand(b) // must not panic
		if err == nil && b[0] == kvTag {
			again, err := encodeCommand(c)
			if err != nil {
				t.Fatal(err)
			}
			if c2, err := decodeCommand(again); err != nil || c2.Key != c.Key || !bytes.Equal(c2.Value, c.Value) {
				t.Fatalf("re-encoding %q changed it", b)
			}
		}
	})
}

// FuzzCheckEncoded: what checkEncoded lets into the log, the FSM applies
// without refusing it (decoded and valid); it never panics.
func FuzzCheckEncoded(f *testing.F) {
	for _, c := range []Command{{Op: opPut, Key: "k", Value: []byte("v")}, {Op: opDelete, Key: "k"}, {Op: opDrain, NodeID: "n"}, {Op: opPut}} {
		b, _ := encodeCommand(c)
		f.Add(b)
	}
	f.Add([]byte(`{"op":"launch"}`))
	f.Add([]byte{kvTag, 'p', 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkEncoded(b) != nil {
			return
		}
		c, err := decodeCommand(b)
		if err != nil {
			t.Fatalf("checkEncoded passed %q, which does not decode: %v", b, err)
		}
		if err := c.validate(); err != nil {
			t.Fatalf("checkEncoded passed %q, which the FSM refuses: %v", b, err)
		}
	})
}

// FuzzDecodeBody: the admin routes' strict decoder answers any body with a
// 4xx or accepts a single JSON object, and never panics.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{`{"drop":["a"]}`, `{"drop":[]} x`, `null`, `{"dropp":1}`, `{"links":{"a":{"delay":"1ms"}}}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/api/v1/admin/faults", bytes.NewReader(b))
		var req FaultRequest
		ok := decodeStrict(w, r, &req)
		if ok != (w.Code == http.StatusOK) || (!ok && (w.Code < 400 || w.Code >= 500)) {
			t.Fatalf("body %q: decoded %v, answered %d", b, ok, w.Code)
		}
		if ok {
			if trimmed := bytes.TrimSpace(b); len(trimmed) == 0 || trimmed[0] != '{' {
				t.Fatalf("accepted %q, which is not a JSON object", b)
			}
		}
	})
}
