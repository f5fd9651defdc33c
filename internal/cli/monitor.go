package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/monitor"
	"github.com/spf13/cobra"
)

func newMonitorCmd(a *app) *cobra.Command {
	var targets, address, profile string
	cmd := &cobra.Command{
		Use:   "monitor",
		Short: "Serve a live dashboard of a running cluster, with WebSocket updates and alerts",
		Long: `monitor watches a running cluster (its nodes' API URLs) and the host, every
monitor.interval: CPU (and steal), memory, network, node goroutines and heap, requests/s
and error rate (from the nodes' request counters), Raft ops/s, and probe
latency (avg, p95). It serves a dashboard at monitor.address, pushes every
reading to it over a WebSocket, evaluates monitor.alerts (metric, condition,
threshold, for, severity) and prints alerts as they fire and resolve. It also
serves /api/snapshot (JSON) and /metrics (Prometheus). Metrics a target does
not expose are shown as not measured.`,
		Example: `  odbench monitor --targets http://127.0.0.1:8081,http://127.0.0.1:8082
  odbench monitor --config configs/benchmark_config.yaml --address 127.0.0.1:9000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, keyErr, err := loadConfig(profile, a.configFile)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("targets") {
				cfg.Cluster.Targets = splitList(targets)
			}
			if cmd.Flags().Changed("address") {
				cfg.Monitor.Address = address
			}
			if err := errors.Join(keyErr, cfg.Validate()); err != nil {
				return usageError(fmt.Errorf("invalid configuration:\n%w", indent(err)))
			}
			if len(cfg.Cluster.Targets) == 0 {
				return usageError(errors.New("monitor watches a running cluster: pass its node API URLs with --targets (or cluster.targets)"))
			}
			ln, err := net.Listen("tcp", cfg.Monitor.Address)
			if err != nil {
				return usageError(fmt.Errorf("monitor.address: %w", err))
			}
			srv := monitor.NewServer(cmd.Context(), cfg.Cluster.Targets, cfg.Monitor, cmd.ErrOrStderr())
			srv.SetURL("http://" + ln.Addr().String() + "/")
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
			ctx := cmd.Context()
			go srv.Run(ctx)
			go func() {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				defer cancel()
				_ = hs.Shutdown(sctx)
			}()
			if exposed(ln.Addr().String()) {
				fmt.Fprintf(cmd.ErrOrStderr(), "odbench: warning: the dashboard listens on %s, beyond this machine, and has no authentication: anyone who reaches it sees the cluster's metrics\n", ln.Addr())
			}
			fmt.Fprintf(cmd.OutOrStdout(), "dashboard: http://%s/ (watching %s; Ctrl-C to stop)\n", ln.Addr(), strings.Join(cfg.Cluster.Targets, ", "))
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&targets, "targets", "", "comma-separated node API URLs of the cluster to watch")
	fl.StringVar(&address, "address", "", "listen address of the dashboard (default monitor.address, 127.0.0.1:8080)")
	fl.StringVar(&profile, "profile", "", "take monitor settings from a built-in profile")
	return cmd
}

// exposed reports whether a listen address (an IP, or host:port) reaches
// beyond this machine: anything but a loopback IP.
func exposed(addr string) bool {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
