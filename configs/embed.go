// Package configs embeds odbench's configuration files into the binary, so
// `--profile quick` and `--target etcd` work from any directory: the run
// profiles (*.yaml) and the target profiles (targets/*.yaml).
package configs

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.yaml targets/*.yaml
var files embed.FS

// Profile returns the named profile's YAML ("quick" reads quick.yaml).
func Profile(name string) ([]byte, bool) {
	b, err := files.ReadFile(name + ".yaml")
	return b, err == nil
}

// Profiles lists the profile names.
func Profiles() []string {
	entries, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if n := strings.TrimSuffix(e.Name(), ".yaml"); n != "benchmark_config" && !strings.HasPrefix(n, "exec-") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Target returns the named target profile's YAML (targets/NAME.yaml).
func Target(name string) ([]byte, bool) {
	if strings.ContainsAny(name, "/\\") {
		return nil, false
	}
	b, err := files.ReadFile("targets/" + name + ".yaml")
	return b, err == nil
}

// Targets lists the target profile names.
func Targets() []string {
	entries, _ := fs.ReadDir(files, "targets")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}
