package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/spf13/cobra"
)

func newMergeCmd(a *app) *cobra.Command {
	var out string
	maxSkew := config.Default().Merge.MaxSkew
	cmd := &cobra.Command{
		Use:   "merge RESULTS RESULTS... -o MERGED",
		Short: "Merge the shards of one plan, or runs made from several load machines, into one run",
		Long: `merge adds up what several load machines measured at the same time against one
external cluster: the shards of one plan (run --shard INDEX/COUNT), or runs of
the same plan. Per operation the HDR histograms are added (exact percentiles,
never averaged), and counts, errors, throughput, the load applied and the
scalars per second summed. Shards must be 0..COUNT-1 of one plan, each once:
a missing, repeated or foreign shard is refused, naming it (exit 2), and so are
runs of different plans. The spread of the shards' window starts is recorded
per scenario; above --max-skew it is warned about, and so is a shard that
started after shard.start_at (shard.late_start: allow). Host, resources, other
scalars and timelines are those of the first machine, and the merged file says
so.

Its exit code is the merged run's verdict, as report gives it: 0 when every
scenario that ran passed, 1 when one failed, 3 when the target could not be
reached or nothing was measured. Shards run with --emit-results exit 0 once
they have reported, so this is where a sharded run's verdict comes from.`,
		Example: `  # three shards of one plan, run at once (see deploy/kubernetes for a Job):
  odbench run --shard 0/3 --start-at 2026-11-30T08:00:00Z --targets http://10.0.0.5:8080 --results-dir out
  odbench merge shard-0.json shard-1.json shard-2.json -o merged.json
  odbench report merged.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError(fmt.Errorf("merge needs at least two results files, got %d", len(args)))
			}
			if out == "" {
				return usageError(errors.New("merge needs -o FILE for the merged results"))
			}
			var runs []*metrics.Run
			for _, p := range args {
				run, err := readResults(p)
				if err != nil {
					return err
				}
				runs = append(runs, run)
			}
			merged, err := metrics.Merge(runs, args, metrics.MergeOptions{MaxSkew: maxSkew})
			if errors.Is(err, metrics.ErrPlanMismatch) || errors.Is(err, metrics.ErrShards) {
				return usageError(err)
			}
			if err != nil {
				return err
			}
			if err := metrics.WriteRun(out, merged); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merged %d runs into %s\n", len(runs), out)
			for i, r := range runs {
				if r.Shard != nil && r.Shard.LateMs > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "odbench: warning: %s (shard %d) started %.1f s after shard.start_at: its first scenarios ran late on the shared clock\n",
						args[i], r.Shard.Index, r.Shard.LateMs/1000)
				}
			}
			for _, c := range merged.Clusters {
				for _, s := range c.Scenarios {
					for _, w := range s.Warnings {
						if strings.Contains(w, "merge.max_skew") {
							fmt.Fprintf(cmd.ErrOrStderr(), "odbench: warning: %d nodes %s: %s\n", c.Size, s.Name, w)
						}
					}
				}
			}
			return runVerdict(merged, out)
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "the merged results file")
	cmd.Flags().DurationVar(&maxSkew, "max-skew", maxSkew, "warn about scenarios whose shards' measured windows started further apart (merge.max_skew)")
	return cmd
}

// resultsMarker starts the lines run --emit-results prints: the results
// file, gzipped, in base64 chunks short enough for any log pipeline.
const resultsMarker = "odbench-results v1"

// chunkLen bounds one emitted line's payload (container runtimes split
// longer log lines).
const chunkLen = 8000

// emitResults prints the results file at path as marker lines:
// "odbench-results v1 INDEX/COUNT SEQ/TOTAL PAYLOAD".
func emitResults(w io.Writer, path string, shard config.Shard) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(b); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	payload := base64.StdEncoding.EncodeToString(gz.Bytes())
	total := (len(payload) + chunkLen - 1) / chunkLen
	count := max(shard.Count, 1)
	for i := 0; i < total; i++ {
		chunk := payload[i*chunkLen : min((i+1)*chunkLen, len(payload))]
		fmt.Fprintf(w, "%s %d/%d %d/%d %s\n", resultsMarker, shard.Index, count, i+1, total, chunk)
	}
	return nil
}

func newCollectCmd(a *app) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "collect [LOG...] -o DIR",
		Short: "Gather the results files that shards printed into their logs (run --emit-results)",
		Long: `collect reads logs (files, or standard input) for the lines odbench run
--emit-results prints, reassembles each shard's results file from them and
writes it to DIR as shard-INDEX-of-COUNT.json, ready for odbench merge. It needs
nothing but the logs, so it works with any Kubernetes cluster: pipe kubectl logs
into it. A shard whose lines are incomplete is refused, naming it.`,
		Example: `  kubectl logs -l job-name=odbench --tail=-1 --max-log-requests 64 | odbench collect -o shards
  odbench merge shards/*.json -o merged.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usageError(errors.New("collect needs -o DIR for the results files"))
			}
			var readers []io.Reader
			for _, p := range args {
				f, err := os.Open(p)
				if err != nil {
					return usageError(err)
				}
				defer f.Close()
				readers = append(readers, f)
			}
			if len(readers) == 0 {
				readers = []io.Reader{cmd.InOrStdin()}
			}
			files, err := collectResults(io.MultiReader(readers...))
			if err != nil {
				return usageError(err)
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			var written []string
			for _, f := range files {
				path := filepath.Join(out, f.name)
				if err := os.WriteFile(path, f.data, 0o644); err != nil {
					return err
				}
				written = append(written, path)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "collected %d results files: %s\n", len(written), strings.Join(written, ", "))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "the directory to write the results files into")
	return cmd
}

type collected struct {
	name string
	data []byte
}

// collectResults reassembles the results files emitted into r.
func collectResults(r io.Reader) ([]collected, error) {
	type parts struct {
		total  int
		chunks map[int]string
	}
	byShard := map[string]*parts{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, resultsMarker)
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i+len(resultsMarker):])
		if len(f) != 3 {
			return nil, fmt.Errorf("a results line with %d fields, want 3: %.80s", len(f), line)
		}
		seq, total, ok := fraction(f[1])
		if !ok || seq < 1 || seq > total {
			return nil, fmt.Errorf("a results line numbered %q", f[1])
		}
		p := byShard[f[0]]
		if p == nil {
			p = &parts{total: total, chunks: map[int]string{}}
			byShard[f[0]] = p
		}
		p.chunks[seq] = f[2]
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(byShard) == 0 {
		return nil, errors.New("no results lines (" + resultsMarker + " ...) in the logs: did the runs use --emit-results?")
	}
	var keys []string
	for k := range byShard {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []collected
	for _, k := range keys {
		p := byShard[k]
		var b strings.Builder
		for i := 1; i <= p.total; i++ {
			c, ok := p.chunks[i]
			if !ok {
				return nil, fmt.Errorf("shard %s: line %d of %d is missing from the logs", k, i, p.total)
			}
			b.WriteString(c)
		}
		gz, err := base64.StdEncoding.DecodeString(b.String())
		if err != nil {
			return nil, fmt.Errorf("shard %s: %v", k, err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return nil, fmt.Errorf("shard %s: %v", k, err)
		}
		data, err := io.ReadAll(io.LimitReader(zr, 256<<20))
		if err != nil {
			return nil, fmt.Errorf("shard %s: %v", k, err)
		}
		if _, err := metrics.ReadRun(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("shard %s: %v", k, err)
		}
		idx, count, _ := fraction(k)
		out = append(out, collected{name: fmt.Sprintf("shard-%d-of-%d.json", idx, count), data: data})
	}
	return out, nil
}

// fraction parses "A/B".
func fraction(s string) (int, int, bool) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, false
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(b)
	return x, y, err1 == nil && err2 == nil
}

// shardFromEnv is the shard index a Kubernetes Indexed Job gives its pod.
func shardFromEnv() (int, error) {
	v := os.Getenv("JOB_COMPLETION_INDEX")
	if v == "" {
		return 0, errors.New("--shard-count (or ODBENCH_SHARD_COUNT) without --shard: the index comes from JOB_COMPLETION_INDEX, which is not set")
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("JOB_COMPLETION_INDEX %q is not a whole number", v)
	}
	return i, nil
}

func newShardStartCmd() *cobra.Command {
	in := 90 * time.Second
	cmd := &cobra.Command{
		Use:   "shard-start",
		Short: "Print an instant for shard.start_at: now plus --in, in UTC, to the second",
		Long: `shard-start prints the RFC 3339 instant --in from now (rounded up to the
second, UTC), for shard.start_at or --start-at: every shard of a plan starts
then. It does the date arithmetic the same way on Linux and macOS:

  kubectl create configmap odbench-start --from-literal=start_at=$(odbench shard-start --in 90s)

Leave room for the shards' images to be pulled and their pods scheduled: a
shard that finds the instant already passed refuses to start (exit 2), unless
shard.late_start is allow.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in < 0 {
				return usageError(fmt.Errorf("--in must not be negative, but is %v", in))
			}
			at := time.Now().UTC().Add(in)
			if at.Nanosecond() > 0 {
				at = at.Truncate(time.Second).Add(time.Second)
			}
			fmt.Fprintln(cmd.OutOrStdout(), at.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().DurationVar(&in, "in", in, "how far from now")
	return cmd
}
