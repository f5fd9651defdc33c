// Package clustertest builds the odbench binary once for tests that start
// real `odbench node` processes. Only tests import it; it imports nothing
// of odbench, so the cluster package's own tests can use it.
package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Binary is the odbench executable Main built (or ODBENCH_BIN named).
var Binary string

// Main builds odbench (unless ODBENCH_BIN names one), runs the tests and
// removes the build. Call it from TestMain: os.Exit(clustertest.Main(m)).
func Main(m *testing.M) int {
	Binary = os.Getenv("ODBENCH_BIN")
	if Binary == "" {
		dir, err := os.MkdirTemp("", "odbench-test-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		Binary = filepath.Join(dir, "odbench")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..", "..")
		build := exec.Command("go", "build", "-o", Binary, "./cmd/odbench")
		build.Dir = root
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building odbench:", err)
			return 1
		}
	}
	return m.Run()
}
