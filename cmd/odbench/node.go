package main

import "github.com/spf13/cobra"

func newNodeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "node",
		Short:   "Run one embedded reference node (started by the local driver; not available yet)",
		Example: "  odbench node --id n1 --data-dir /tmp/n1 --bind 127.0.0.1 --bootstrap",
		RunE:    notYet("the embedded reference node is planned"),
	}
}
