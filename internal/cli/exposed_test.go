package cli

import "testing"

func TestExposed(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1": false, "127.0.0.1:8080": false, "[::1]:8080": false, "::1": false,
		"0.0.0.0:8080": true, "[::]:8080": true, "10.0.0.5": true, "example.org:80": true} {
		if got := exposed(addr); got != want {
			t.Errorf("exposed(%q) = %v, want %v", addr, got, want)
		}
	}
}
