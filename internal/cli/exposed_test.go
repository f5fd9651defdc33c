package cli

import (
	"path/filepath"
	"testing"
)

func TestExposed(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1": false, "127.0.0.1:8080": false, "[::1]:8080": false, "::1": false,
		"0.0.0.0:8080": true, "[::]:8080": true, "10.0.0.5": true, "example.org:80": true} {
		if got := exposed(addr); got != want {
			t.Errorf("exposed(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestExampleConfigs: the worked examples load and validate (their data
// files found relative to them).
func TestExampleConfigs(t *testing.T) {
	files, _ := filepath.Glob("../../configs/examples/*.yaml")
	if len(files) < 3 {
		t.Fatalf("examples %v, want three", files)
	}
	for _, f := range files {
		if _, err := LoadConfig("", f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
