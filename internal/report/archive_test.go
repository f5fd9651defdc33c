package report

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

func TestArchive(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "odbench-20261129T100000Z.json")
	if err := os.WriteFile(results, []byte(`{"schema_version":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(dir, "odbench-20261129T100000Z", "logs", "size-1")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logs, "n1.log"), []byte("log"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Archive(&buf, results, map[string][]byte{"report.html": []byte("<html>")}); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	want := []string{"odbench-20261129T100000Z.json", "odbench-20261129T100000Z/logs/size-1/n1.log", "reports/report.html"}
	if len(names) != len(want) {
		t.Fatalf("archive holds %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("archive holds %v, want %v", names, want)
		}
	}
}
