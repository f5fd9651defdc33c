// Command odbench benchmarks distributed LLM-serving clusters.
package main

import "os"

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}
