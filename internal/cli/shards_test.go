package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// TestEmitAndCollect: results files printed as log lines by two shards,
// interleaved and prefixed the way kubectl logs --prefix prints them,
// come back byte for byte; a shard with a line missing is refused.
func TestEmitAndCollect(t *testing.T) {
	dir := t.TempDir()
	var logs [2]bytes.Buffer
	var want [2][]byte
	for i := range 2 {
		// Random text does not compress: the payload needs several lines.
		noise := make([]byte, 20000)
		_, _ = rand.Read(noise)
		run := &metrics.Run{SchemaVersion: metrics.SchemaVersion, Status: metrics.RunComplete,
			Warnings: []string{hex.EncodeToString(noise)}, Shard: &metrics.ShardInfo{Index: i, Count: 2}}
		path := filepath.Join(dir, "r.json")
		if err := metrics.WriteRun(path, run); err != nil {
			t.Fatal(err)
		}
		want[i], _ = os.ReadFile(path)
		if err := emitResults(&logs[i], path, config.Shard{Index: i, Count: 2}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := strings.Split(strings.TrimSpace(logs[0].String()), "\n"), strings.Split(strings.TrimSpace(logs[1].String()), "\n")
	if len(a) < 2 {
		t.Fatalf("%d lines: the payload should need several", len(a))
	}
	var mixed strings.Builder
	for i := 0; i < max(len(a), len(b)); i++ {
		if i < len(a) {
			mixed.WriteString("[pod/odbench-0-abcde/odbench] " + a[i] + "\n")
		}
		mixed.WriteString("[pod/odbench-1-fghij/odbench] odbench: some progress line\n")
		if i < len(b) {
			mixed.WriteString("[pod/odbench-1-fghij/odbench] " + b[i] + "\n")
		}
	}
	files, err := collectResults(strings.NewReader(mixed.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].name != "shard-0-of-2.json" || !bytes.Equal(files[0].data, want[0]) || !bytes.Equal(files[1].data, want[1]) {
		t.Fatalf("collected %d files (%v); want both shards back byte for byte", len(files), names(files))
	}
	broken := strings.Replace(mixed.String(), a[1], "", 1)
	if _, err := collectResults(strings.NewReader(broken)); err == nil || !strings.Contains(err.Error(), "shard 0/2: line 2 of") {
		t.Errorf("a missing line: %v, want it named", err)
	}
}

func names(fs []collected) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.name)
	}
	return out
}
