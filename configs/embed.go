// Package configs embeds odbench's configuration files into the binary, so
// `--profile quick` works from any directory.
package configs

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.yaml
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
		if n := strings.TrimSuffix(e.Name(), ".yaml"); n != "benchmark_config" && !strings.HasPrefix(n, "exec-") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
