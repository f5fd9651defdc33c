package scenarios

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
)

// TestCustomExpectStatus checks that the codes a custom operation lists
// decide success, 404 included, and that an answer outside them is an
// error of the right kind.
func TestCustomExpectStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/busy":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		default:
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	cases := []struct {
		path   string
		expect []int
		kind   string // "" for success
	}{
		{"/missing", []int{200, 404}, ""},
		{"/missing", nil, "http_404"},
		{"/busy", []int{200, 404}, "http_503"},
		{"/found", []int{201}, "unexpected_http_200"},
		{"/found", nil, ""},
	}
	for _, c := range cases {
		cr, err := compileRequest(config.CustomRequest{Method: http.MethodGet, Path: c.path, ExpectStatus: c.expect})
		if err != nil {
			t.Fatal(err)
		}
		err = cr.send(context.Background(), srv.Client(), srv.URL, config.CustomVars{})
		got := ""
		if err != nil {
			got = load.Classify(err)
		}
		if got != c.kind {
			t.Errorf("GET %s expecting %v: error kind %q (%v), want %q", c.path, c.expect, got, err, c.kind)
		}
	}
}
