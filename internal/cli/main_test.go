package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/odbench/odbench/internal/cluster/netfault"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"odbench": func() { os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// bgCommands are the scripts' background commands, by script and name.
type bgCommands struct {
	mu   sync.Mutex
	cmds map[*testscript.TestScript]map[string]*exec.Cmd
}

var bg = &bgCommands{cmds: map[*testscript.TestScript]map[string]*exec.Cmd{}}

func (b *bgCommands) start(ts *testscript.TestScript, name, bin string, args []string) {
	path, err := exec.LookPath(bin) // the test process's PATH holds odbench
	ts.Check(err)
	cmd := exec.Command(path, args...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = os.Environ()
	for _, kv := range []string{"HOME", "TMPDIR", "ODBENCH_CLUSTER_LOCAL_EXTRA_ARGS"} {
		cmd.Env = append(cmd.Env, kv+"="+ts.Getenv(kv))
	}
	out, err := os.Create(ts.MkAbs(name + ".stdout"))
	ts.Check(err)
	errf, err := os.Create(ts.MkAbs(name + ".stderr"))
	ts.Check(err)
	cmd.Stdout, cmd.Stderr = out, errf
	ts.Check(cmd.Start())
	ts.Defer(func() {
		_ = cmd.Process.Kill() // a script that failed before waitbg leaves nothing running
		_ = cmd.Wait()
		out.Close()
		errf.Close()
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmds[ts] == nil {
		b.cmds[ts] = map[string]*exec.Cmd{}
	}
	b.cmds[ts][name] = cmd
}

func (b *bgCommands) get(ts *testscript.TestScript, name string) *exec.Cmd {
	b.mu.Lock()
	defer b.mu.Unlock()
	cmd := b.cmds[ts][name]
	if cmd == nil {
		ts.Fatalf("no background command %q", name)
	}
	return cmd
}

// etcdMissing says why the etcd scripts cannot run here, or "".
func etcdMissing() string {
	if _, err := exec.LookPath("etcd"); err != nil {
		return "etcd is not installed: apt-get install etcd-server"
	}
	if _, err := netfault.New(); err != nil {
		return "odbench cannot make network faults here: " + err.Error()
	}
	return ""
}

// TestScripts runs the CLI scripts in testdata/script: help, configs,
// exit codes, a real run. Each script runs in its own temp dir.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		// [etcd]: etcd is installed and odbench can make kernel network
		// faults here (root, cgroup v2); $ETCD_MISSING says what is not.
		// With ODBENCH_REQUIRE_FOREIGN_TARGETS set (.ci/run) a missing
		// piece fails the script instead.
		Condition: func(cond string) (bool, error) {
			if cond != "etcd" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			why := etcdMissing()
			if why != "" && os.Getenv("ODBENCH_REQUIRE_FOREIGN_TARGETS") != "" {
				return false, fmt.Errorf("%s (ODBENCH_REQUIRE_FOREIGN_TARGETS is set)", why)
			}
			return why == "", nil
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("ETCD_MISSING", etcdMissing())
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exits CODE CMD ARGS...: run CMD and require exit code CODE
			// ("any" accepts every code); stdout and stderr are kept for
			// the next assertions.
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits CODE CMD [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				if args[0] == "any" {
					want, err = -1, nil
				}
				if err != nil {
					ts.Fatalf("exits: bad code %q", args[0])
				}
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("exits: %v", err)
				}
				if want >= 0 && got != want {
					ts.Fatalf("exit code %d, want %d", got, want)
				}
			},
			// fits N: no line of the last command's stdout is wider than N
			// characters (! fits N: some line is).
			"fits": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: fits WIDTH")
				}
				n, err := strconv.Atoi(args[0])
				ts.Check(err)
				wider := 0
				for i, l := range strings.Split(ts.ReadFile("stdout"), "\n") {
					if c := utf8.RuneCountInString(l); c > n {
						wider++
						if !neg {
							ts.Fatalf("stdout line %d has %d characters, over %d: %q", i+1, c, n, l)
						}
					}
				}
				if neg && wider == 0 {
					ts.Fatalf("every stdout line fits %d characters", n)
				}
			},
			// bg NAME CMD ARGS...: start CMD (on the script's PATH) in the
			// background, its stdout and stderr going to NAME.stdout and
			// NAME.stderr in the work dir as it writes them.
			"bg": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: bg NAME CMD [ARGS...]")
				}
				bg.start(ts, args[0], args[1], args[2:])
			},
			// waitline FILE REGEXP: wait (up to a minute) until FILE holds a
			// line matching REGEXP.
			"waitline": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: waitline FILE REGEXP")
				}
				re, err := regexp.Compile(args[1])
				ts.Check(err)
				for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
					b, _ := os.ReadFile(ts.MkAbs(args[0]))
					if re.Match(b) {
						return
					}
					if time.Now().After(deadline) {
						ts.Fatalf("no line of %s matched %q within a minute; it holds:\n%s", args[0], args[1], b)
					}
				}
			},
			// sigint NAME: send SIGINT to a bg command.
			"sigint": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Check(bg.get(ts, args[0]).Process.Signal(os.Interrupt))
			},
			// waitbg NAME CODE: wait for a bg command and require its exit code.
			"waitbg": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: waitbg NAME CODE")
				}
				cmd := bg.get(ts, args[0])
				err := cmd.Wait()
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("waitbg: %v", err)
				}
				if want, _ := strconv.Atoi(args[1]); got != want {
					ts.Fatalf("%s exited %d, want %s", args[0], got, args[1])
				}
			},
			// results DIR FIELD WANT: the newest results file in DIR has
			// top-level FIELD (status, schema_version, summary.ok...) equal to WANT.
			"results": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: results DIR FIELD WANT")
				}
				entries, err := os.ReadDir(ts.MkAbs(args[0]))
				ts.Check(err)
				var newest string
				for _, e := range entries {
					if !e.IsDir() && len(e.Name()) > 5 && e.Name()[len(e.Name())-5:] == ".json" {
						newest = e.Name()
					}
				}
				if newest == "" {
					ts.Fatalf("no results file in %s", args[0])
				}
				run, err := metrics.ReadRunFile(ts.MkAbs(args[0] + "/" + newest))
				ts.Check(err)
				got := map[string]string{
					"status":         run.Status,
					"schema_version": strconv.Itoa(run.SchemaVersion),
					"summary.ok":     strconv.Itoa(run.Summary.OK),
					"summary.failed": strconv.Itoa(run.Summary.Failed),
					"clusters":       strconv.Itoa(len(run.Clusters)),
				}[args[1]]
				if (got == args[2]) == neg {
					ts.Fatalf("results %s = %q, want %s%q", args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
				}
			},
		},
	})
}
