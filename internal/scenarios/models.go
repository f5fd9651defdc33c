package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/target"
)

// modelScenarios measure model distribution for every size in
// system.model_sizes: one node pulling a model from the node that holds it
// (parallel range requests, digest verified), every other node pulling at
// once (replication), and many clients reading blob ranges concurrently.
func modelScenarios(cfg *config.Config) []Spec {
	var out []Spec
	for _, mb := range cfg.System.ModelSizes {
		out = append(out,
			Spec{Name: fmt.Sprintf("models/download/size=%dMB", mb), MinNodes: 2, Params: map[string]string{"size_mb": itoa(mb)},
				Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
					return runDistribution(ctx, env, c, mb, false)
				}},
			Spec{Name: fmt.Sprintf("models/replication/size=%dMB", mb), MinNodes: 2, Params: map[string]string{"size_mb": itoa(mb)},
				Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
					return runDistribution(ctx, env, c, mb, true)
				}},
		)
	}
	w := cfg.Execution.ConcurrentWorkers
	out = append(out, Spec{Name: fmt.Sprintf("models/blob_access/clients=%d", w), Params: map[string]string{"clients": itoa(w), "range": "1MiB"},
		Run: func(ctx context.Context, env *Env, c cluster.Cluster) error { return runBlobAccess(ctx, env, c, w) }})
	return out
}

// runDistribution repeats, for the configured time: create a model of mb
// MB (10^6 bytes, as system.model_sizes says) on the first node (not
// timed), pull it on one other node in turn or on every other node at once
// (timed), delete it.
func runDistribution(ctx context.Context, env *Env, c cluster.Cluster, mb int, all bool) error {
	ctl := load.NewFastClient(16, 10*time.Minute) // a pull of a large model takes long
	defer ctl.Close()
	api := env.API(ctl)
	nodes := c.Nodes()
	size := int64(mb) * 1e6
	keys := newKeySpace(env, 1<<30)
	opName := "download"
	if all {
		opName = "replicate_to_all"
	}
	aux := metrics.NewRecorder(1, false)
	aux.CountWindow()
	start := time.Now()
	measureFrom := start.Add(env.Warmup)
	end := measureFrom.Add(env.Duration)
	aux.Start(measureFrom)
	var bytes int64
	var pullTime time.Duration
	for i := 0; time.Now().Before(end) || i == 0; i++ {
		name := keys.nextKey()
		if err := api.CreateModel(ctx, nodes[0].API, name, size); errors.Is(err, ErrUnsupported) {
			return Skip("the target cannot create models: %v", err)
		} else if err != nil {
			return fmt.Errorf("creating %s: %w", name, err)
		}
		targets := []cluster.Node{nodes[1+i%(len(nodes)-1)]}
		if all {
			targets = nodes[1:]
		}
		began := time.Now()
		errs := make([]error, len(targets))
		var wg sync.WaitGroup
		for j, n := range targets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[j] = api.DownloadModel(ctx, n.API, name)
			}()
		}
		wg.Wait()
		took := time.Since(began)
		derr := errors.Join(errs...)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		if err := api.DeleteModel(cctx, nodes[0].API, name); err != nil {
			env.Warn("cleanup: model %s: %v", name, err)
		}
		cancel()
		if derr != nil {
			return fmt.Errorf("pulling %s: %w", name, derr)
		}
		if !began.Before(measureFrom) {
			aux.Op(opName).Shard(0).RecordDone(took.Nanoseconds(), time.Now().Before(end))
			bytes += size * int64(len(targets))
			pullTime += took
		}
	}
	measured := min(time.Since(measureFrom), env.Duration)
	aux.Tick(measureFrom.Add(measured))
	for _, o := range aux.Ops() {
		env.AddOperations(o.Snapshot(measured))
	}
	if pullTime > 0 {
		// Bytes the pulls delivered over the time they took (10^6 bytes per MB).
		env.Scalar("throughput_mb_per_s", float64(bytes)/1e6/pullTime.Seconds(), "MB/s")
	} else {
		env.Absent("throughput_mb_per_s", "MB/s", fmt.Sprintf("no pull started after the %v warm-up; lengthen execution.duration", env.Warmup))
	}
	return nil
}

// runBlobAccess reads 1 MiB ranges of a 16 MiB blob held by every node,
// from the nodes in turn.
func runBlobAccess(ctx context.Context, env *Env, c cluster.Cluster, clients int) error {
	ctl := env.FastClient(8)
	defer ctl.Close()
	api := env.API(ctl)
	nodes := bases(c)
	name := newKeySpace(env, 1).prefix + "blob"
	if !api.Has("blob_get") || !api.Has("model_download") {
		return Skip("the %s profile has no blob_get and model_download routes", env.Target.Name)
	}
	if err := api.CreateModel(ctx, nodes[0], name, 16<<20); errors.Is(err, ErrUnsupported) {
		return Skip("the target cannot create models: %v", err)
	} else if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := api.DeleteModel(cctx, nodes[0], name); err != nil {
			env.Warn("cleanup: model %s: %v", name, err)
		}
	}()
	for _, b := range nodes[1:] {
		if err := api.DownloadModel(ctx, b, name); err != nil {
			return err
		}
	}
	m, err := api.Model(ctx, nodes[0], name)
	if err != nil {
		return err
	}
	client := env.Client(clients) // net/http: Range headers, bodies of 1 MiB
	defer client.CloseIdleConnections()
	var next atomic.Uint64
	var received atomic.Int64 // body bytes of ranges answered inside the window
	res, err := env.Closed(ctx, clients, load.Operation{Name: "range_1MiB", Do: func(ctx context.Context) error {
		i := next.Add(1)
		call, err := api.Render("blob_get", nodes[int(i)%len(nodes)], target.Vars{Name: m.Digest})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, call.Method, call.URL, nil)
		if err != nil {
			return err
		}
		off := int64(i%16) << 20
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+(1<<20)-1))
		return load.Do(client, req, func(resp *http.Response) error {
			if resp.StatusCode != http.StatusPartialContent {
				return fmt.Errorf("a range request was answered with HTTP %d, not 206 Partial Content", resp.StatusCode)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil {
				return err
			}
			if n != 1<<20 {
				return fmt.Errorf("a 1 MiB range returned %d bytes", n)
			}
			if from, to, ok := load.Window(ctx); ok {
				if now := time.Now(); !now.Before(from) && now.Before(to) {
					received.Add(n)
				}
			}
			return nil
		})
	}})
	if err != nil {
		return err
	}
	// Bytes received in the window's ranges over the window (10^6 bytes per MB).
	env.Scalar("throughput_mb_per_s", float64(received.Load())/1e6/res.Measured().Seconds(), "MB/s")
	return nil
}
