package report

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// buildLine names what measured a run and what it measured: the odbench
// build, the host, and the target's build.
func buildLine(run *metrics.Run) string {
	t := run.Tool
	tool := "odbench " + t.Version
	switch {
	case t.Commit == "":
		tool += " (commit unknown)"
	case t.Modified:
		tool += " (" + shortCommit(t.Commit) + " with uncommitted changes)"
	default:
		tool += " (" + shortCommit(t.Commit) + ")"
	}
	target := run.Target.Version
	if target == "" {
		target = "build unknown"
		if run.Target.VersionReason != "" {
			target += ": " + run.Target.VersionReason
		}
	}
	return fmt.Sprintf("%s on %s (%d cores); target %s, %s", tool, run.Host.Hostname, run.Host.Cores, run.Target.Driver, target)
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// sameSettingsIgnored are config keys that may differ between two runs
// without making their numbers incomparable: the seed, the repetitions,
// the selection of scenarios (compare matches what both ran), and the
// settings of judging and watching rather than of measuring.
var sameSettingsIgnored = []string{"execution.seed", "execution.count", "execution.scenarios", "execution.fail_fast",
	"categories.", "regression.", "monitor.", "targets."}

// provenanceWarnings says what makes two runs less comparable than they
// look: different hosts, core counts or measuring settings.
func provenanceWarnings(base, cur *metrics.Run) []string {
	var out []string
	if base.Host.Hostname != cur.Host.Hostname {
		out = append(out, fmt.Sprintf("the runs come from different hosts (%s and %s): a change may be the machine's", base.Host.Hostname, cur.Host.Hostname))
	}
	if base.Host.Cores != cur.Host.Cores {
		out = append(out, fmt.Sprintf("the runs had different core counts (%d and %d)", base.Host.Cores, cur.Host.Cores))
	}
	for _, side := range []struct {
		name string
		run  *metrics.Run
	}{{"the baseline", base}, {"the current run", cur}} {
		for _, c := range side.run.Clusters {
			if c.Unformed != "" {
				out = append(out, fmt.Sprintf("%s measured a cluster of %d that did not form (--allow-unformed): its numbers may describe nodes that are not one cluster", side.name, c.Size))
			}
			if c.Restarts > 0 {
				out = append(out, fmt.Sprintf("%s restarted its cluster of %d %d time(s) after a node died", side.name, c.Size, c.Restarts))
			}
		}
	}
	if diff := configDiff(base.Config, cur.Config); len(diff) > 0 {
		if len(diff) > 6 {
			diff = append(diff[:6], fmt.Sprintf("and %d more", len(diff)-6))
		}
		out = append(out, "the runs measured with different settings: "+strings.Join(diff, "; "))
	}
	return out
}

// configDiff lists the dotted keys whose values differ between two
// recorded configurations, as "key (a vs b)".
func configDiff(a, b any) []string {
	fa, fb := flatten(a), flatten(b)
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		ignored := false
		for _, p := range sameSettingsIgnored {
			ignored = ignored || k == p || (strings.HasSuffix(p, ".") && strings.HasPrefix(k, p))
		}
		if !ignored && fa[k] != fb[k] {
			out = append(out, fmt.Sprintf("%s (%s vs %s)", k, orNone(fa[k]), orNone(fb[k])))
		}
	}
	sort.Strings(out)
	return out
}

func orNone(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

// flatten turns a recorded configuration into dotted keys and printed
// values: decoded into config.Config when it is one (durations print as
// 10s), else walked as JSON.
func flatten(v any) map[string]string {
	out := map[string]string{}
	b, err := json.Marshal(v)
	if err != nil {
		return out
	}
	cfg := config.Default()
	if json.Unmarshal(b, &cfg) == nil {
		walkValue("", reflect.ValueOf(cfg), out)
		return out
	}
	var tree any
	if json.Unmarshal(b, &tree) == nil {
		walkValue("", reflect.ValueOf(tree), out)
	}
	return out
}

var durationType = reflect.TypeOf(time.Duration(0))

func walkValue(prefix string, v reflect.Value, out map[string]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	for v.IsValid() && v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	if !v.IsValid() || (v.Kind() == reflect.Interface && v.IsNil()) {
		out[prefix] = "null"
		return
	}
	switch {
	case v.Type() == durationType:
		out[prefix] = time.Duration(v.Int()).String()
	case v.Kind() == reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			name := strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			walkValue(join(name), v.Field(i), out)
		}
	case v.Kind() == reflect.Map && v.Len() > 0:
		for _, k := range v.MapKeys() {
			walkValue(join(fmt.Sprint(k.Interface())), v.MapIndex(k), out)
		}
	default:
		out[prefix] = fmt.Sprint(v.Interface())
	}
}
