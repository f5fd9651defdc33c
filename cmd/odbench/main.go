// Command odbench benchmarks distributed LLM-serving clusters. The CLI
// lives in internal/cli; odbench.Main runs it from a program of one's own
// with more scenarios compiled in.
package main

import (
	"context"
	"os"

	"github.com/odbench/odbench/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
