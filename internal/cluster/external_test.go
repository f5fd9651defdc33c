package cluster

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A member that answers at all is alive, whatever it says of itself; only
// a node that does not answer, or a gateway that cannot reach it, is lost.
func TestExternalProbeTellsDeadFromUnhappy(t *testing.T) {
	status := func(code int) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(s.Close)
		return s
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	tests := []struct {
		name string
		url  string
		lost bool
	}{
		{"healthy", status(http.StatusOK).URL, false},
		{"no leader (503)", status(http.StatusServiceUnavailable).URL, false},
		{"rate-limited (429)", status(http.StatusTooManyRequests).URL, false},
		{"gateway cannot reach it (502)", status(http.StatusBadGateway).URL, true},
		{"connection refused", refused, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewExternal([]string{tt.url}, nil, time.Second)
			c := &external{drv: d, caller: newCaller(0), nodes: []Node{{ID: "node-1", API: tt.url}}}
			errs := c.Probe(context.Background())
			if lost := len(errs) > 0; lost != tt.lost {
				t.Fatalf("Probe = %v, want lost %v", errs, tt.lost)
			}
			if tt.lost && !strings.Contains(errs[0].Error(), "node-1") {
				t.Errorf("the error %q does not name the node", errs[0])
			}
		})
	}
}
