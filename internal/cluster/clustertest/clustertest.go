// Package clustertest builds the odbench binary once for tests that start
// real `odbench node` processes, and checks for leaked goroutines after
// them. Only tests import it; it does not import the cluster package, so
// that package's own tests can use it.
package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
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

// fasthttpCleaner is the one goroutine fasthttp keeps for the whole
// process once it has dialled: its default dialer's DNS cache cleaner.
const fasthttpCleaner = "github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"

// FindLeaks reports goroutines left running after the tests, except the
// one fasthttp keeps for the whole process. It first waits out fasthttp's
// per-client cleaners, which end about two seconds after Close (goleak's
// own retries wait well under a second).
func FindLeaks() error {
	time.Sleep(2500 * time.Millisecond)
	return goleak.Find(goleak.IgnoreTopFunction(fasthttpCleaner))
}

// MainWithLeakCheck is Main followed by FindLeaks when the tests passed.
func MainWithLeakCheck(m *testing.M) int {
	code := Main(m)
	if code == 0 {
		if err := FindLeaks(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	return code
}
