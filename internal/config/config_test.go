package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings, all must appear
	}{
		{"ok", func(*Config) {}, nil},
		{"short duration", func(c *Config) { c.Execution.Duration = 200 * time.Millisecond },
			[]string{"execution.duration: must be at least 1s, but is 200ms"}},
		{"negative warmup", func(c *Config) { c.Execution.WarmupDuration = -time.Second },
			[]string{"execution.warmup_duration: must not be negative, but is -1s"}},
		{"empty sizes", func(c *Config) { c.System.ClusterSizes = nil },
			[]string{"system.cluster_sizes: must list at least one value"}},
		{"unknown category", func(c *Config) { c.Categories["gpu"] = true },
			[]string{`categories.gpu: unknown category; valid categories are consensus, p2p`}},
		{"all off", func(c *Config) {
			for k := range c.Categories {
				c.Categories[k] = false
			}
		}, []string{"categories: must enable at least one category"}},
		{"external without targets", func(c *Config) { c.Cluster.Driver = "external" },
			[]string{"cluster.targets: must list node URLs"}},
		{"bad target url", func(c *Config) { c.Cluster.Driver, c.Cluster.Targets = "external", []string{"127.0.0.1:80"} },
			[]string{`cluster.targets: must hold http:// or https:// URLs, but is "127.0.0.1:80"`}},
		{"unknown driver", func(c *Config) { c.Cluster.Driver = "k8s" },
			[]string{`cluster.driver: unknown driver "k8s"; valid drivers are local, external`}},
		{"bad alert", func(c *Config) { c.Monitor.Alerts[0].Metric = "cpu"; c.Monitor.Alerts[0].Condition = "=" },
			[]string{`monitor.alerts[0].metric: unknown metric "cpu"`, `monitor.alerts[0].condition: must be ">" or "<"`}},
		{"bad regression metric", func(c *Config) { c.Regression.Metrics["latency"] = 5 },
			[]string{"regression.metrics.latency: unknown metric; valid metrics are throughput"}},
		{"min_samples too few for alpha", func(c *Config) { c.Regression.MinSamples = 3 },
			[]string{"regression.min_samples: with 3 repetitions a side the Mann-Whitney U test can never find a change significant at alpha 0.05 (its smallest p is 0.1); use min_samples 4 or more"}},
		{"alpha too strict for min_samples", func(c *Config) { c.Regression.Alpha, c.Regression.MinSamples = 0.01, 4 },
			[]string{"(its smallest p is 0.0286); use min_samples 5 or more"}},
		{"many at once", func(c *Config) {
			c.Execution.Count = 0
			c.System.ConcurrencyLevels = []int{0}
			c.API.Arrival = "bursty"
		}, []string{"execution.count: must be at least 1, but is 0", "system.concurrency_levels", `api.arrival: must be "constant" or "poisson", but is "bursty"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestCheckFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string
		syntax     bool
	}{
		{"empty", "", nil, false},
		{"known keys", "execution:\n  duration: 5s\ncategories:\n  api: true\ntargets:\n  throughput_rps:\n    \"3\": 250\n", nil, false},
		{"unknown nested", "execution:\n  duration: 5s\n  durration: 5s\n", []string{`f.yaml:3: unknown key "execution.durration"; valid keys here are`}, false},
		{"unknown top", "foo: 1\n", []string{`f.yaml:1: unknown key "foo"`}, false},
		{"two unknown", "a: 1\nb: 2\n", []string{`f.yaml:1: unknown key "a"`, `f.yaml:2: unknown key "b"`}, false},
		{"malformed", "execution:\n  duration: [5s\n", []string{"f.yaml:", "malformed YAML"}, true},
		{"not a mapping", "- 1\n- 2\n", []string{"f.yaml:1:", "top level must be a mapping"}, true},
		{"free map keys", "categories:\n  anything: true\n", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckFile("f.yaml", []byte(tt.yaml))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("CheckFile = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckFile = nil, want an error")
			}
			if errors.Is(err, ErrSyntax) != tt.syntax {
				t.Errorf("errors.Is(err, ErrSyntax) = %v, want %v (err %v)", !tt.syntax, tt.syntax, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("CheckFile = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestCategoryAliases(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Categories = map[string]bool{"api_endpoints": true, "fault_tolerance": false}
	c.NormalizeCategories()
	if !c.Categories["api"] || c.Categories["faults"] || len(c.Categories) != 2 {
		t.Errorf("categories = %v, want api on and faults off", c.Categories)
	}
}

func TestAllKeysCoverStruct(t *testing.T) {
	t.Parallel()
	keys := AllKeys()
	for _, want := range []string{"execution.duration", "execution.warmup_duration", "execution.concurrent_workers", "execution.count",
		"system.cluster_sizes", "system.model_sizes", "system.concurrency_levels", "categories", "targets.throughput_rps",
		"regression.tolerance_percent", "monitor.address", "monitor.alerts", "cluster.driver", "cluster.local.fsync"} {
		found := false
		for _, k := range keys {
			if k == want {
				found = true
			}
		}
		if !found {
			t.Errorf("AllKeys() lacks %q", want)
		}
	}
}

func TestMinUTestP(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]float64{2: 0.3333, 3: 0.1, 4: 0.02857, 5: 0.007937} {
		if got := MinUTestP(n); got < want*0.999 || got > want*1.001 {
			t.Errorf("MinUTestP(%d) = %.5f, want %.5f", n, got, want)
		}
	}
	for _, tt := range []struct {
		n1, n2 int
		want   float64
	}{{3, 5, 2.0 / 56}, {5, 3, 2.0 / 56}, {1, 1, 1}, {4, 6, 2.0 / 210}} {
		if got := MinUTestPOf(tt.n1, tt.n2); got < tt.want*0.999 || got > tt.want*1.001 {
			t.Errorf("MinUTestPOf(%d, %d) = %.5f, want %.5f", tt.n1, tt.n2, got, tt.want)
		}
	}
	for alpha, want := range map[float64]int{0.05: 4, 0.01: 5, 0.1: 4, 0.5: 2} {
		if got := MinUTestSamples(alpha); got != want {
			t.Errorf("MinUTestSamples(%g) = %d, want %d", alpha, got, want)
		}
	}
}

// TestValidateOrderIsStable: the same config gives the same message, in
// the same order, every time (maps are walked sorted).
func TestValidateOrderIsStable(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Categories["gpu"], c.Categories["tpu"], c.Categories["npu"] = true, true, true
	c.Targets.ThroughputRPS = map[string]float64{"x": 1, "y": 2, "z": 3}
	first := c.Validate().Error()
	for i := 0; i < 20; i++ {
		if got := c.Validate().Error(); got != first {
			t.Fatalf("messages changed order:\n%s\n---\n%s", first, got)
		}
	}
}

// FuzzCheckFile: any bytes given as a config file get an error or none,
// never a panic, and a syntax error always names the file.
func FuzzCheckFile(f *testing.F) {
	for _, name := range []string{"benchmark_config", "quick", "full", "ci"} {
		if b, err := os.ReadFile("../../configs/" + name + ".yaml"); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("execution:\n  durationn: 1s\n"))
	f.Add([]byte("execution: [1, 2\n"))
	f.Add([]byte("categories:\n  api: yes\n  gpu: true\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := CheckFile("fuzz.yaml", data)
		if errors.Is(err, ErrSyntax) && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Errorf("syntax error without the file name: %v", err)
		}
	})
}

func TestShardValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shard Shard
		drv   string
		want  string
	}{
		{"local", Shard{Index: 0, Count: 3}, "local", "needs the external driver"},
		{"index", Shard{Index: 3, Count: 3}, "external", "shard.index: must be from 0 to 2"},
		{"start", Shard{Count: 2, StartAt: "at eight"}, "external", "shard.start_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.Cluster.Driver, c.Cluster.Targets = tc.drv, []string{"http://127.0.0.1:1"}
			c.Shard = tc.shard
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	s := Shard{Count: 3}
	var sum int
	for s.Index = 0; s.Index < 3; s.Index++ {
		sum += s.Workers(8)
	}
	if sum != 8 || (Shard{Index: 0, Count: 3}).Workers(8) != 3 || (Shard{Index: 2, Count: 3}).Workers(8) != 2 {
		t.Errorf("8 clients over 3 shards: parts sum to %d, want 3+3+2", sum)
	}
}

func TestCustomScenarioValidation(t *testing.T) {
	dir := t.TempDir()
	csvPath := dir + "/p.csv"
	if err := os.WriteFile(csvPath, []byte("prompt\nhi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := CustomScenario{Name: "kv", Data: csvPath, Operations: []CustomOperation{{Name: "w", CustomRequest: CustomRequest{
		Method: "PUT", Path: "/api/v1/kv/{{.Key}}", Body: `{"p": {{json .Data.prompt}}, "n": {{.Rand 5}}, "s": {{.Seq}}}`}}}}
	c := Default()
	c.Scenarios.Custom = []CustomScenario{good}
	if err := c.Validate(); err != nil {
		t.Fatalf("a good custom scenario: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*CustomScenario)
		want string
	}{
		{"unparsable path", func(s *CustomScenario) { s.Operations[0].Path = "/kv/{{.Key" }, "scenarios.custom[0].operations[0].path"},
		{"unknown variable", func(s *CustomScenario) { s.Operations[0].Body = "{{.Keys}}" }, "can't evaluate field Keys"},
		{"unknown data field", func(s *CustomScenario) { s.Operations[0].Body = "{{.Data.promt}}" }, `map has no entry for key "promt"`},
		{"missing data file", func(s *CustomScenario) { s.Data = dir + "/nope.csv" }, "scenarios.custom[0].data"},
		{"method", func(s *CustomScenario) { s.Operations[0].Method = "FETCH" }, "operations[0].method"},
		{"open without rate", func(s *CustomScenario) { s.Load.Mode = "open" }, "load.rate"},
		{"bad name", func(s *CustomScenario) { s.Name = "a/b" }, "scenarios.custom[0].name"},
		{"json check", func(s *CustomScenario) { s.Operations[0].ExpectJSON = []JSONCheck{{Path: "x"}} }, "expect_json[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			s.Operations = []CustomOperation{good.Operations[0]}
			tc.edit(&s)
			c := Default()
			c.Scenarios.Custom = []CustomScenario{s}
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}
