package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Sentinel errors of reading results files.
var (
	// ErrNotResults: the input is not an odbench results file.
	ErrNotResults = errors.New("not an odbench results file")
	// ErrNewerSchema: the file was written by a newer odbench.
	ErrNewerSchema = errors.New("results file schema is newer than this odbench")
)

// maxResultsBytes bounds a results file read into memory (256 MiB).
const maxResultsBytes = 256 << 20

// ReadRun decodes a results file, refusing unknown or newer schema versions.
func ReadRun(r io.Reader) (*Run, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxResultsBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxResultsBytes {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrNotResults, maxResultsBytes>>20)
	}
	var head struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotResults, err)
	}
	switch {
	case head.SchemaVersion == nil:
		return nil, fmt.Errorf("%w: no schema_version field", ErrNotResults)
	case *head.SchemaVersion > SchemaVersion:
		return nil, fmt.Errorf("%w: the file has schema_version %d, but this odbench reads up to %d; upgrade odbench",
			ErrNewerSchema, *head.SchemaVersion, SchemaVersion)
	case *head.SchemaVersion < 1:
		return nil, fmt.Errorf("%w: schema_version %d is not a version odbench ever wrote (1..%d)",
			ErrNotResults, *head.SchemaVersion, SchemaVersion)
	}
	var run Run
	if err := json.Unmarshal(data, &run); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotResults, err)
	}
	upgrade(&run)
	return &run, nil
}

// ReadRunFile reads a results file from disk; errors name the file.
func ReadRunFile(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	run, err := ReadRun(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return run, nil
}

// NewestResults returns the newest odbench results file in dir (by the
// UTC timestamp in its name).
func NewestResults(dir string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "odbench-*.json"))
	if err != nil {
		return "", err
	}
	if len(matches) == 0 {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return "", fmt.Errorf("the results directory %s does not exist: run odbench run first", dir)
		}
		return "", fmt.Errorf("%s holds no odbench results file (odbench-<time>.json)", dir)
	}
	sort.Strings(matches) // the names sort by time
	return matches[len(matches)-1], nil
}

// ResultsFileName returns the name of a results file started at t.
func ResultsFileName(t time.Time) string {
	return "odbench-" + t.UTC().Format("20060102T150405Z") + ".json"
}

// WriteRun writes run as indented JSON to path atomically: a temp file in
// the same directory is written, synced and renamed, so readers never see
// half a file and a failure leaves nothing behind.
func WriteRun(path string, run *Run) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".odbench-*.json.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	enc := json.NewEncoder(tmp)
	enc.SetIndent("", "  ")
	if err = enc.Encode(run); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Float returns a pointer to v, for Scalar values.
func Float(v float64) *float64 { return &v }
