package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// Versioner is implemented by drivers that can say which build their
// nodes run, so a results file names the target it measured.
type Versioner interface {
	// Version returns one line naming the nodes' build, or why it cannot.
	Version(ctx context.Context) (string, error)
}

var (
	_ Versioner = (*Starter)(nil)
	_ Versioner = (*External)(nil)
)

// Version asks the first node's GET /api/v1/version.
func (e *External) Version(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	url := e.URLs[0] + "/api/v1/version"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("GET %s answered %s", url, resp.Status)
	}
	// A JSON object is shown compacted ({"version":"1.2.3"}); anything
	// else as its first line.
	var compact bytes.Buffer
	if json.Compact(&compact, bytes.TrimSpace(body)) == nil {
		return clipLine(compact.String()), nil
	}
	return clipLine(string(body)), nil
}

// commandVersion runs argv (no shell) for at most 10 s and returns the
// first line of its output.
func commandVersion(ctx context.Context, argv []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, clipLine(string(out)))
	}
	return clipLine(string(out)), nil
}

func clipLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:199] + "…"
	}
	return s
}
