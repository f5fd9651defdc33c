package report

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ArchiveName is the older framework's archive name for a run started at t.
func ArchiveName(t time.Time) string {
	return "benchmark_results_" + t.UTC().Format("20060102T150405Z") + ".tar.gz"
}

// Archive writes a gzipped tar holding the results file, the run's folder
// beside it (node logs, goroutine dumps) when there is one, and extra
// files (rendered reports) under reports/.
func Archive(w io.Writer, resultsPath string, extra map[string][]byte) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	base := strings.TrimSuffix(filepath.Base(resultsPath), ".json")
	if err := addFile(tw, resultsPath, filepath.Base(resultsPath)); err != nil {
		return err
	}
	runDir := strings.TrimSuffix(resultsPath, ".json")
	if info, err := os.Stat(runDir); err == nil && info.IsDir() {
		err := filepath.WalkDir(runDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(runDir, path)
			if err != nil {
				return err
			}
			return addFile(tw, path, filepath.ToSlash(filepath.Join(base, rel)))
		})
		if err != nil {
			return err
		}
	}
	names := make([]string, 0, len(extra))
	for n := range extra {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		hdr := &tar.Header{Name: "reports/" + n, Mode: 0o644, Size: int64(len(extra[n])), ModTime: time.Now()}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(extra[n]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func addFile(tw *tar.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	hdr, err := tar.FileInfoHeader(info, "")
	if err != nil {
		return err
	}
	hdr.Name = name
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
