package odbench_test

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/odbench/odbench/odbench"
)

// A program of one's own: one more scenario, then the whole odbench CLI.
func ExampleRegister() {
	odbench.Register(odbench.Scenario{
		Name: "models_list/clients=8",
		Run: func(ctx context.Context, env *odbench.Env, c odbench.Cluster) error {
			base := c.Nodes()[0].API
			_, err := env.Closed(ctx, 8, odbench.Operation{Name: "list", Do: func(ctx context.Context) error {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/models", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusNotFound {
					return odbench.Skip("the target has no models API")
				}
				return nil
			}})
			return err
		},
	})
	if len(os.Args) > 1 && os.Args[1] == "run" { // in a real main: os.Exit(odbench.Main())
		os.Exit(odbench.Main())
	}
}

// Reading a results file, as `odbench report` does.
func ExampleReadResults() {
	run, err := odbench.ReadResults("../internal/report/testdata/results-quick.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range run.Clusters {
		for _, s := range c.Scenarios {
			if s.Name == "loadbalance/saturation" {
				fmt.Printf("%d nodes %s: %s\n", c.Size, s.Name, s.Status)
			}
		}
	}
	// Output:
	// 1 nodes loadbalance/saturation: ok
	// 3 nodes loadbalance/saturation: ok
}

// Comparing two runs with the configured rules, as `odbench compare` does.
func ExampleCompare() {
	run, err := odbench.ReadResults("../internal/report/testdata/results-quick.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	cmp, err := odbench.Compare(run, run, odbench.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("regressions:", cmp.Failures())
	// Output:
	// regressions: 0
}
