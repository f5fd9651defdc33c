// Package githubactions holds the GitHub Actions example; its test lints
// the workflow with actionlint (a tool of the module: go tool actionlint).
package githubactions

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestWorkflowLints: actionlint, the workflow linter GitHub's own docs
// point to, finds nothing in the example (its expressions, its actions'
// inputs and outputs, its shell scripts' syntax).
func TestWorkflowLints(t *testing.T) {
	out, err := exec.Command("go", "tool", "actionlint", "-no-color", "odbench.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
}

// actionlint fails a workflow that reads an output its step does not
// have: the lint above can fail.
func TestActionlintCatchesABrokenWorkflow(t *testing.T) {
	broken := t.TempDir() + "/broken.yml"
	wf := "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/cache/restore@v4\n        id: c\n" +
		"        with: {path: x, key: k}\n      - if: steps.c.outputs.no-such-output == ''\n        run: echo hi\n"
	if err := os.WriteFile(broken, []byte(wf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "tool", "actionlint", "-no-color", broken).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no-such-output") {
		t.Errorf("actionlint passed a broken workflow: %v\n%s", err, out)
	}
}

// The example installs a pinned odbench, never builds it from a checkout
// of odbench (it lives in another repository), and never floats on @latest.
func TestWorkflowInstallsAPinnedOdbench(t *testing.T) {
	b, err := exec.Command("cat", "odbench.yml").Output()
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.Contains(text, `go install "github.com/odbench/odbench/cmd/odbench@${ODBENCH_VERSION}"`) ||
		strings.Contains(text, "@latest") || strings.Contains(text, "make build") {
		t.Error("the workflow must install odbench at the pinned ODBENCH_VERSION, not build it or take @latest")
	}
}
